package posthoc

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// smallestK across several query and bank blocks (partial last blocks,
// duplicated bank rows, more workers than needed) against brute force in
// float64.
func TestSmallestKBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n, nq, d = 2*knnBankBlock + 333, knnQueryBlock + 77, 24
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	copy(x[5*d:6*d], x[9*d:10*d]) // a duplicate: equal values must both count
	term := make([]float32, n)
	for i := range term {
		term[i] = float32(rng.Float64())
	}
	q := make([]float32, nq*d)
	for i := range q {
		q[i] = float32(rng.NormFloat64())
	}
	copy(q[:d], x[9*d:10*d])
	b := bank{n: n, d: d, x: x, term: term}
	want := make([][]float64, nq) // brute force, sorted
	for i := range want {
		all := make([]float64, n)
		for j := 0; j < n; j++ {
			var ip float64
			for c := 0; c < d; c++ {
				ip += float64(q[i*d+c]) * float64(x[j*d+c])
			}
			all[j] = float64(term[j]) - 2*ip
		}
		slices.Sort(all)
		want[i] = all
	}
	for _, k := range []int{1, 7, 50, 300} {
		for _, threads := range []int{1, 3} {
			got := b.smallestK(q, nq, k, -2, threads)
			for i := 0; i < nq; i++ {
				for r := 0; r < k; r++ {
					if diff := float64(got[i*k+r]) - want[i][r]; diff > 1e-4 || diff < -1e-4 {
						t.Fatalf("k=%d threads=%d query %d rank %d: got %v, want %v", k, threads, i, r, got[i*k+r], want[i][r])
					}
				}
			}
		}
	}
}

func TestHeapReplaceTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := 0; trial < 200; trial++ {
		k := 1 + rng.IntN(20)
		h := make([]float32, k)
		for i := range h {
			h[i] = float32(1e30)
		}
		var all []float32
		for i := 0; i < 100; i++ {
			v := float32(rng.IntN(30)) // many ties
			all = append(all, v)
			if v < h[0] {
				heapReplaceTop(h, v)
			}
		}
		slices.Sort(all)
		got := slices.Clone(h)
		slices.Sort(got)
		if !slices.Equal(got, all[:k]) {
			t.Fatalf("k=%d: heap holds %v, want %v", k, got, all[:k])
		}
	}
}

// syrkUpper with blocks smaller than D (diagonal and off-diagonal blocks,
// a partial last block) against the plain triple loop.
func TestSyrkUpperBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const D, k = 23, 17
	a := make([]float64, D*k)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	c := make([]float64, D*D)
	syrkUpper(D, k, 0.5, a, c, 5)
	for i := 0; i < D; i++ {
		for j := i; j < D; j++ {
			var want float64
			for p := 0; p < k; p++ {
				want += a[i*k+p] * a[j*k+p]
			}
			want *= 0.5
			if d := c[i*D+j] - want; d > 1e-12 || d < -1e-12 {
				t.Fatalf("c[%d][%d] = %v, want %v", i, j, c[i*D+j], want)
			}
		}
	}
}

// One search for the largest K gives the same scores as a search per K.
func TestKNNSweepMatchesScore(t *testing.T) {
	fx := loadFixture(t)
	kn := newKNN(Options{Threads: 2})
	if err := kn.Fit(fx.in); err != nil {
		t.Fatal(err)
	}
	ks := []float64{3, 50, 1, float64(fx.train.N + 1)}
	sweep, errs, err := kn.scoreSweep(fx.tst, ks)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range ks {
		mustSet(t, kn, k)
		got, err := kn.Score(fx.tst)
		if (err == nil) != (errs[i] == nil) {
			t.Fatalf("K=%v: Score error %v, sweep error %v", k, err, errs[i])
		}
		if err == nil {
			compareScores(t, "sweep vs Score", sweep[i], got, 0, 0)
		}
	}
}
