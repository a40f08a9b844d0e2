package features

// Meta is what a feature file records about where its rows came from. It is
// stored as Parquet key/value file metadata.
type Meta struct {
	Dataset string  // dataset name, e.g. "mnist", "fashionmnist", "notmnist"
	Split   string  // "train", "val", "test", "ood_val", ...
	Model   string  // e.g. "lenet", "resnet18_32x32"
	Width   float64 // the model's width multiplier (1 = as published)
	Head    string  // HeadT2FNorm or HeadLinear
	Tau     float64 // τ of the T2FNorm head (1 for a linear head)
	// Method is the training method the checkpoint records (ce, t2fnorm,
	// logitnorm, oe, t2fnorm+oe); "" when it records none (a PyTorch
	// state_dict, or a checkpoint from before t2f recorded it).
	Method           string
	Classes          []string // class names of the ID dataset, index = class id
	CheckpointSHA256 string   // hex SHA-256 of the checkpoint file that produced the rows
}

// Table is one feature file in memory: N rows of one dataset split, column
// by column. Matrices are row-major float32: Feature and FeatureNormalized
// are N×Dim, Logits and LogitsOOD are N×NumClasses.
type Table struct {
	Meta       Meta
	Dim        int // penultimate feature dimension D
	NumClasses int // classifier outputs C

	IDs    []int64 // the shard's sample id
	Labels []int32 // class index, −1 for OOD
	Preds  []int32 // argmax of Logits (the plain / training forward)

	Feature           []float32 // f, N×D
	FeatureNormalized []float32 // f/max(‖f‖₂, 1e-12), N×D
	FeatureNorm       []float32 // ‖f‖₂, N
	Logits            []float32 // training forward: W·f/‖f‖/τ + b (T2FNorm) or W·f + b (linear), N×C
	LogitsOOD         []float32 // OOD-inference forward: W·f/τ + b (T2FNorm) or W·f + b (linear), N×C
}

// Len is the number of rows.
func (t *Table) Len() int { return len(t.IDs) }

// Slice returns rows [lo, hi) of t, sharing t's storage.
func (t *Table) Slice(lo, hi int) *Table {
	d, c := t.Dim, t.NumClasses
	return &Table{Meta: t.Meta, Dim: d, NumClasses: c,
		IDs: t.IDs[lo:hi], Labels: t.Labels[lo:hi], Preds: t.Preds[lo:hi],
		Feature: t.Feature[lo*d : hi*d], FeatureNormalized: t.FeatureNormalized[lo*d : hi*d],
		FeatureNorm: t.FeatureNorm[lo:hi], Logits: t.Logits[lo*c : hi*c], LogitsOOD: t.LogitsOOD[lo*c : hi*c]}
}

// appendRows appends s's rows to t (same Dim and NumClasses).
func (t *Table) appendRows(s *Table) {
	t.IDs = append(t.IDs, s.IDs...)
	t.Labels = append(t.Labels, s.Labels...)
	t.Preds = append(t.Preds, s.Preds...)
	t.Feature = append(t.Feature, s.Feature...)
	t.FeatureNormalized = append(t.FeatureNormalized, s.FeatureNormalized...)
	t.FeatureNorm = append(t.FeatureNorm, s.FeatureNorm...)
	t.Logits = append(t.Logits, s.Logits...)
	t.LogitsOOD = append(t.LogitsOOD, s.LogitsOOD...)
}

// truncate empties t, keeping its storage.
func (t *Table) truncate() {
	t.IDs, t.Labels, t.Preds = t.IDs[:0], t.Labels[:0], t.Preds[:0]
	t.Feature, t.FeatureNormalized, t.FeatureNorm = t.Feature[:0], t.FeatureNormalized[:0], t.FeatureNorm[:0]
	t.Logits, t.LogitsOOD = t.Logits[:0], t.LogitsOOD[:0]
}
