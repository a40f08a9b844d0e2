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

// BenchmarkMethods fits and scores every method at CIFAR-10 size (50,000 ×
// 512 train, 1,000 val, 10,000 scored, 10 classes).
func BenchmarkMethods(b *testing.B) {
	const n, nv, nq, d, c = 50000, 1000, 10000, 512, 10
	rng := rand.New(rand.NewPCG(3, 4))
	head := linear{W: make([]float32, c*d), B: make([]float32, c)}
	for i := range head.W {
		head.W[i] = float32(rng.NormFloat64() * 0.05)
	}
	mk := func(n int) *Data {
		x := &Data{N: n, D: d, C: c, Feature: make([]float32, n*d), Logits: make([]float32, n*c), Labels: make([]int32, n)}
		for i := range x.Feature {
			x.Feature[i] = float32(max(rng.NormFloat64(), 0) + 0.01)
		}
		for i := 0; i < n; i++ {
			for k := 0; k < c; k++ {
				var s float32
				for j := 0; j < d; j++ {
					s += head.W[k*d+j] * x.Feature[i*d+j]
				}
				x.Logits[i*c+k] = s
			}
			x.Labels[i] = int32(argmax32(x.Logits[i*c : (i+1)*c]))
		}
		return x
	}
	in := FitInput{Train: mk(n), Val: mk(nv), Head: head}
	q := mk(nq)
	q.Members = [][]float32{q.Logits, q.Logits} // ensemble: two members
	for _, name := range Names() {
		if networkMethods[name] {
			continue // oracle: the network fixture (network_test.go)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, _ := New(name)
				if err := s.Fit(in); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Score(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
