package posthoc

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// linearHead is a fitted copy of the head in float64.
type linearHead struct {
	D, C int
	w, b []float64
}

func (h *linearHead) load(method string, head Head, D int) error {
	W, B := headLinear(head)
	C := len(B)
	if err := checkHead(method, W, B, D, C); err != nil {
		return err
	}
	h.D, h.C, h.w, h.b = D, C, to64(W), to64(B)
	return nil
}

// loadAlone loads a head whose D is implied by its shapes (methods that
// fit nothing else).
func (h *linearHead) loadAlone(method string, head Head) error {
	W, B := headLinear(head)
	if len(B) == 0 || len(W)%len(B) != 0 {
		return errorf("%s: head W has %d values and b %d, want C×D and C", method, len(W), len(B))
	}
	return h.load(method, head, len(W)/len(B))
}

// headLinear is head's W and b; both nil when there is no head.
func headLinear(head Head) (W, B []float32) {
	if head == nil {
		return nil, nil
	}
	return head.Linear()
}

// energyOf returns logsumexp of each row of z (n×C).
func energyOf(z []float64, n, C int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = logSumExp(z[i*C : (i+1)*C])
	}
	return out
}

// scoreData validates d (features) against the fitted head.
func (h *linearHead) scoreData(method string, d *Data) error {
	if h.w == nil {
		return errNotFitted(method)
	}
	if err := d.check(method, "scored data", true, false, false); err != nil {
		return err
	}
	return d.sameShape(method, "scored data", h.D, 0)
}

// react is ReAct: θ = numpy.percentile of all ID-val feature values at
// `percentile`; score = logsumexp(W·min(f, θ) + b). percentile default 90,
// sweep [85 90 95 99], APS on.
type react struct {
	params
	head   linearHead
	sorted []float64 // all ID-val feature values, sorted
	theta  float64
}

func newReAct() *react {
	return &react{params: newParams(Param{Name: "percentile", Default: 90, Sweep: []float64{85, 90, 95, 99}})}
}

func (*react) Name() string { return "react" }
func (*react) Needs() Needs { return Needs{Feature: true, Head: true, Val: true, APS: true} }
func (r *react) Fit(in FitInput) error {
	if err := in.Val.check("react", "ID val", true, false, false); err != nil {
		return err
	}
	if err := r.head.load("react", in.Head, in.Val.D); err != nil {
		return err
	}
	r.sorted = sortedCopy64(in.Val.Feature)
	r.theta = percentileSorted(r.sorted, r.vals[0])
	return nil
}

func (r *react) Set(v ...float64) error {
	old := r.vals[0]
	if err := r.setVals("react", v); err != nil {
		return err
	}
	if err := percentParam("react", "percentile", v[0]); err != nil {
		r.vals[0] = old
		return err
	}
	if r.sorted != nil {
		r.theta = percentileSorted(r.sorted, r.vals[0])
	}
	return nil
}

// Threshold reports the fitted clipping threshold θ.
func (r *react) Threshold() float64 { return r.theta }

func (r *react) Score(d *Data) ([]float64, error) {
	if err := r.head.scoreData("react", d); err != nil {
		return nil, err
	}
	clip := func(row []float64) {
		for j, v := range row {
			row[j] = min(v, r.theta)
		}
	}
	return energyOf(affineChunked(d.Feature, d.N, r.head.w, r.head.b, r.head.C, r.head.D, clip), d.N, r.head.C), nil
}

// ashK is OpenOOD's k = n − round(n·p/100) (numpy round: half to even).
func ashK(n int, p float64) int {
	return n - int(math.RoundToEven(float64(n)*p/100))
}

// topK returns the indices of the k largest entries of f, ties broken by the
// lower index (torch.topk leaves tie order unspecified).
func topK(f []float32, k int, idx []int) []int {
	idx = idx[:len(f)]
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(f[b], f[a]) })
	return idx[:k]
}

// ash is ASH-B as OpenOOD applies it, on the pooled feature vector: with
// n = D, k = n − round(n·p/100), s1 = Σ_j f_j, the top-k entries are set to
// s1/k and the rest to 0; score = logsumexp(W·f' + b). percentile default
// 90, sweep [65 70 75 80 85 90 95], APS on.
type ash struct {
	params
	head linearHead
	// ties counts scored samples since the last Fit/Set whose k-th and
	// (k+1)-th largest values are equal: torch.topk's choice among them is
	// unspecified, so OpenOOD may fill other positions than t2f.
	ties, scored atomic.Int64
}

func newASH() *ash {
	return &ash{params: newParams(Param{Name: "percentile", Default: 90, Sweep: []float64{65, 70, 75, 80, 85, 90, 95}})}
}

func (*ash) Name() string { return "ash" }
func (*ash) Needs() Needs { return Needs{Feature: true, Head: true, APS: true} }
func (a *ash) Fit(in FitInput) error {
	a.ties.Store(0)
	a.scored.Store(0)
	return a.head.loadAlone("ash", in.Head)
}

func (a *ash) Set(v ...float64) error {
	a.ties.Store(0)
	a.scored.Store(0)
	return setPercentile(&a.params, "ash", v)
}

// Warnings reports samples whose top-k cut falls inside a run of equal
// values (docs/posthoc.md, Deviations: ASH ties).
func (a *ash) Warnings() []string {
	if n := a.ties.Load(); n > 0 {
		return []string{fmt.Sprintf("ash: %d of %d scored samples have equal feature values across the top-k cut (k = %d at percentile %v): torch.topk picks among them in an unspecified order, so OpenOOD may place the s1/k fill on other units than t2f (lowest index first)",
			n, a.scored.Load(), ashK(a.head.D, a.vals[0]), a.vals[0])}
	}
	return nil
}

func setPercentile(p *params, method string, v []float64) error {
	old := p.vals[0]
	if err := p.setVals(method, v); err != nil {
		return err
	}
	if err := percentParam(method, "percentile", v[0]); err != nil {
		p.vals[0] = old
		return err
	}
	return nil
}

func (a *ash) Score(d *Data) ([]float64, error) {
	if err := a.head.scoreData("ash", d); err != nil {
		return nil, err
	}
	D, C := a.head.D, a.head.C
	k := ashK(D, a.vals[0])
	if k < 1 {
		return nil, errorf("ash: percentile %v keeps k = %d of %d features, want ≥ 1: %w", a.vals[0], k, D, ErrNotApplicable)
	}
	out := make([]float64, d.N)
	idx := make([]int, D)
	z := make([]float64, C)
	var ties int64
	defer func() { a.ties.Add(ties); a.scored.Add(int64(d.N)) }()
	for i := range out {
		f := d.Feature[i*D : (i+1)*D]
		var s1 float64
		for _, v := range f {
			s1 += float64(v)
		}
		fill := s1 / float64(k)
		top := topK(f, k, idx)
		if k < D && f[idx[k-1]] == f[idx[k]] {
			ties++
		}
		for c := 0; c < C; c++ {
			w := a.head.w[c*D : (c+1)*D]
			var s float64
			for _, j := range top {
				s += w[j]
			}
			z[c] = fill*s + a.head.b[c]
		}
		out[i] = logSumExp(z)
	}
	return out, nil
}

// scale is SCALE as OpenOOD applies it, on the pooled feature vector: with
// the same k as ASH, s1 = Σ f, s2 = Σ of the top-k entries, f' = f·exp(s1/s2)
// (the unpruned vector, rescaled); score = logsumexp(W·f' + b). percentile
// default 85, sweep [65 70 75 80 85 90 95], APS on.
type scale struct {
	params
	head linearHead
}

func newSCALE() *scale {
	return &scale{params: newParams(Param{Name: "percentile", Default: 85, Sweep: []float64{65, 70, 75, 80, 85, 90, 95}})}
}

func (*scale) Name() string             { return "scale" }
func (*scale) Needs() Needs             { return Needs{Feature: true, Head: true, APS: true} }
func (s *scale) Fit(in FitInput) error  { return s.head.loadAlone("scale", in.Head) }
func (s *scale) Set(v ...float64) error { return setPercentile(&s.params, "scale", v) }

func (s *scale) Score(d *Data) ([]float64, error) {
	if err := s.head.scoreData("scale", d); err != nil {
		return nil, err
	}
	D, C := s.head.D, s.head.C
	k := ashK(D, s.vals[0])
	if k < 1 {
		return nil, errorf("scale: percentile %v keeps k = %d of %d features, want ≥ 1: %w", s.vals[0], k, D, ErrNotApplicable)
	}
	sorted := make([]float64, D)
	rescale := func(f []float64) {
		var s1, s2 float64
		for _, v := range f {
			s1 += v
		}
		copy(sorted, f)
		slices.Sort(sorted)
		for _, v := range sorted[D-k:] {
			s2 += v
		}
		r := math.Exp(s1 / s2)
		for j := range f {
			f[j] *= r
		}
	}
	return energyOf(affineChunked(d.Feature, d.N, s.head.w, s.head.b, C, D, rescale), d.N, C), nil
}

// dice is DICE: m = mean ID-train feature, contrib = m_j·W_cj (C×D),
// threshold = numpy.percentile(contrib, p) over all C·D entries, mask
// M = contrib > threshold; score = logsumexp(f·(W⊙M)ᵀ + b). p default 90;
// OpenOOD's sweep is [90] with APS off.
type dice struct {
	params
	head   linearHead
	mean   []float64
	masked []float64
}

func newDICE() *dice {
	return &dice{params: newParams(Param{Name: "p", Default: 90, Sweep: []float64{90}})}
}

func (*dice) Name() string { return "dice" }
func (*dice) Needs() Needs { return Needs{Feature: true, Head: true, Train: true} }
func (dc *dice) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("dice", "ID train", true, false, false); err != nil {
		return err
	}
	if err := dc.head.load("dice", in.Head, t.D); err != nil {
		return err
	}
	dc.mean = colMeans(t.Feature, t.N, t.D)
	dc.mask()
	return nil
}

func (dc *dice) mask() {
	D, C := dc.head.D, dc.head.C
	contrib := make([]float64, C*D)
	for c := 0; c < C; c++ {
		for j := 0; j < D; j++ {
			contrib[c*D+j] = dc.mean[j] * dc.head.w[c*D+j]
		}
	}
	sorted := slices.Clone(contrib)
	slices.Sort(sorted)
	th := percentileSorted(sorted, dc.vals[0])
	dc.masked = make([]float64, C*D)
	for i, v := range contrib {
		if v > th {
			dc.masked[i] = dc.head.w[i]
		}
	}
}

func (dc *dice) Set(v ...float64) error {
	if err := setPercentile(&dc.params, "dice", v); err != nil {
		return err
	}
	if dc.mean != nil {
		dc.mask()
	}
	return nil
}

func (dc *dice) Score(d *Data) ([]float64, error) {
	if err := dc.head.scoreData("dice", d); err != nil {
		return nil, err
	}
	C, D := dc.head.C, dc.head.D
	return energyOf(affineChunked(d.Feature, d.N, dc.masked, dc.head.b, C, D, nil), d.N, C), nil
}
