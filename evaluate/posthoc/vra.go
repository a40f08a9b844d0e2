package posthoc

// vra is VRA (OpenOOD VRAPostprocessor): θ_high and θ_low are numpy
// percentiles of all ID-val feature values; score = logsumexp(W·clip(f,
// θ_low, θ_high) + b). percentile_high default 90, sweep [85 90 95 99];
// percentile_low default 10, sweep [1 5 10 15]; APS on.
type vra struct {
	params
	head      linearHead
	sorted    []float64 // all ID-val feature values, sorted
	high, low float64
}

func newVRA() *vra {
	return &vra{params: newParams(
		Param{Name: "percentile_high", Default: 90, Sweep: []float64{85, 90, 95, 99}},
		Param{Name: "percentile_low", Default: 10, Sweep: []float64{1, 5, 10, 15}})}
}

func (*vra) Name() string { return "vra" }
func (*vra) Needs() Needs { return Needs{Feature: true, Head: true, Val: true, APS: true} }

func (r *vra) Fit(in FitInput) error {
	if err := in.Val.check("vra", "ID val", true, false, false); err != nil {
		return err
	}
	if err := r.head.load("vra", in.Head, in.Val.D); err != nil {
		return err
	}
	r.sorted = sortedCopy64(in.Val.Feature)
	r.thresholds()
	return nil
}

func (r *vra) thresholds() {
	r.high = percentileSorted(r.sorted, r.vals[0])
	r.low = percentileSorted(r.sorted, r.vals[1])
}

func (r *vra) Set(v ...float64) error {
	old := append([]float64(nil), r.vals...)
	if err := r.setVals("vra", v); err != nil {
		return err
	}
	for i, name := range []string{"percentile_high", "percentile_low"} {
		if err := percentParam("vra", name, v[i]); err != nil {
			copy(r.vals, old)
			return err
		}
	}
	if r.sorted != nil {
		r.thresholds()
	}
	return nil
}

// Thresholds reports the fitted clipping range [low, high].
func (r *vra) Thresholds() (low, high float64) { return r.low, r.high }

func (r *vra) Score(d *Data) ([]float64, error) {
	if err := r.head.scoreData("vra", d); err != nil {
		return nil, err
	}
	// torch.clip(min=low, max=high): max(x, low) first, then min with high.
	clip := func(row []float64) {
		for j, v := range row {
			row[j] = min(max(v, r.low), r.high)
		}
	}
	return energyOf(affineChunked(d.Feature, d.N, r.head.w, r.head.b, r.head.C, r.head.D, clip), d.N, r.head.C), nil
}
