package backendtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
)

// fdCheck compares an analytic gradient of L(v) = Σ proj·f(v) with float64
// central differences at every coordinate of v.
func fdCheck(t *testing.T, what string, v []float64, f func([]float64) []float64, proj, grad []float64) {
	t.Helper()
	const h = 1e-6
	loss := func() float64 {
		var s float64
		for i, y := range f(v) {
			s += proj[i] * y
		}
		return s
	}
	for i := range v {
		old := v[i]
		v[i] = old + h
		lp := loss()
		v[i] = old - h
		lm := loss()
		v[i] = old
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-6+1e-5*math.Abs(fd) {
			t.Fatalf("%s: d/dv[%d] = %v, central difference %v", what, i, grad[i], fd)
		}
	}
}

func TestRefConvGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	n, c, h, w, oc, kh, kw := 2, 3, 6, 5, 4, 3, 3
	p := backend.ConvParams{StrideH: 2, StrideW: 1, PadH: 1, PadW: 2}
	x, wt, b := randVec(r, n*c*h*w, 1), randVec(r, oc*c*kh*kw, 1), randVec(r, oc, 1)
	y, _, _ := RefConv(x, n, c, h, w, wt, oc, kh, kw, b, p)
	proj := randVec(r, len(y), 1)
	dx, dw, db := RefConvBackward(x, n, c, h, w, wt, oc, kh, kw, proj, p)
	conv := func() []float64 { y, _, _ := RefConv(x, n, c, h, w, wt, oc, kh, kw, b, p); return y }
	fdCheck(t, "conv dx", x, func([]float64) []float64 { return conv() }, proj, dx)
	fdCheck(t, "conv dw", wt, func([]float64) []float64 { return conv() }, proj, dw)
	fdCheck(t, "conv db", b, func([]float64) []float64 { return conv() }, proj, db)
}

func TestRefLinearGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	n, in, out := 3, 5, 4
	x, w, b := randVec(r, n*in, 1), randVec(r, out*in, 1), randVec(r, out, 1)
	proj := randVec(r, n*out, 1)
	dx, dw, db := RefLinearBackward(x, n, in, w, out, proj)
	lin := func([]float64) []float64 { return RefLinear(x, n, in, w, out, b) }
	fdCheck(t, "linear dx", x, lin, proj, dx)
	fdCheck(t, "linear dw", w, lin, proj, dw)
	fdCheck(t, "linear db", b, lin, proj, db)
}

func TestRefBatchNormGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	n, c, hw := 3, 2, 4
	x, g, b := randVec(r, n*c*hw, 2), randVec(r, c, 1), randVec(r, c, 1)
	proj := randVec(r, len(x), 1)
	dx, dg, db := RefBatchNormBackward(x, n, c, hw, g, proj, 1e-5)
	bn := func([]float64) []float64 { y, _, _, _ := RefBatchNormTrain(x, n, c, hw, g, b, 1e-5); return y }
	fdCheck(t, "bn dx", x, bn, proj, dx)
	fdCheck(t, "bn dgamma", g, bn, proj, dg)
	fdCheck(t, "bn dbeta", b, bn, proj, db)
}

func TestRefRowNormalizeGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	n, k := 3, 6
	x := randVec(r, n*k, 1)
	proj := randVec(r, n*k, 1)
	dx := RefRowNormalizeBackward(x, n, k, proj, 0.1, 1e-12)
	fdCheck(t, "normalize dx", x, func([]float64) []float64 { y, _ := RefRowNormalize(x, n, k, 0.1, 1e-12); return y }, proj, dx)
}

func TestRefSoftmaxCEGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	n, k := 4, 5
	z := randVec(r, n*k, 3)
	labels := []int32{4, 0, 2, 2}
	_, dz := RefSoftmaxCE(z, n, k, labels)
	fdCheck(t, "cross-entropy dz", z, func([]float64) []float64 { l, _ := RefSoftmaxCE(z, n, k, labels); return []float64{l} }, []float64{1}, dz)
}

func TestRefMaxPoolArg(t *testing.T) {
	// 1 2 / 3 4 and a second window with its maximum in the top-left
	x := []float64{1, 2, 9, 0, 3, 4, 5, 6}
	y, arg, _, _ := RefMaxPool(x, 1, 1, 2, 4, backend.PoolParams{KH: 2, KW: 2, StrideH: 2, StrideW: 2})
	if y[0] != 4 || arg[0] != 5 || y[1] != 9 || arg[1] != 2 {
		t.Fatalf("maxpool = %v %v, want [4 9] [5 2]", y, arg)
	}
}
