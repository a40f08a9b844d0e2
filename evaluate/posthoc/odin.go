package posthoc

import "slices"

// odin is ODIN (and, named "iodin", IODIN) scored from the column `t2f
// features --extra odin` (iodin) computed with the network: for each
// (temperature, noise) of the grid (ODINTemperatures × ODINNoises), the max softmax of the perturbed
// input's logits divided by the temperature (see features.ComputeExtra and
// docs/posthoc.md). Score reads the column of the current setting.
// temperature default 1000, noise 0.0014; sweep temperature [1 10 100 1000]
// × noise [0.0014 0.0028]; APS on.
type odin struct {
	params
	name string
}

func newODIN(name string) *odin {
	return &odin{name: name, params: newParams(
		Param{Name: "temperature", Default: 1000, Sweep: ODINTemperatures},
		Param{Name: "noise", Default: 0.0014, Sweep: ODINNoises},
	)}
}

func (o *odin) Name() string          { return o.name }
func (o *odin) Needs() Needs          { return Needs{APS: true, Extra: []string{o.name}} }
func (o *odin) Fit(in FitInput) error { return nil }
func (o *odin) Set(v ...float64) error {
	old := slices.Clone(o.vals)
	if err := o.setVals(o.name, v); err != nil {
		return err
	}
	if v[0] <= 0 || v[1] < 0 {
		copy(o.vals, old)
		return errorf("%s: temperature %v and noise %v, want > 0 and ≥ 0", o.name, v[0], v[1])
	}
	return nil
}
func (o *odin) Score(d *Data) ([]float64, error) {
	nt, nn := len(ODINTemperatures), len(ODINNoises)
	it, in := slices.Index(ODINTemperatures, o.vals[0]), slices.Index(ODINNoises, o.vals[1])
	if it < 0 || in < 0 {
		return nil, errorf("%s: %v is not in the grid `t2f features --extra %s` computes (temperature %v × noise %v): %w",
			o.name, o.Setting(), o.name, ODINTemperatures, ODINNoises, ErrNotApplicable)
	}
	col, err := extraColumn(o.name, "scored data", d, o.name, nt*nn, true)
	if err != nil {
		return nil, err
	}
	k := in*nt + it
	out := make([]float64, d.N)
	for i := range out {
		v := col[i*nt*nn+k]
		if v != v {
			return nil, errorf("%s: %v was not computed for sample %d (rerun `t2f features --extra %s` with the whole grid): %w",
				o.name, o.Setting(), i, o.name, ErrNotApplicable)
		}
		out[i] = float64(v)
	}
	return out, nil
}
