package posthoc

import "math"

// nci is NCI (OpenOOD NCIPostprocessor): with ŷ = argmax z, μ = mean ID-train
// feature and w_ŷ the head row of ŷ, score = ⟨w_ŷ, f − μ⟩ / ‖f − μ‖₂ +
// α·‖f‖₁. alpha default 0.0001, sweep [0.0001 0.001 0.01 0.1]; APS on.
type nci struct {
	params
	head linearHead
	mean []float64
}

func newNCI() *nci {
	return &nci{params: newParams(Param{Name: "alpha", Default: 0.0001, Sweep: []float64{0.0001, 0.001, 0.01, 0.1}})}
}

func (*nci) Name() string { return "nci" }
func (*nci) Needs() Needs {
	return Needs{Feature: true, Logits: true, Head: true, Train: true, APS: true}
}

func (m *nci) Fit(in FitInput) error {
	if err := in.Train.check("nci", "ID train", true, false, false); err != nil {
		return err
	}
	if err := m.head.load("nci", in.Head, in.Train.D); err != nil {
		return err
	}
	m.mean = colMeans(in.Train.Feature, in.Train.N, in.Train.D)
	return nil
}

func (m *nci) Set(v ...float64) error { return m.setVals("nci", v) }

func (m *nci) Score(d *Data) ([]float64, error) {
	if m.mean == nil {
		return nil, errNotFitted("nci")
	}
	if err := d.check("nci", "scored data", true, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("nci", "scored data", m.head.D, m.head.C); err != nil {
		return nil, err
	}
	D, C, alpha := d.D, d.C, m.vals[0]
	out := make([]float64, d.N)
	for i := range out {
		f := d.Feature[i*D : (i+1)*D]
		w := m.head.w[argmax32(d.Logits[i*C:(i+1)*C])*D:]
		var dot, sq, l1 float64
		for j, v := range f {
			x := float64(v) - m.mean[j]
			dot += w[j] * x
			sq += x * x
			l1 += math.Abs(float64(v))
		}
		out[i] = dot/math.Sqrt(sq) + alpha*l1
	}
	return out, nil
}
