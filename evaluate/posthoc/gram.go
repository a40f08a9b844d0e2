package posthoc

import "math"

// gram is OpenOOD's GRAMPostprocessor, scored from the column `t2f features
// --extra gram` computed with the network: the deviation Σ_l Σ_p
// δ_{l,p,ĉ}(x)/n_l of the image's Gram features (every convolution and ReLU
// module's output, powers 1..5) from the ID-train ranges of its predicted
// class ĉ = argmax of the logits (see features.GramStats and
// docs/posthoc.md). The score is −deviation / max softmax(logits), as
// OpenOOD's −deviations/confs. OpenOOD's sweep is the one setting powers
// [1..5], so its APS has nothing to choose and t2f runs none.
type gram struct{}

func (gram) Name() string          { return "gram" }
func (gram) Needs() Needs          { return Needs{Logits: true, Extra: []string{"gram"}} }
func (gram) Fit(in FitInput) error { return nil }

func (g gram) Score(d *Data) ([]float64, error) {
	if err := d.check(g.Name(), "scored data", false, true, false); err != nil {
		return nil, err
	}
	col, err := extraColumn(g.Name(), "scored data", d, "gram", 1, false)
	if err != nil {
		return nil, err
	}
	out := make([]float64, d.N)
	p := make([]float64, d.C)
	for i := range out {
		conf := maxSoftmax(d.Logits[i*d.C:(i+1)*d.C], p)
		out[i] = -float64(col[i]) / conf
	}
	return out, nil
}

// maxSoftmax is the largest softmax probability of z (p is scratch).
func maxSoftmax(z []float32, p []float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s, best float64
	for c, v := range z {
		p[c] = math.Exp(float64(v) - m)
		s += p[c]
		best = math.Max(best, p[c])
	}
	return best / s
}
