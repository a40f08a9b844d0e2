package posthoc

import "math"

// The Data.Extra layouts of the network methods, keyed by their `t2f
// features --extra` name (the caller assembles them from the extra-column
// file, see docs/features.md):
//
//	"odin", "iodin"            width len(ODINTemperatures)·len(ODINNoises): the confidence at each
//	                           (temperature, noise), temperature fastest; NaN where not computed
//	"rankfeat"                 width C: the fused logits (logits1 + logits2)/2
//	"adascale_a", "adascale_l" width D: the perturbed input's feature, in the feature's space
//	                           (f/τ in the scoring view of a T2FNorm model)
//	"mds_ensemble"             width len(MDSEnsembleNoises): the score at each noise; NaN where not computed
//	"gram"                     width 1: the normalised deviation Σ_l Σ_p δ_{l,p,ĉ}(x)/n_l
//	"gmm"                      width 1: the score log(Σ_k w_k·exp(−½ d_k) + 1e-45) (float32)
var (
	ODINTemperatures = []float64{1, 10, 100, 1000}
	ODINNoises       = []float64{0.0014, 0.0028}
)

// extraColumn returns d's Extra column key, checked to hold width values
// per row (finite unless allowNaN), or an error naming the --extra that
// makes it.
func extraColumn(method, what string, d *Data, key string, width int, allowNaN bool) ([]float32, error) {
	if d == nil {
		return nil, errorf("%s: %s is missing (nil)", method, what)
	}
	c, ok := d.Extra[key]
	if !ok || c.Values == nil {
		return nil, MissingExtra(method, what, Needs{Extra: []string{key}}, d)
	}
	if d.N <= 0 || c.Width != width || len(c.Values) != d.N*width {
		return nil, errorf("%s: %s column %q is %d values of width %d, want N×%d = %d×%d", method, what, key, len(c.Values), c.Width, width, d.N, width)
	}
	for i, v := range c.Values {
		if math.IsInf(float64(v), 0) || (!allowNaN && v != v) {
			return nil, errorf("%s: %s column %q of sample %d is %v", method, what, key, i/width, v)
		}
	}
	return c.Values, nil
}
