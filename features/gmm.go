package features

import (
	"errors"
	"fmt"
	"math"
)

// gmm's default configuration in OpenOOD v1.5 (configs/postprocessors/
// gmm.yml): of feature_list's layers [stat, mean, flat] with alpha
// [0, 0, 1] only the third counts — feature_list[2], layer2's output on
// ResNet18_32x32 (stage 2), flattened, reduced by PCA(50) and modelled by a
// 50-component tied-covariance GMM fitted on ID train.
const (
	GMMStage      = 2
	GMMDim        = 50
	GMMComponents = 50
)

// ColGMMScore is gmm's column: log(Σ_k w_k·exp(−½ d_k) + 1e-45), float32.
const ColGMMScore = "gmm_score"

// GMMStats are gmm's ID-train statistics of one stage's flattened map (In
// values per image) as OpenOOD's scoring reads them, float32 (torch.Tensor
// of the float64 fit): the projection Transform (In×Dim, PCA components as
// columns), the component means (Components×Dim), the shared precision
// (Dim×Dim) and the weights. `t2f features` fits them on the ID train split
// first (TrainStageRows, then posthoc.FitGMMLayer, NewGMMStats).
type GMMStats struct {
	Stage, In, Dim, Components int
	Transform                  []float32
	Means                      []float32
	Precision                  []float32
	Weights                    []float32
}

// NewGMMStats rounds a fit to float32: components is Dim×In (PCA's rows,
// transposed into Transform), means Components×Dim, precision Dim×Dim,
// weights Components.
func NewGMMStats(stage, in, dim, k int, components, means, precision, weights []float64) (*GMMStats, error) {
	if len(components) != dim*in || len(means) != k*dim || len(precision) != dim*dim || len(weights) != k {
		return nil, fmt.Errorf("features: gmm: %d component values, %d means, a precision of %d and %d weights; want %d×%d, %d×%d, %d×%d and %d",
			len(components), len(means), len(precision), len(weights), dim, in, k, dim, dim, dim, k)
	}
	st := &GMMStats{Stage: stage, In: in, Dim: dim, Components: k,
		Transform: make([]float32, in*dim), Means: f32(means), Precision: f32(precision), Weights: f32(weights)}
	for c := range dim {
		for j := range in {
			st.Transform[j*dim+c] = float32(components[c*in+j])
		}
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("features: gmm: %w", err)
	}
	return st, nil
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func (st *GMMStats) check() error {
	switch {
	case st == nil:
		return errors.New("no ID-train statistics (PCA and Gaussian mixture of the stage map): fit them on the ID train split first")
	case st.In <= 0 || st.Dim <= 0 || st.Components <= 0:
		return fmt.Errorf("statistics of %d components in %d of %d dimensions, want all > 0", st.Components, st.Dim, st.In)
	case len(st.Transform) != st.In*st.Dim || len(st.Means) != st.Components*st.Dim ||
		len(st.Precision) != st.Dim*st.Dim || len(st.Weights) != st.Components:
		return fmt.Errorf("a transform of %d values, %d means, a precision of %d and %d weights; want %d×%d, %d×%d, %d×%d and %d",
			len(st.Transform), len(st.Means), len(st.Precision), len(st.Weights), st.In, st.Dim, st.Components, st.Dim, st.Dim, st.Dim, st.Components)
	}
	for _, s := range [][]float32{st.Transform, st.Means, st.Precision, st.Weights} {
		for _, v := range s {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("statistic %v", v)
			}
		}
	}
	return nil
}

// score is OpenOOD's compute_GMM_score for one image's flattened map f and
// the log of gmm's postprocess: p = f·Transform (float32, as torch.mm; here
// accumulated in float64 and rounded), z_k = p − μ_k (float32), t_k =
// −½ z_kᵀPz_k rounded to float32, e_k = exp(t_k) in float32 — 0 below
// about −104, denormal down to 1.4e-45 as torch's exp —, prob = Σ_k w_k·e_k
// (float32 products and sum), and log(prob + 1e-45) in float32, where 1e-45
// is torch's float32 rounding of it, 1.4e-45: an image far from every
// component scores log(1.4e-45) = −103.28 exactly, as in OpenOOD. proj
// (Dim) and z (Dim, float64) are scratch.
func (st *GMMStats) score(f []float32, proj []float32, acc, z []float64) float32 {
	D := st.Dim
	clear(acc)
	for j, v := range f {
		if v == 0 {
			continue
		}
		fv := float64(v)
		row := st.Transform[j*D : (j+1)*D]
		for c, t := range row {
			acc[c] += fv * float64(t)
		}
	}
	for c, v := range acc {
		proj[c] = float32(v)
	}
	var prob float32
	for k := range st.Components {
		mu := st.Means[k*D : (k+1)*D]
		for c := range D {
			z[c] = float64(proj[c] - mu[c])
		}
		var q float64
		for a := range D {
			row := st.Precision[a*D : (a+1)*D]
			var s float64
			for b, p := range row {
				s += float64(p) * z[b]
			}
			q += z[a] * s
		}
		t := float32(-0.5 * q)
		e := float32(math.Exp(float64(t)))
		prob += float32(st.Weights[k] * e) // rounded product, no fused multiply-add
	}
	return float32(math.Log(float64(prob + math.SmallestNonzeroFloat32)))
}

// gmm computes the gmm column of one batch.
func (w *extraWork) gmm(x []float32, n int) error {
	st := w.spec.GMM
	c, h, ww, err := w.net.StageShape(st.Stage)
	if err != nil {
		return fmt.Errorf("gmm: %w", err)
	}
	per := c * h * ww
	if per != st.In {
		return fmt.Errorf("gmm: stage %d has %d×%d×%d = %d values per image, the ID-train statistics %d", st.Stage, c, h, ww, per, st.In)
	}
	maps := grow(&w.maps[0], n*per)
	if err := w.net.StageMaps(x, n, []int{st.Stage}, [][]float32{maps}); err != nil {
		return fmt.Errorf("gmm: %w", err)
	}
	col := make([]float32, n)
	proj := make([]float32, st.Dim)
	acc, z := make([]float64, st.Dim), make([]float64, st.Dim)
	for i := range n {
		col[i] = st.score(maps[i*per:(i+1)*per], proj, acc, z)
	}
	w.appendCol(ColGMMScore, col)
	return nil
}
