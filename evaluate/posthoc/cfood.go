package posthoc

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/t2f/t2f/kernels"
)

// cfood is CFOOD (OpenOOD CFOODPostprocessor). Fit: the reference set is a
// fraction alpha of the normalised ID-train features (f/(‖f‖₂ + 1e-10)),
// all of them when alpha = 1; for each reference point r_i and each grid
// fraction κ_j (OpenOOD's 230-point grid over [0.001, 0.99], positions
// p_j = int(κ_j·n − 1), duplicates dropped) knn_ij is its squared distance to
// its (p_j+1)-th nearest reference point. Score: with d_i the squared
// distance of the query to r_i, count_j = #{i: knn_ij ≥ d_i}/n; κ = the first
// κ_j with count_j ≥ k (1 if none); score = −κ. alpha default 0.1, k default
// 0.01; APS off.
//
// The subsample (alpha < 1) is drawn with a fixed-seed generator; OpenOOD
// draws it with torch.randperm from the global torch RNG, so its subset, and
// its scores, change from run to run (docs/posthoc.md, Deviations).
type cfood struct {
	params
	threads int
	D       int
	all     []float32 // N×D normalised ID-train features
	n       int
	ref     []float32 // n×D
	refSq   []float32 // n: ‖r_i‖²
	kval    []float64
	knn     []float32 // n×len(kval)
}

func newCFOOD(o Options) *cfood {
	return &cfood{params: newParams(
		Param{Name: "alpha", Default: 0.1, Sweep: []float64{0.1, 0.5, 1}},
		Param{Name: "k", Default: 0.01, Sweep: []float64{0.001, 0.005, 0.01, 0.05}}), threads: o.threads()}
}

func (*cfood) Name() string { return "cfood" }
func (*cfood) Needs() Needs { return Needs{Feature: true, Train: true} }

// cfoodSeed seeds the subsample of the reference set.
const cfoodSeed = 0

func (c *cfood) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("cfood", "ID train", true, false, false); err != nil {
		return err
	}
	c.D = t.D
	c.all = make([]float32, t.N*t.D)
	for i := 0; i < t.N; i++ {
		f := t.Feature[i*t.D : (i+1)*t.D]
		var s float64
		for _, v := range f {
			s += float64(v) * float64(v)
		}
		nrm := float32(math.Sqrt(s)) + 1e-10
		for j, v := range f {
			c.all[i*t.D+j] = v / nrm
		}
	}
	return c.build()
}

// linspace is numpy.linspace(start, stop, num) (endpoint included).
func linspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// cfoodGrid returns OpenOOD's κ grid and positions for n reference points.
func cfoodGrid(n int) (kval []float64, kpos []int) {
	all := slices.Concat(linspace(0.001, 0.1, 100), linspace(0.105, 0.5, 81), linspace(0.51, 0.99, 49))
	pos := make([]int, len(all))
	for i, k := range all {
		pos[i] = int(k*float64(n) - 1) // numpy astype(int): truncation toward zero
	}
	for i := range all {
		if i == 0 || pos[i-1] < pos[i] {
			kval = append(kval, all[i])
			kpos = append(kpos, pos[i])
		}
	}
	return kval, kpos
}

func (c *cfood) build() error {
	N := len(c.all) / c.D
	alpha := c.vals[0]
	n := N
	if alpha < 1 {
		n = int(alpha * float64(N))
	}
	if n < 2 {
		return errorf("cfood: alpha = %v keeps %d of %d ID-train samples, want ≥ 2: %w", alpha, n, N, ErrNotApplicable)
	}
	c.n = n
	if n == N {
		c.ref = c.all
	} else {
		perm := rand.New(rand.NewPCG(cfoodSeed, 0)).Perm(N)[:n]
		c.ref = make([]float32, n*c.D)
		for i, p := range perm {
			copy(c.ref[i*c.D:(i+1)*c.D], c.all[p*c.D:(p+1)*c.D])
		}
	}
	c.refSq = sqNorms(c.ref, n, c.D)
	var kpos []int
	c.kval, kpos = cfoodGrid(n)
	klen := len(c.kval)
	c.knn = make([]float32, n*klen)
	c.distances(c.ref, n, func(i int, dst []float32) {
		slices.Sort(dst)
		for j, p := range kpos {
			c.knn[i*klen+j] = dst[p+1] // +1 skips the point itself
		}
	})
	return nil
}

func sqNorms(x []float32, n, d int) []float32 {
	out := make([]float32, n)
	for i := range out {
		var s float32
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// distances calls f(i, dst) for every query row i of q (m×D) with dst the
// squared distances to every reference point (‖q‖² + ‖r‖² − 2⟨q, r⟩ in
// float32, clamped at 0); f may modify dst. Rows are spread over threads.
func (c *cfood) distances(q []float32, m int, f func(i int, dst []float32)) {
	const blk = 64
	qSq := sqNorms(q, m, c.D)
	nBlocks := (m + blk - 1) / blk
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(c.threads, nBlocks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemm := kernels.NewGemm(1)
			tile := make([]float32, blk*c.n)
			for {
				b := int(next.Add(1) - 1)
				if b >= nBlocks {
					return
				}
				q0 := b * blk
				mb := min(blk, m-q0)
				t := tile[:mb*c.n]
				gemm.Sgemm(false, true, mb, c.n, c.D, -2, q[q0*c.D:(q0+mb)*c.D], c.D, c.ref, c.D, 0, t, c.n)
				for i := 0; i < mb; i++ {
					row := t[i*c.n : (i+1)*c.n]
					for j := range row {
						row[j] = max(row[j]+qSq[q0+i]+c.refSq[j], 0)
					}
					f(q0+i, row)
				}
			}
		}()
	}
	wg.Wait()
}

func (c *cfood) Set(v ...float64) error {
	old := slices.Clone(c.vals)
	if err := c.setVals("cfood", v); err != nil {
		return err
	}
	if v[0] <= 0 || v[0] > 1 {
		copy(c.vals, old)
		return errorf("cfood: alpha = %v, want 0 < alpha ≤ 1", v[0])
	}
	if c.all != nil && v[0] != old[0] {
		return c.build()
	}
	return nil
}

func (c *cfood) Score(d *Data) ([]float64, error) {
	if c.knn == nil {
		return nil, errNotFitted("cfood")
	}
	if err := d.check("cfood", "scored data", true, false, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("cfood", "scored data", c.D, 0); err != nil {
		return nil, err
	}
	q := make([]float32, d.N*d.D)
	for i := 0; i < d.N; i++ {
		f := d.Feature[i*d.D : (i+1)*d.D]
		var s float32
		for _, v := range f {
			s += v * v
		}
		nrm := float32(math.Sqrt(float64(s))) + 1e-10
		for j, v := range f {
			q[i*d.D+j] = v / nrm
		}
	}
	klen := len(c.kval)
	k32, n32 := float32(c.vals[1]), float32(c.n)
	out := make([]float64, d.N)
	c.distances(q, d.N, func(i int, dst []float32) {
		// count_j is non-decreasing in j (knn_ij grows with j): binary search
		// for the first j with count_j/n ≥ k.
		reached := func(j int) bool {
			cnt := 0
			for r, x := range dst {
				if c.knn[r*klen+j] >= x {
					cnt++
				}
			}
			return float32(cnt)/n32 >= k32
		}
		lo, hi := 0, klen
		for lo < hi {
			mid := (lo + hi) / 2
			if reached(mid) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		kappa := 1.0
		if lo < klen {
			kappa = c.kval[lo]
		}
		out[i] = -kappa
	})
	return out, nil
}
