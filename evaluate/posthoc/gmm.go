package posthoc

// gmm is OpenOOD's GMMPostprocessor in its default configuration
// (configs/postprocessors/gmm.yml), scored from the column `t2f features
// --extra gmm` computed with the network: log(Σ_k w_k·exp(−½ d_k) +
// 1e-45) in float32, d_k the Mahalanobis distance under the tied precision
// of layer2's flattened map projected on PCA(50), with the 50-component GMM
// fitted on ID train (see features.GMMStats and docs/posthoc.md). α = [0,
// 0, 1]: the two other layers' terms are 0·(a finite log-density) = 0, so
// the column is the score. No hyper-parameters; APS off.
type gmm struct{}

func (gmm) Name() string          { return "gmm" }
func (gmm) Needs() Needs          { return Needs{Extra: []string{"gmm"}} }
func (gmm) Fit(in FitInput) error { return nil }
func (g gmm) Score(d *Data) ([]float64, error) {
	col, err := extraColumn(g.Name(), "scored data", d, "gmm", 1, false)
	if err != nil {
		return nil, err
	}
	out := make([]float64, d.N)
	for i, v := range col {
		out[i] = float64(v)
	}
	return out, nil
}
