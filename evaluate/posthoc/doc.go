// Package posthoc implements the post-hoc OOD scoring methods of OpenOOD v1.5
// that need only penultimate features, logits, the classifier head and ID
// train/val features: msp, t2fnorm, mls, ebo, react, ash, scale, dice, knn,
// mds, rmds, vim, gen, klm, temp_scaling, fdbd, gradnorm, she, nnguide,
// residual, nci, vra, relation, cfood, openmax and ensemble (several runs'
// logits, Data.Members) — and the network methods whose inputs the feature
// stage computes (Needs.Extra, Data.Extra) — with OpenOOD's default
// hyper-parameters and its automatic hyper-parameter search (APS, see
// Search). OutOfScope lists the OpenOOD post-processors that need a
// specially trained network. Methods that detect a condition under which
// their scores may differ from OpenOOD's implement Warner.
//
// Data layout: a Data holds N samples of one split. Feature is N×D and Logits
// N×C, both row-major float32; Labels holds the class index, −1 for OOD (nil
// where a method does not need labels). A Head gives the final linear layer: W
// is C×D row-major, b has C entries, so logits = W·f + b.
//
// The caller passes the "scoring view" of a model. For a plain (linear-head)
// model that is its feature f and logits W·f + b. For a T2FNorm model it is
// the feature f/τ and the OOD-inference logits W·f/τ + b (the feature table's
// logits_ood column), so every method sees a consistent pair (logits =
// W·feature + b). The t2fnorm method is MSP on the logits it is given; the
// caller passes logits_ood for it. Nothing here knows about head kinds beyond
// that.
//
// Scores follow OpenOOD's convention: higher = more in-distribution.
//
// Concurrency: Fit and Tunable.Set change a Scorer; after them, Score only
// reads it and may be called from several goroutines at once. Score never
// modifies the Data it is given; Fit keeps references to the ID-train data of
// methods that re-derive statistics on Set (ViM, NNGuide), so the caller must
// not modify those slices while the Scorer is in use.
// Arithmetic is float64 except where OpenOOD's float32 creates ties: softmax
// probabilities (msp, t2fnorm, temp_scaling, gen, klm) are float32 like
// torch's, so confident samples score exactly 1 as in OpenOOD; KNN and
// NNGuide inner products are float32 GEMMs, as in faiss.
package posthoc
