package features

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/t2f/t2f/formats/safetensors"
)

// HeadFileName is the name of the head file in a features directory.
const HeadFileName = "head.safetensors"

// Head kinds: the values of Head.Kind and Meta.Head (the "head" metadata
// of feature and head files). They are the names train/nn gives its heads
// (nn.HeadLinear, nn.HeadT2FNorm; a test checks they agree), spelled here so
// that readers of feature files need not import the training engine.
const (
	HeadLinear  = "linear"  // cross-entropy baseline: logits = logits_ood = W·f + b
	HeadT2FNorm = "t2fnorm" // T2FNorm: logits = W·f/‖f‖/τ + b, logits_ood = W·f/τ + b
)

// HeadVersion is the value of the "t2f_head_version" metadata key written
// by WriteHead and the only one ReadHead accepts.
const HeadVersion = "1"

// The head file's layout: its tensors and its version key. Its other
// metadata keys are the feature files' (keyHead, keyModel, keyWidth,
// keyClasses, keyCheckpoint).
const (
	keyHeadVersion = "t2f_head_version"
	headWeight     = "fc.weight"
	headBias       = "fc.bias"
	headTau        = "tau"
)

// Head is the classifier's final linear layer, enough to recompute both
// forwards from a feature f: logits = W·f/max(‖f‖, 1e-12)/τ + b (T2FNorm,
// training forward), logits_ood = W·f/τ + b; for a linear head τ = 1 and
// both are W·f + b.
type Head struct {
	Kind             string   // HeadT2FNorm or HeadLinear, as Meta.Head
	Model            string   // as Meta.Model
	Width            float64  // as Meta.Width
	Classes          []string // as Meta.Classes; nil or NumClasses names
	CheckpointSHA256 string   // as Meta.CheckpointSHA256
	Dim, NumClasses  int      // D and C
	Weight           []float32
	Bias             []float32
	Tau              float64 // τ > 0 (1 for a linear head)
}

// Linear returns W (C×D row-major) and b (C values), so that logits =
// W·f + b; it makes a *Head a posthoc.Head.
func (h *Head) Linear() (w, b []float32) { return h.Weight, h.Bias }

// Check verifies the head's shapes and values.
func (h *Head) Check() error {
	switch {
	case h.Dim < 1 || h.NumClasses < 1:
		return fmt.Errorf("features: head has D %d and C %d, want both ≥ 1", h.Dim, h.NumClasses)
	case len(h.Weight) != h.NumClasses*h.Dim:
		return fmt.Errorf("features: head weight has %d values, want C×D = %d×%d", len(h.Weight), h.NumClasses, h.Dim)
	case len(h.Bias) != h.NumClasses:
		return fmt.Errorf("features: head bias has %d values, want C = %d", len(h.Bias), h.NumClasses)
	case !(h.Tau > 0) || math.IsInf(h.Tau, 0):
		return fmt.Errorf("features: head tau %v, want a finite value > 0", h.Tau)
	case h.Kind == "":
		return fmt.Errorf("features: head has no kind, want %q or %q", HeadT2FNorm, HeadLinear)
	case len(h.Classes) != 0 && len(h.Classes) != h.NumClasses:
		return fmt.Errorf("features: head names %d classes, C = %d", len(h.Classes), h.NumClasses)
	}
	if i := firstNonFinite(h.Weight); i >= 0 {
		return fmt.Errorf("features: head weight [%d, %d] = %v is not finite", i/h.Dim, i%h.Dim, h.Weight[i])
	}
	if i := firstNonFinite(h.Bias); i >= 0 {
		return fmt.Errorf("features: head bias [%d] = %v is not finite", i, h.Bias[i])
	}
	return nil
}

// WriteHead writes h to dir/head.safetensors, atomically:
//
//	fc.weight  F32 [C, D]
//	fc.bias    F32 [C]
//	tau        F64 []
//
// with metadata t2f_head_version, head, model, width, classes (JSON) and
// checkpoint_sha256.
func WriteHead(dir string, h Head) error {
	path := filepath.Join(dir, HeadFileName)
	if err := h.Check(); err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	classes := h.Classes
	if classes == nil {
		classes = []string{}
	}
	cj, err := json.Marshal(classes)
	if err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	tensors := []safetensors.Tensor{
		safetensors.FromFloat32s(headWeight, []int{h.NumClasses, h.Dim}, h.Weight),
		safetensors.FromFloat32s(headBias, []int{h.NumClasses}, h.Bias),
		safetensors.FromFloat64s(headTau, nil, []float64{h.Tau}),
	}
	meta := map[string]string{
		keyHeadVersion: HeadVersion,
		keyHead:        h.Kind,
		keyModel:       h.Model,
		keyWidth:       strconv.FormatFloat(h.Width, 'g', -1, 64),
		keyClasses:     string(cj),
		keyCheckpoint:  h.CheckpointSHA256,
	}
	if err := safetensors.Write(path, tensors, meta); err != nil {
		return fmt.Errorf("features: write head: %w", err)
	}
	return nil
}

// ReadHead reads and checks dir/head.safetensors.
func ReadHead(dir string) (*Head, error) {
	path := filepath.Join(dir, HeadFileName)
	h, err := readHead(path)
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	return h, nil
}

func readHead(path string) (*Head, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	if v := f.Metadata[keyHeadVersion]; v != HeadVersion {
		return nil, fmt.Errorf("metadata %s is %q, this t2f reads version %q", keyHeadVersion, v, HeadVersion)
	}
	h := &Head{Kind: f.Metadata[keyHead], Model: f.Metadata[keyModel], CheckpointSHA256: f.Metadata[keyCheckpoint]}
	if h.Width, err = strconv.ParseFloat(f.Metadata[keyWidth], 64); err != nil {
		return nil, fmt.Errorf("metadata %s %q: %w", keyWidth, f.Metadata[keyWidth], err)
	}
	if err := json.Unmarshal([]byte(f.Metadata[keyClasses]), &h.Classes); err != nil {
		return nil, fmt.Errorf("metadata %s %q: want a JSON array of strings: %w", keyClasses, f.Metadata[keyClasses], err)
	}
	if len(h.Classes) == 0 {
		h.Classes = nil
	}
	if names := f.Names(); len(names) != 3 || !f.Has(headWeight) || !f.Has(headBias) || !f.Has(headTau) {
		return nil, fmt.Errorf("tensors %q, want exactly %s, %s and %s", names, headWeight, headBias, headTau)
	}
	w, _ := f.Tensor(headWeight)
	b, _ := f.Tensor(headBias)
	tau, _ := f.Tensor(headTau)
	if len(w.Shape) != 2 || len(b.Shape) != 1 || len(tau.Shape) != 0 || b.Shape[0] != w.Shape[0] {
		return nil, fmt.Errorf("%s %v, %s %v, %s %v: want [C D], [C], []", headWeight, w.Shape, headBias, b.Shape, headTau, tau.Shape)
	}
	h.NumClasses, h.Dim = w.Shape[0], w.Shape[1]
	if h.Weight, err = w.Float32s(); err != nil {
		return nil, err
	}
	if h.Bias, err = b.Float32s(); err != nil {
		return nil, err
	}
	tv, err := tau.Float64s()
	if err != nil {
		return nil, err
	}
	h.Tau = tv[0]
	if err := h.Check(); err != nil {
		return nil, err
	}
	return h, nil
}

// checkMatches returns an error when the head and the feature file info do
// not come from the same checkpoint and model.
func (h *Head) checkMatches(info FileInfo) error {
	m := info.Meta
	switch {
	case h.CheckpointSHA256 != m.CheckpointSHA256:
		return fmt.Errorf("features: %s comes from checkpoint SHA-256 %s, %q from %s; extract features and head together",
			HeadFileName, h.CheckpointSHA256, info.Path, m.CheckpointSHA256)
	case h.Dim != info.Dim || h.NumClasses != info.NumClasses:
		return fmt.Errorf("features: %s has D %d, C %d, %q has D %d, C %d", HeadFileName, h.Dim, h.NumClasses, info.Path, info.Dim, info.NumClasses)
	case h.Kind != m.Head || h.Tau != m.Tau || h.Model != m.Model || h.Width != m.Width:
		return fmt.Errorf("features: %s is %s τ=%g of %s ×%g, %q says %s τ=%g of %s ×%g", HeadFileName,
			h.Kind, h.Tau, h.Model, h.Width, info.Path, m.Head, m.Tau, m.Model, m.Width)
	case !slices.Equal(h.Classes, m.Classes):
		return fmt.Errorf("features: %s names classes %q, %q names %q", HeadFileName, h.Classes, info.Path, m.Classes)
	}
	return nil
}
