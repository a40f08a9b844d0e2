package posthoc

import (
	"math"
)

// fdbd is fDBD: with ŷ = argmax z, denom[ŷ][c] = ‖w_c − w_ŷ‖₂ (1 on the
// diagonal), score = Σ_c |z_ŷ − z_c| / denom[ŷ][c] divided by
// ‖f − mean(f_train)‖₂ (distance_as_normalizer True) or by ‖f‖₂ (False).
// distance_as_normalizer default True, sweep [True False]; APS on (the
// OpenOOD class forces it).
type fdbd struct {
	params
	head  linearHead
	mean  []float64
	denom []float64 // C×C
}

func newFDBD() *fdbd {
	return &fdbd{params: newParams(Param{Name: "distance_as_normalizer", Default: 1, Sweep: []float64{1, 0}, Bool: true})}
}

func (*fdbd) Name() string { return "fdbd" }
func (*fdbd) Needs() Needs {
	return Needs{Feature: true, Logits: true, Head: true, Train: true, APS: true}
}

func (f *fdbd) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("fdbd", "ID train", true, false, false); err != nil {
		return err
	}
	if err := f.head.load("fdbd", in.Head, t.D); err != nil {
		return err
	}
	C, D := f.head.C, f.head.D
	f.mean = colMeans(t.Feature, t.N, D)
	f.denom = make([]float64, C*C)
	for p := 0; p < C; p++ {
		for c := 0; c < C; c++ {
			if c == p {
				f.denom[p*C+c] = 1
				continue
			}
			var s float64
			for j := 0; j < D; j++ {
				x := f.head.w[c*D+j] - f.head.w[p*D+j]
				s += x * x
			}
			f.denom[p*C+c] = math.Sqrt(s)
		}
	}
	return nil
}

func (f *fdbd) Set(v ...float64) error {
	old := f.vals[0]
	if err := f.setVals("fdbd", v); err != nil {
		return err
	}
	if v[0] != 0 && v[0] != 1 {
		f.vals[0] = old
		return errorf("fdbd: distance_as_normalizer = %v, want 1 (True) or 0 (False)", v[0])
	}
	return nil
}

func (f *fdbd) Score(d *Data) ([]float64, error) {
	if f.mean == nil {
		return nil, errNotFitted("fdbd")
	}
	if err := d.check("fdbd", "scored data", true, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("fdbd", "scored data", f.head.D, f.head.C); err != nil {
		return nil, err
	}
	C, D := f.head.C, f.head.D
	byDist := f.vals[0] != 0
	out := make([]float64, d.N)
	for i := range out {
		z := d.Logits[i*C : (i+1)*C]
		p := argmax32(z)
		zp := float64(z[p])
		var num float64
		for c, v := range z {
			num += math.Abs(float64(v)-zp) / f.denom[p*C+c]
		}
		var n2 float64
		for j, v := range d.Feature[i*D : (i+1)*D] {
			x := float64(v)
			if byDist {
				x -= f.mean[j]
			}
			n2 += x * x
		}
		out[i] = num / math.Sqrt(n2)
	}
	return out, nil
}

// she is SHE with the inner-product metric: m_c = mean of the ID-train
// features whose label is c and whose prediction (argmax of the train
// logits) is c; score = f·m_ŷ with ŷ = argmax z. No hyper-parameters; APS
// off.
//
// A class with no correctly predicted ID-train sample has no pattern (NaN
// in OpenOOD); as there, that matters only for samples predicted as that
// class, and Score returns an error naming the sample and class.
type she struct {
	D, C      int
	patterns  []float64 // C×D
	undefined []bool    // C: no pattern
}

func (*she) Name() string { return "she" }
func (*she) Needs() Needs {
	return Needs{Feature: true, Logits: true, Train: true, TrainLabels: true}
}

func (s *she) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("she", "ID train", true, true, true); err != nil {
		return err
	}
	D, C := t.D, t.C
	pat := make([]float64, C*D)
	cnt := make([]int, C)
	for i := 0; i < t.N; i++ {
		c := int(t.Labels[i])
		if argmax32(t.Logits[i*C:(i+1)*C]) != c {
			continue
		}
		cnt[c]++
		for j, v := range t.Feature[i*D : (i+1)*D] {
			pat[c*D+j] += float64(v)
		}
	}
	undef := make([]bool, C)
	for c := 0; c < C; c++ {
		undef[c] = cnt[c] == 0
		for j := 0; j < D; j++ {
			pat[c*D+j] /= float64(max(cnt[c], 1))
		}
	}
	s.D, s.C, s.patterns, s.undefined = D, C, pat, undef
	return nil
}

func (s *she) Score(d *Data) ([]float64, error) {
	if s.patterns == nil {
		return nil, errNotFitted("she")
	}
	if err := d.check("she", "scored data", true, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("she", "scored data", s.D, s.C); err != nil {
		return nil, err
	}
	D, C := s.D, s.C
	out := make([]float64, d.N)
	for i := range out {
		p := argmax32(d.Logits[i*C : (i+1)*C])
		if s.undefined[p] {
			return nil, errorf("she: scored sample %d is predicted as class %d, which no ID-train sample of is predicted correctly: its stored pattern is undefined (NaN in OpenOOD)", i, p)
		}
		var v float64
		for j, x := range d.Feature[i*D : (i+1)*D] {
			v += float64(x) * s.patterns[p*D+j]
		}
		out[i] = v
	}
	return out, nil
}
