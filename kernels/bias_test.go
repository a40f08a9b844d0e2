package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBiasAndSums checks the bias helpers against the loops in their doc
// comments, including the stride gap (NaN, must stay untouched and unread).
func TestBiasAndSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range [][3]int{{1, 1, 0}, {3, 7, 2}, {16, 100, 0}, {5, 33, 4}} {
		m, n, ld := s[0], s[1], s[1]+s[2]
		c := randMatrix(rng, m, n, ld)
		rowBias, colBias := make([]float32, m), make([]float32, n)
		for i := range rowBias {
			rowBias[i] = rng.Float32()
		}
		for j := range colBias {
			colBias[j] = rng.Float32()
		}
		got := append([]float32(nil), c...)
		AddRowBias(m, n, rowBias, got, ld)
		AddColBias(m, n, colBias, got, ld)
		rs, cs := make([]float32, m), make([]float32, n)
		rs[0], cs[0] = 1, 2 // accumulates onto existing values
		SumRows(m, n, c, ld, rs)
		SumCols(m, n, c, ld, cs)
		for i := range m {
			var sum float32 = 0
			if i == 0 {
				sum = 1
			}
			var rsum float32
			for j := range ld {
				idx := i*ld + j
				if j >= n {
					if !math.IsNaN(float64(got[idx])) {
						t.Fatalf("%v: gap element (%d,%d) overwritten: %v", s, i, j, got[idx])
					}
					continue
				}
				if want := c[idx] + rowBias[i] + colBias[j]; got[idx] != want {
					t.Fatalf("%v: C[%d,%d] = %v, want %v", s, i, j, got[idx], want)
				}
				rsum += c[idx]
			}
			if want := sum + rsum; math.Abs(float64(rs[i]-want)) > 1e-5*float64(n) {
				t.Fatalf("%v: SumRows[%d] = %v, want %v", s, i, rs[i], want)
			}
		}
		for j := range n {
			var want float32
			if j == 0 {
				want = 2
			}
			for i := range m {
				want += c[i*ld+j]
			}
			if math.Abs(float64(cs[j]-want)) > 1e-5*float64(m) {
				t.Fatalf("%v: SumCols[%d] = %v, want %v", s, j, cs[j], want)
			}
		}
	}
}
