package posthoc

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func randSPD(rng *rand.Rand, D, rank int) *mat.SymDense {
	x := mat.NewDense(rank, D, nil)
	for i := 0; i < rank; i++ {
		for j := 0; j < D; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	var s mat.SymDense
	s.SymOuterK(1, x.T())
	return &s
}

func maxAbsDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	m := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m = max(m, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return m
}

// The Cholesky fast path equals the eigen pseudo-inverse on a positive
// definite matrix; a singular one takes the eigen path and satisfies the
// Moore–Penrose conditions.
func TestPinvh(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	pd := randSPD(rng, 12, 40)
	fast, err := pinvh(pd)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := pinvhEigen(pd)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(fast, slow); d > 1e-10 {
		t.Errorf("Cholesky vs eigen pseudo-inverse differ by %g", d)
	}
	sing := randSPD(rng, 12, 5) // rank 5
	p, err := pinvh(sing)
	if err != nil {
		t.Fatal(err)
	}
	var apa, pap, ap, pa mat.Dense
	ap.Mul(sing, p)
	apa.Mul(&ap, sing)
	pa.Mul(p, sing)
	pap.Mul(&pa, p)
	if d := maxAbsDiff(&apa, sing); d > 1e-9 {
		t.Errorf("A·P·A differs from A by %g", d)
	}
	if d := maxAbsDiff(&pap, p); d > 1e-9 {
		t.Errorf("P·A·P differs from P by %g", d)
	}
	var apT mat.Dense
	apT.CloneFrom(ap.T())
	if d := maxAbsDiff(&ap, &apT); d > 1e-9 {
		t.Errorf("A·P is not symmetric (%g)", d)
	}
}
