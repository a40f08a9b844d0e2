package posthoc

import (
	"math"
	"slices"
	"sort"
)

// adaScale is AdaScale (OpenOOD's AdaScalePostprocessor with AdaScaleANet,
// "adascale_a", or AdaScaleLNet, "adascale_l") scored from the feature f and
// the perturbed input's feature f' that `t2f features --extra adascale_a`
// computed with the network. With shift = |f − f'|, I₁ the top-k1 indices
// of f and I₂ its top-k2 (k = int(D·k%/100)):
//
//	Q(x) = Σ_{I₁} relu(f')  + λ·Σ_{I₂} shift              (float32 sums)
//	percent = 1 − ECDF_val(Q)   (the ECDF of Q over ID val, statsmodels' ECDF: #{q ≤ x}/n)
//	p = lo + percent·(hi − lo)
//	s = Σ relu(f) / Σ_{top (D − round(D·p/100))} relu(f)
//	adascale_a: score = logsumexp(W·(f·e^s) + b);  adascale_l: logsumexp((W·f + b)·s²)
//
// percentile default [75, 85] (the pair is one value lo + hi/1000: 75.085),
// sweep OpenOOD's 36 pairs; k1 5, k2 1, lambda 10, o 0.05 (o is fixed at
// extraction: features.AdaScaleFraction). APS on. OpenOOD keeps a random
// subset of 5000 ID val samples for the ECDF; t2f keeps the first 5000
// (the same when ID val has at most 5000 samples).
type adaScale struct {
	params
	name   string
	logit  bool
	head   linearHead
	val    []float32 // ID val features (scoring view)
	valPer []float32 // their perturbed features
	D      int
	ecdf   []float64 // sorted Q of ID val at the current k1, k2, λ
}

// adaScalePairs is OpenOOD's percentile_list, encoded lo + hi/1000.
var adaScalePairs = func() []float64 {
	var out []float64
	for _, lo := range []float64{60, 65, 70, 75, 80, 85, 90, 95} {
		for _, hi := range []float64{65, 70, 75, 80, 85, 90, 95, 99} {
			if hi > lo {
				out = append(out, lo+hi/1000)
			}
		}
	}
	return out
}()

const adaScaleSamples = 5000

func newAdaScale(name string, logit bool) *adaScale {
	return &adaScale{name: name, logit: logit, params: newParams(
		Param{Name: "percentile", Default: 75.085, Sweep: adaScalePairs},
		Param{Name: "k1", Default: 5, Sweep: []float64{5}},
		Param{Name: "k2", Default: 1, Sweep: []float64{1}},
		Param{Name: "lmbda", Default: 10, Sweep: []float64{10}},
		Param{Name: "o", Default: 0.05, Sweep: []float64{0.05}},
	)}
}

func (a *adaScale) Name() string { return a.name }
func (a *adaScale) Needs() Needs {
	return Needs{Feature: true, Head: true, Val: true, APS: true, Extra: []string{a.name}}
}

func (a *adaScale) pair() (lo, hi float64) {
	lo = math.Floor(a.vals[0])
	return lo, math.Round((a.vals[0] - lo) * 1000)
}

func (a *adaScale) Set(v ...float64) error {
	old := slices.Clone(a.vals)
	if err := a.setVals(a.name, v); err != nil {
		return err
	}
	lo, hi := a.pair()
	switch {
	case !(lo > 0 && lo < hi && hi < 100):
		copy(a.vals, old)
		return errorf("%s: percentile %v is [%v, %v], want 0 < lo < hi < 100", a.name, v[0], lo, hi)
	case v[4] != 0.05:
		copy(a.vals, old)
		return errorf("%s: o = %v: the perturbation was computed at extraction with o = 0.05", a.name, v[4])
	case v[1] < 0 || v[2] < 0 || v[1] > 100 || v[2] > 100:
		copy(a.vals, old)
		return errorf("%s: k1 %v and k2 %v must be percentages", a.name, v[1], v[2])
	}
	if a.val != nil {
		a.refit()
	}
	return nil
}

func (a *adaScale) Fit(in FitInput) error {
	if err := in.Val.check(a.name, "ID val", true, false, false); err != nil {
		return err
	}
	per, err := extraColumn(a.name, "ID val", in.Val, a.name, in.Val.D, false)
	if err != nil {
		return err
	}
	if err := a.head.load(a.name, in.Head, in.Val.D); err != nil {
		return err
	}
	n := min(in.Val.N, adaScaleSamples)
	a.D = in.Val.D
	a.val, a.valPer = in.Val.Feature[:n*a.D], per[:n*a.D]
	a.refit()
	return nil
}

func (a *adaScale) ks() (k1, k2 int) {
	return int(float64(a.D) * a.vals[1] / 100), int(float64(a.D) * a.vals[2] / 100)
}

// q is Q of one sample (see the type comment); idx is D-long scratch.
func (a *adaScale) q(f, fp []float32, k1, k2 int, idx []int) float32 {
	topIdx(f, idx)
	var s1, s2 float32
	for _, j := range idx[:k1] {
		s1 += max(fp[j], 0)
	}
	for _, j := range idx[:k2] {
		s2 += float32(math.Abs(float64(f[j] - fp[j])))
	}
	return s1 + float32(a.vals[3])*s2
}

// topIdx orders idx by f descending, ties by index (torch.topk's CPU order
// for distinct values; ties are the documented deviation of ASH/SCALE).
func topIdx(f []float32, idx []int) {
	for j := range idx {
		idx[j] = j
	}
	sort.SliceStable(idx, func(x, y int) bool { return f[idx[x]] > f[idx[y]] })
}

func (a *adaScale) refit() {
	k1, k2 := a.ks()
	n := len(a.val) / a.D
	idx := make([]int, a.D)
	a.ecdf = make([]float64, n)
	for i := range n {
		a.ecdf[i] = float64(a.q(a.val[i*a.D:(i+1)*a.D], a.valPer[i*a.D:(i+1)*a.D], k1, k2, idx))
	}
	slices.Sort(a.ecdf)
}

func (a *adaScale) Score(d *Data) ([]float64, error) {
	if err := a.head.scoreData(a.name, d); err != nil {
		return nil, err
	}
	per, err := extraColumn(a.name, "scored data", d, a.name, d.D, false)
	if err != nil {
		return nil, err
	}
	D, C := a.D, a.head.C
	k1, k2 := a.ks()
	lo, hi := a.pair()
	idx := make([]int, D)
	x := make([]float32, D)
	z := make([]float64, C)
	g := make([]float64, D)
	out := make([]float64, d.N)
	for i := range out {
		f, fp := d.Feature[i*D:(i+1)*D], per[i*D:(i+1)*D]
		qv := float64(a.q(f, fp, k1, k2, idx))
		cnt := sort.Search(len(a.ecdf), func(j int) bool { return a.ecdf[j] > qv })
		pct := lo + (1-float64(cnt)/float64(len(a.ecdf)))*(hi-lo)
		// ada_scale(relu(f), pct)
		var all float32
		for j, v := range f {
			x[j] = max(v, 0)
			all += x[j]
		}
		k := D - int(math.RoundToEven(float64(D)*pct/100))
		topIdx(x, idx)
		var top float32
		for _, j := range idx[:k] {
			top += x[j]
		}
		s := float64(all / top)
		if a.logit {
			for j, v := range f {
				g[j] = float64(v)
			}
		} else {
			e := float32(math.Exp(s))
			for j, v := range f {
				g[j] = float64(v * e)
			}
		}
		for c := range C {
			v := a.head.b[c]
			for j, w := range a.head.w[c*D : (c+1)*D] {
				v += w * g[j]
			}
			if a.logit {
				v *= s * s
			}
			z[c] = v
		}
		out[i] = logSumExp(z)
	}
	return out, nil
}
