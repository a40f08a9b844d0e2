package posthoc

import "slices"

// ensemble is OpenOOD's EnsemblePostprocessor: the members' logits are
// averaged (float32, summed in member order, then divided by the count) and
// score = max_c softmax(mean)_c in float32. The members are several trained
// runs of one architecture (Data.Members); no hyper-parameters, APS off.
type ensemble struct{}

func (*ensemble) Name() string          { return "ensemble" }
func (*ensemble) Needs() Needs          { return Needs{Members: true} }
func (*ensemble) Fit(in FitInput) error { return nil }

func (*ensemble) Score(d *Data) ([]float64, error) {
	if d == nil {
		return nil, errorf("ensemble: scored data is missing (nil)")
	}
	if len(d.Members) < 1 {
		return nil, errorf("ensemble: scored data has no member logits (give the runs of the ensemble)")
	}
	if d.N <= 0 || d.C <= 0 {
		return nil, errorf("ensemble: scored data has N=%d samples and C=%d classes, want > 0", d.N, d.C)
	}
	for m, z := range d.Members {
		if len(z) != d.N*d.C {
			return nil, errorf("ensemble: member %d has %d logits, want N×C = %d×%d", m, len(z), d.N, d.C)
		}
		if i := firstNonFinite(z); i >= 0 {
			return nil, errorf("ensemble: member %d logit of sample %d (class %d) is %v", m, i/d.C, i%d.C, z[i])
		}
	}
	C, k := d.C, float32(len(d.Members))
	mean := make([]float32, C)
	p := make([]float32, C)
	out := make([]float64, d.N)
	for i := range out {
		clear(mean)
		for _, z := range d.Members {
			for c, v := range z[i*C : (i+1)*C] {
				mean[c] += v
			}
		}
		for c := range mean {
			mean[c] /= k
		}
		softmax32(p, mean, 1)
		out[i] = float64(slices.Max(p))
	}
	return out, nil
}
