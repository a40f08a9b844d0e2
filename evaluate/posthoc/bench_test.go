package posthoc

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKNN is the speed check: 50,000 × 512 ID-train bank,
// 10,000 queries, K = 50, all cores (compare with
// `scripts/gen_posthoc_fixtures.py --bench`, run in the same session).
func BenchmarkKNN(b *testing.B) {
	for _, sz := range []struct{ n, q, d, k int }{{50000, 10000, 512, 50}, {10000, 2000, 512, 50}} {
		b.Run(fmt.Sprintf("bank=%d/queries=%d/d=%d/k=%d", sz.n, sz.q, sz.d, sz.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			mk := func(n int) *Data {
				x := make([]float32, n*sz.d)
				for i := range x {
					x[i] = float32(max(rng.NormFloat64(), -rng.NormFloat64()))
				}
				return &Data{N: n, D: sz.d, Feature: x}
			}
			train, q := mk(sz.n), mk(sz.q)
			s := newKNN(Options{})
			if err := s.Fit(FitInput{Train: train}); err != nil {
				b.Fatal(err)
			}
			if err := s.Set(float64(sz.k)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(sz.n) * int64(sz.q) * int64(sz.d) * 2) // "bytes" = flops, so MB/s reads as MFLOP/s
			for b.Loop() {
				if _, err := s.Score(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
