package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Gram (OpenOOD's GRAMPostprocessor, after Sastry & Oore 2020): the Gram
// features of every tap (the output of every convolution and ReLU module,
// ExtraNetwork.Taps), their per-class ranges on ID train, and each test
// image's deviation from the ranges of its predicted class.

// ExtraGram is gram's --extra name; ColGramDeviation its column (width 1):
// Σ_l Σ_p δ_{l,p,ĉ}(x)/n_l, the deviations of the image's Gram features
// from the ranges of its predicted class ĉ, each tap's normalised by n_l
// (GramStats.Norm). The score is −deviation / max softmax(logits).
const (
	ExtraGram        = "gram"
	ColGramDeviation = "gram_deviation"
)

// GramPowers are the powers p of gram's Gram features
// (configs/postprocessors/gram.yml powers, and its one-setting sweep).
var GramPowers = []int{1, 2, 3, 4, 5}

// DefaultGramSeed seeds the draw of the held-out ID-train images
// (GramHoldout) when GramOptions.Holdout is nil.
const DefaultGramSeed uint64 = 0x6772616d // "gram"

// Tap is one activation gram reads: the output of a convolution or ReLU
// module (see nn.Tap), C channels of H×W values per image.
type Tap struct {
	Name    string
	C, H, W int
}

// GramStats are gram's ID-train statistics (OpenOOD's sample_estimator):
// for every tap l, power p and class c the element-wise minimum and maximum
// of the Gram features G_p of the class's training images outside the
// held-out 10%, and per tap the normalisation n_l, the mean over the
// held-out images of Σ_p δ_{l,p,y}(x) against their own class y's ranges.
type GramStats struct {
	Taps    []Tap
	Powers  []int
	Classes int
	// Min and Max are float32, as OpenOOD keeps them, laid out tap by tap:
	// tap l's block starts at Offset(l) and holds, for power index pi and
	// class c, the C_l values at (pi·Classes + c)·C_l.
	Min, Max []float32
	// Norm is n_l per tap.
	Norm []float64
	// Holdout are the held-out positions used: Holdout[c] indexes class c's
	// images in source order (OpenOOD's val_idxs[c]).
	Holdout [][]int
}

// Offset is where tap l's block starts in Min and Max.
func (st *GramStats) Offset(l int) int {
	o := 0
	for _, t := range st.Taps[:l] {
		o += len(st.Powers) * st.Classes * t.C
	}
	return o
}

func (st *GramStats) check(net ExtraNetwork) error {
	if st == nil {
		return errors.New("no ID-train statistics (per-class ranges of the Gram features): compute them from the ID train split first")
	}
	taps := net.Taps()
	if !slices.Equal(taps, st.Taps) {
		return fmt.Errorf("the statistics are of %d taps, the network has %d (another architecture?)", len(st.Taps), len(taps))
	}
	size := st.Offset(len(st.Taps))
	switch {
	case st.Classes != net.NumClasses():
		return fmt.Errorf("statistics of %d classes, the network has %d", st.Classes, net.NumClasses())
	case len(st.Powers) == 0 || len(st.Min) != size || len(st.Max) != size || len(st.Norm) != len(st.Taps):
		return fmt.Errorf("%d powers, %d minima, %d maxima and %d normalisers for %d taps, want ≥ 1 power, %d, %d and %d",
			len(st.Powers), len(st.Min), len(st.Max), len(st.Norm), len(st.Taps), size, size, len(st.Taps))
	}
	for l, v := range st.Norm {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("tap %d (%s): normalisation %v, want positive", l, st.Taps[l].Name, v)
		}
	}
	return nil
}

// GramOptions choose gram's held-out ID-train images.
type GramOptions struct {
	// Holdout, when not nil, are the held-out positions per class:
	// Holdout[c] indexes class c's images in source order, as OpenOOD's
	// val_idxs[c] does (a test can pass the ones OpenOOD drew). nil draws
	// them with GramHoldout from Seed.
	Holdout [][]int
	// Seed seeds GramHoldout's draw; 0 means DefaultGramSeed.
	Seed uint64
	// Threads is the number of goroutines computing Gram features (host
	// work beside the network's); 0 means runtime.GOMAXPROCS(0).
	Threads int
}

// GramHoldout draws the held-out positions of each class as OpenOOD's
// sample_estimator does — int(0.1·L_c) distinct positions of the L_c images
// of class c, uniformly — but from a generator seeded by (seed, c) instead
// of Python's unseeded random.sample, so that the statistics are
// reproducible. The positions are sorted.
func GramHoldout(counts []int, seed uint64) [][]int {
	out := make([][]int, len(counts))
	for c, l := range counts {
		k := int(0.1 * float64(l))
		r := rand.New(rand.NewPCG(seed, uint64(c)))
		p := r.Perm(l)[:k]
		slices.Sort(p)
		out[c] = p
	}
	return out
}

// labelsOf returns every label of src, without the network when src can
// tell them (ShardSource), else by loading every row.
func labelsOf(ctx context.Context, src Source, bs int) ([]int32, error) {
	if l, ok := src.(interface{ Labels() []int32 }); ok {
		return l.Labels(), nil
	}
	c, h, w := src.Shape()
	total := src.Len()
	labels := make([]int32, total)
	x, ids := make([]float32, bs*c*h*w), make([]int64, bs)
	for start := 0; start < total; start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(bs, total-start)
		if err := src.Load(start, x[:n*c*h*w], ids[:n], labels[start:start+n]); err != nil {
			return nil, fmt.Errorf("load rows %d..%d: %w", start, start+n-1, err)
		}
	}
	return labels, nil
}

// TrainGramStats computes gram's statistics from src, the ID train split
// with the test transform: the labels (without the network when src is a
// ShardSource), the held-out positions (g), one forward per image for the
// ranges of the images not held out, then one forward per held-out image
// for the normalisation. Memory: the ranges (2·Σ_l C_l·powers·classes
// float32), not the Gram features of the split. opts.BatchSize and
// opts.Progress apply (Progress counts both passes: Len + held-out).
func TrainGramStats(ctx context.Context, net ExtraNetwork, src Source, g GramOptions, opts Options) (*GramStats, error) {
	opts = opts.withDefaults()
	nc, nh, nw := net.InputShape()
	if sc, sh, sw := src.Shape(); nc != sc || nh != sh || nw != sw {
		return nil, fmt.Errorf("features: gram: source images are [N %d %d %d], the network wants [N %d %d %d]", sc, sh, sw, nc, nh, nw)
	}
	k := net.NumClasses()
	labels, err := labelsOf(ctx, src, opts.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("features: gram: %w", err)
	}
	counts := make([]int, k)
	pos := make([]int, len(labels)) // position of each row among its class's rows
	for i, y := range labels {
		if y < 0 || int(y) >= k {
			return nil, fmt.Errorf("features: gram: ID-train row %d has label %d, want a class in [0, %d)", i, y, k)
		}
		pos[i] = counts[y]
		counts[y]++
	}
	for c, l := range counts {
		if l == 0 {
			return nil, fmt.Errorf("features: gram: class %d has no ID-train image (OpenOOD's statistics need every class)", c)
		}
	}
	hold := g.Holdout
	if hold == nil {
		seed := g.Seed
		if seed == 0 {
			seed = DefaultGramSeed
		}
		hold = GramHoldout(counts, seed)
	}
	if len(hold) != k {
		return nil, fmt.Errorf("features: gram: held-out positions of %d classes, want %d", len(hold), k)
	}
	held := make([]bool, len(labels))
	inClass := make([][]int, k) // rows of each class in order
	for i, y := range labels {
		inClass[y] = append(inClass[y], i)
	}
	var heldRows []int
	for c, ps := range hold {
		for _, p := range ps {
			if p < 0 || p >= counts[c] {
				return nil, fmt.Errorf("features: gram: held-out position %d of class %d, which has %d images", p, c, counts[c])
			}
			r := inClass[c][p]
			if held[r] {
				return nil, fmt.Errorf("features: gram: held-out position %d of class %d given twice", p, c)
			}
			held[r] = true
			heldRows = append(heldRows, r)
		}
		if len(ps) == counts[c] {
			return nil, fmt.Errorf("features: gram: every image of class %d is held out; its ranges need at least one", c)
		}
	}
	if len(heldRows) == 0 {
		return nil, errors.New("features: gram: no ID-train image is held out (int(0.1·L) is 0 for every class: fewer than 10 images each); the normalisation needs some")
	}
	slices.Sort(heldRows)

	taps := net.Taps()
	st := &GramStats{Taps: taps, Powers: slices.Clone(GramPowers), Classes: k, Holdout: hold, Norm: make([]float64, len(taps))}
	size := st.Offset(len(taps))
	st.Min, st.Max = make([]float32, size), make([]float32, size)
	for i := range st.Min {
		st.Min[i], st.Max[i] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	gw := newGramWork(st, g.Threads)
	total := len(labels) + len(heldRows)
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	bs, per := opts.BatchSize, nc*nh*nw
	x, ids, lb := make([]float32, bs*per), make([]int64, bs), make([]int32, bs)
	lo := make([]float32, bs*k)
	// Pass 1: the ranges, from the images not held out.
	for start := 0; start < len(labels); start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(bs, len(labels)-start)
		if err := src.Load(start, x[:n*per], ids[:n], lb[:n]); err != nil {
			return nil, fmt.Errorf("features: gram: load rows %d..%d: %w", start, start+n-1, err)
		}
		err := net.TapMaps(x[:n*per], n, lo[:n*k], func(l int, maps []float32) error {
			t := taps[l]
			gw.batch(maps, n, t)
			for b := range n {
				if !held[start+b] {
					gw.widen(l, int(lb[b]), gw.feat(b, t))
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("features: gram: rows %d..%d: %w", start, start+n-1, err)
		}
		if opts.Progress != nil {
			opts.Progress(start+n, total)
		}
	}
	// Pass 2: the normalisation, from the held-out images.
	sum := make([]float64, len(taps))
	for start := 0; start < len(heldRows); start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(bs, len(heldRows)-start)
		for b, r := range heldRows[start : start+n] {
			if err := src.Load(r, x[b*per:(b+1)*per], ids[b:b+1], lb[b:b+1]); err != nil {
				return nil, fmt.Errorf("features: gram: load row %d: %w", r, err)
			}
		}
		err := net.TapMaps(x[:n*per], n, lo[:n*k], func(l int, maps []float32) error {
			t := taps[l]
			gw.batch(maps, n, t)
			for b := range n {
				sum[l] += gw.deviation(l, int(lb[b]), gw.feat(b, t))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("features: gram: held-out rows: %w", err)
		}
		if opts.Progress != nil {
			opts.Progress(len(labels)+start+n, total)
		}
	}
	for l, s := range sum {
		st.Norm[l] = s / float64(len(heldRows))
		if !(st.Norm[l] > 0) || math.IsInf(st.Norm[l], 0) {
			return nil, fmt.Errorf("features: gram: tap %d (%s): no held-out image leaves its class's ranges (normalisation %v); OpenOOD would divide by it — more ID-train images are needed",
				l, taps[l].Name, st.Norm[l])
		}
	}
	return st, nil
}

// gramWork computes the Gram features of a batch's tap output, the images
// split among up to threads goroutines, into out: P×C values per image
// (power-major).
type gramWork struct {
	st      *GramStats
	off     []int // Offset of each tap
	threads int
	scratch [][2][]float64 // per goroutine: x^p (C×HW) and its column sums (HW)
	out     []float64
}

func newGramWork(st *GramStats, threads int) *gramWork {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	w := &gramWork{st: st, off: make([]int, len(st.Taps)), threads: threads, scratch: make([][2][]float64, threads)}
	for l := range st.Taps {
		w.off[l] = st.Offset(l)
	}
	return w
}

// batch computes the features of the n images of maps (n×C×H×W, tap t);
// feat(b, t) then returns image b's.
func (w *gramWork) batch(maps []float32, n int, t Tap) {
	per, pc := t.C*t.H*t.W, len(w.st.Powers)*t.C
	if cap(w.out) < n*pc {
		w.out = make([]float64, n*pc)
	}
	w.out = w.out[:n*pc]
	g := min(w.threads, n)
	var wg sync.WaitGroup
	for k := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := k * n / g; b < (k+1)*n/g; b++ {
				w.features(&w.scratch[k], maps[b*per:(b+1)*per], t, w.out[b*pc:(b+1)*pc])
			}
		}()
	}
	wg.Wait()
}

func (w *gramWork) feat(b int, t Tap) []float64 {
	pc := len(w.st.Powers) * t.C
	return w.out[b*pc : (b+1)*pc]
}

// features computes G_p of one image's tap output m (C×H×W) for every
// power into f (P×C): OpenOOD's G_p, with a = m^p element-wise (C×HW), the
// row sums of the Gram matrix a·aᵀ, Σ_j (a·aᵀ)_ij = Σ_k a_ik·(Σ_j a_jk),
// then sign·|·|^(1/p). In float64 (OpenOOD: float32).
func (w *gramWork) features(sc *[2][]float64, m []float32, t Tap, f []float64) {
	hw := t.H * t.W
	if cap(sc[0]) < len(m) {
		sc[0] = make([]float64, len(m))
	}
	if cap(sc[1]) < hw {
		sc[1] = make([]float64, hw)
	}
	a, s := sc[0][:len(m)], sc[1][:hw]
	for i := range a {
		a[i] = 1
	}
	prev := 0
	for pi, p := range w.st.Powers {
		clear(s)
		for c := range t.C {
			ac, mc := a[c*hw:(c+1)*hw], m[c*hw:(c+1)*hw]
			for k := range ac {
				v := ac[k]
				for q := prev; q < p; q++ { // a = m^p, built up from the previous power
					v *= float64(mc[k])
				}
				ac[k] = v
				s[k] += v
			}
		}
		prev = p
		fp := f[pi*t.C : (pi+1)*t.C]
		for c := range t.C {
			var r float64
			for k, v := range a[c*hw : (c+1)*hw] {
				r += v * s[k]
			}
			g := math.Pow(math.Abs(r), 1/float64(p))
			if r < 0 {
				g = -g
			}
			fp[c] = g
		}
	}
}

// widen updates class c's ranges of tap l with one image's features f.
func (w *gramWork) widen(l, c int, f []float64) {
	C := w.st.Taps[l].C
	for pi := range w.st.Powers {
		o := w.off[l] + (pi*w.st.Classes+c)*C
		mn, mx := w.st.Min[o:o+C], w.st.Max[o:o+C]
		for j, v := range f[pi*C : (pi+1)*C] {
			v32 := float32(v)
			mn[j] = min(mn[j], v32)
			mx[j] = max(mx[j], v32)
		}
	}
}

// deviation is Σ_p δ(min_{l,p,c}, max_{l,p,c}, f_p) of one image's
// features f: OpenOOD's delta, Σ_j relu(min_j − x_j)/|min_j + 10⁻⁶| +
// relu(x_j − max_j)/|max_j + 10⁻⁶|.
func (w *gramWork) deviation(l, c int, f []float64) float64 {
	C := w.st.Taps[l].C
	var d float64
	for pi := range w.st.Powers {
		o := w.off[l] + (pi*w.st.Classes+c)*C
		mn, mx := w.st.Min[o:o+C], w.st.Max[o:o+C]
		for j, v := range f[pi*C : (pi+1)*C] {
			lo, hi := float64(mn[j]), float64(mx[j])
			if v < lo {
				d += (lo - v) / math.Abs(lo+1e-6)
			}
			if v > hi {
				d += (v - hi) / math.Abs(hi+1e-6)
			}
		}
	}
	return d
}

// gram computes ColGramDeviation for a batch: the taps' Gram features, the
// deviations from the ranges of the class of the largest OOD logit (first
// on ties, torch's max), each tap's divided by its n_l.
func (w *extraWork) gram(x []float32, n int) error {
	st := w.spec.Gram
	gw := w.gw
	if gw == nil {
		gw = newGramWork(st, w.spec.Threads)
		w.gw = gw
	}
	lo := grow(&w.lo, n*w.k)
	dev := make([]float64, n)
	preds := make([]int, n)
	err := w.net.TapMaps(x, n, lo, func(l int, maps []float32) error {
		if l == 0 {
			for i := range n {
				preds[i] = argmax(lo[i*w.k : (i+1)*w.k])
			}
		}
		t := st.Taps[l]
		gw.batch(maps, n, t)
		for i := range n {
			dev[i] += gw.deviation(l, preds[i], gw.feat(i, t)) / st.Norm[l]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gram: %w", err)
	}
	col := make([]float32, n)
	for i, d := range dev {
		col[i] = float32(d)
	}
	w.appendCol(ColGramDeviation, col)
	return nil
}
