package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

// Run runs the conformance suite against backends made by newBackend (one
// fresh backend per sub-test).
func Run(t *testing.T, newBackend func() backend.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, backend.Backend)
	}{
		{"Memory", testMemory},
		{"Conv2d", testConv},
		{"Linear", testLinear},
		{"BatchNormTrain", testBatchNormTrain},
		{"BatchNormEval", testBatchNormEval},
		{"ConvBatchNormEval", testConvBatchNormEval},
		{"Elementwise", testElementwise},
		{"MaxPool2d", testMaxPool},
		{"GlobalAvgPool", testGlobalAvgPool},
		{"RowNormalize", testRowNormalize},
		{"SoftmaxCrossEntropy", testSoftmaxCE},
		{"SGD", testSGD},
		{"NonFinite", testNonFinite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend()) })
	}
}

func randVec(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = (r.Float64()*2 - 1) * scale
	}
	return v
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// f64 rounds v to float32 first, so the reference sees exactly the backend's inputs.
func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// up uploads v (rounded to float32) into a new tensor and returns it together
// with the rounded values.
func up(be backend.Backend, v []float64, shape ...int) (*backend.Tensor, []float64) {
	t := be.Alloc(shape...)
	h := f32(v)
	be.Upload(t, h)
	return t, f64(h)
}

func down(be backend.Backend, t *backend.Tensor) []float64 {
	h := make([]float32, t.Numel())
	be.Download(h, t)
	return f64(h)
}

// near fails t when got and want differ by more than atol + rtol·|want| at
// any index, naming the first such index.
func near(t *testing.T, what string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= atol+rtol*math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// abs64 is |v| element-wise: the reference run on absolute values gives
// Σ|a|·|b| of every output of a product, the scale of its rounding error.
func abs64(v []float64) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Abs(x)
	}
	return out
}

// nearProduct checks an output of products of depth k (at most k terms
// summed per element; mag holds Σ|a|·|b| per element). On an fp32 backend
// it is near with atol, rtol. On a bf16 backend the bound is derived from the
// arithmetic (kernels.BF16RelBound): operands rounded to bfloat16, products
// summed in float32, plus one float32 rounding of the result (bias, epilogue)
// — and the error must also show that the operands really were rounded
// (somewhere above 2⁻¹² of mag), so an fp32 product cannot pass as bf16.
func nearProduct(t *testing.T, be backend.Backend, what string, got, want, mag []float64, k int, atol, rtol float64) {
	t.Helper()
	if be.Precision() != backend.BF16 {
		near(t, what, got, want, atol, rtol)
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	rel := kernels.BF16RelBound(k)
	worst := 0.0
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if !(d <= rel*mag[i]+0x1p-23*math.Abs(want[i])+1e-30) {
			t.Fatalf("%s[%d] = %v, want %v (diff %.3g > bf16 bound %.3g of Σ|a·b| = %.3g)", what, i, got[i], want[i], d, rel, mag[i])
		}
		if mag[i] > 0 {
			worst = max(worst, d/mag[i])
		}
	}
	if len(got) >= 8 && worst < 0x1p-12 {
		t.Fatalf("%s: largest error %.3g of Σ|a·b|: operands not rounded to bfloat16 on a bf16 backend", what, worst)
	}
}

func relu64(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Max(x, 0)
	}
	return out
}

func testMemory(t *testing.T, be backend.Backend) {
	a := be.Alloc(2, 3)
	if got := down(be, a); fmt.Sprint(got) != fmt.Sprint(make([]float64, 6)) {
		t.Fatalf("Alloc not zeroed: %v", got)
	}
	be.Upload(a, []float32{1, 2, 3, 4, 5, 6})
	b := be.Alloc(6)
	be.Copy(b, a)
	near(t, "copy", down(be, b), []float64{1, 2, 3, 4, 5, 6}, 0, 0)
	be.Fill(b, -2.5)
	near(t, "fill", down(be, b), []float64{-2.5, -2.5, -2.5, -2.5, -2.5, -2.5}, 0, 0)
	r, err := a.Reshape(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "reshape shares storage", down(be, r), []float64{1, 2, 3, 4, 5, 6}, 0, 0)
	if _, err := a.Reshape(4, 2); err == nil {
		t.Fatal("Reshape [2 3] to [4 2]: no error")
	}
	be.Free(b)
}

func testConv(t *testing.T, be backend.Backend) {
	cases := []struct {
		n, c, h, w, oc, kh, kw int
		p                      backend.ConvParams
		bias, relu             bool
	}{
		{3, 2, 7, 6, 4, 3, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false, false},
		{5, 3, 9, 9, 6, 3, 3, backend.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false, false},
		{4, 5, 6, 6, 7, 1, 1, backend.ConvParams{StrideH: 1, StrideW: 1}, false, false},
		{3, 4, 8, 8, 6, 1, 1, backend.ConvParams{StrideH: 2, StrideW: 2}, false, false},
		{2, 3, 15, 13, 4, 7, 7, backend.ConvParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}, false, true},
		{3, 1, 12, 12, 6, 5, 5, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 2, PadW: 2}, true, true},
		{4, 6, 9, 9, 5, 5, 5, backend.ConvParams{StrideH: 1, StrideW: 1}, true, false},
		// many tiny maps: several images share one GEMM
		{21, 8, 4, 4, 8, 3, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false, true},
		{19, 8, 2, 2, 16, 1, 1, backend.ConvParams{StrideH: 1, StrideW: 1}, false, false},
		{1, 2, 5, 5, 3, 3, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, true, false},
		// a kernel covering the whole input (LeNet's block3)
		{9, 16, 5, 5, 24, 5, 5, backend.ConvParams{StrideH: 1, StrideW: 1}, true, true},
		{2, 3, 4, 6, 5, 4, 6, backend.ConvParams{StrideH: 2, StrideW: 3}, false, false},
		// unpadded stride-1 with a slightly narrower output (LeNet's block2)
		{5, 6, 14, 14, 16, 5, 5, backend.ConvParams{StrideH: 1, StrideW: 1}, true, true},
		{3, 2, 9, 12, 3, 3, 5, backend.ConvParams{StrideH: 1, StrideW: 1}, false, false},
		// 3×3 on 1×1 and 2×2 maps (ResNet's last stage on small inputs)
		{6, 4, 1, 1, 5, 3, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false, false},
		{5, 3, 2, 2, 4, 3, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false, true},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		name := fmt.Sprintf("x[%d %d %d %d]w[%d %d %d %d]%+v bias=%v relu=%v", tc.n, tc.c, tc.h, tc.w, tc.oc, tc.c, tc.kh, tc.kw, tc.p, tc.bias, tc.relu)
		t.Run(name, func(t *testing.T) {
			x, xv := up(be, randVec(r, tc.n*tc.c*tc.h*tc.w, 1), tc.n, tc.c, tc.h, tc.w)
			w, wv := up(be, randVec(r, tc.oc*tc.c*tc.kh*tc.kw, 0.5), tc.oc, tc.c, tc.kh, tc.kw)
			var b *backend.Tensor
			var bv []float64
			if tc.bias {
				b, bv = up(be, randVec(r, tc.oc, 0.5), tc.oc)
			}
			want, oh, ow := RefConv(xv, tc.n, tc.c, tc.h, tc.w, wv, tc.oc, tc.kh, tc.kw, bv, tc.p)
			mag, _, _ := RefConv(abs64(xv), tc.n, tc.c, tc.h, tc.w, abs64(wv), tc.oc, tc.kh, tc.kw, abs64(bv), tc.p)
			if tc.relu {
				want = relu64(want)
			}
			y := be.Alloc(tc.n, tc.oc, oh, ow)
			be.Fill(y, float32(math.NaN()))
			be.Conv2dForward(x, w, b, y, tc.p, tc.relu)
			nearProduct(t, be, "y", down(be, y), want, mag, tc.c*tc.kh*tc.kw, 1e-5, 2e-4)

			dy, dyv := up(be, randVec(r, len(want), 1), tc.n, tc.oc, oh, ow)
			wdx, wdw, wdb := RefConvBackward(xv, tc.n, tc.c, tc.h, tc.w, wv, tc.oc, tc.kh, tc.kw, dyv, tc.p)
			mdx, mdw, _ := RefConvBackward(abs64(xv), tc.n, tc.c, tc.h, tc.w, abs64(wv), tc.oc, tc.kh, tc.kw, abs64(dyv), tc.p)
			kdx, kdw := tc.oc*tc.kh*tc.kw, tc.n*oh*ow
			dx, dw := be.Alloc(x.Shape()...), be.Alloc(w.Shape()...)
			be.Fill(dx, float32(math.NaN()))
			be.Fill(dw, float32(math.NaN()))
			var db *backend.Tensor
			if tc.bias {
				db = be.Alloc(tc.oc)
				be.Fill(db, float32(math.NaN()))
			}
			// twice: scratch reuse must not leak state between calls
			for range 2 {
				be.Conv2dBackward(x, w, dy, dx, dw, db, tc.p)
				nearProduct(t, be, "dx", down(be, dx), wdx, mdx, kdx, 1e-4, 2e-4)
				nearProduct(t, be, "dw", down(be, dw), wdw, mdw, kdw, 1e-4, 2e-4)
				if tc.bias {
					near(t, "db", down(be, db), wdb, 1e-4, 2e-4)
				}
			}
			be.Conv2dBackward(x, w, dy, nil, dw, nil, tc.p)
			nearProduct(t, be, "dw without dx", down(be, dw), wdw, mdw, kdw, 1e-4, 2e-4)
			// The input gradient alone (eval-mode input gradients): the
			// same dx, bit for bit, as with dw.
			full := down(be, dx)
			be.Fill(dx, float32(math.NaN()))
			be.Conv2dBackward(x, w, dy, dx, nil, nil, tc.p)
			if got := down(be, dx); !slices.Equal(got, full) {
				t.Errorf("dx without dw differs from dx with dw")
			}
		})
	}
}

func testLinear(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		n, in, out int
		relu       bool
	}{{1, 3, 2, false}, {7, 20, 9, true}, {33, 84, 10, false}, {67, 130, 129, true}} { // the last one large enough to be split over threads
		x, xv := up(be, randVec(r, tc.n*tc.in, 1), tc.n, tc.in)
		w, wv := up(be, randVec(r, tc.out*tc.in, 0.5), tc.out, tc.in)
		b, bv := up(be, randVec(r, tc.out, 0.5), tc.out)
		want := RefLinear(xv, tc.n, tc.in, wv, tc.out, bv)
		mag := RefLinear(abs64(xv), tc.n, tc.in, abs64(wv), tc.out, abs64(bv))
		if tc.relu {
			want = relu64(want)
		}
		y := be.Alloc(tc.n, tc.out)
		be.LinearForward(x, w, b, y, tc.relu)
		nearProduct(t, be, "y", down(be, y), want, mag, tc.in, 1e-5, 2e-4)
		dy, dyv := up(be, randVec(r, tc.n*tc.out, 1), tc.n, tc.out)
		wdx, wdw, wdb := RefLinearBackward(xv, tc.n, tc.in, wv, tc.out, dyv)
		mdx, mdw, _ := RefLinearBackward(abs64(xv), tc.n, tc.in, abs64(wv), tc.out, abs64(dyv))
		dx, dw, db := be.Alloc(tc.n, tc.in), be.Alloc(tc.out, tc.in), be.Alloc(tc.out)
		be.Fill(db, 7)
		be.LinearBackward(x, w, dy, dx, dw, db)
		nearProduct(t, be, "dx", down(be, dx), wdx, mdx, tc.out, 1e-5, 2e-4)
		nearProduct(t, be, "dw", down(be, dw), wdw, mdw, tc.n, 1e-5, 2e-4)
		near(t, "db", down(be, db), wdb, 1e-5, 2e-4)
	}
}

func testBatchNormTrain(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		n, c, h, w int
		relu       bool
	}{{4, 3, 5, 5, false}, {2, 5, 3, 4, true}, {8, 2, 1, 1, false}, {3, 17, 7, 7, true}} {
		hw := tc.h * tc.w
		xr := randVec(r, tc.n*tc.c*hw, 2)
		for i := range xr {
			xr[i] += 1.5 // a mean far from zero
		}
		x, xv := up(be, xr, tc.n, tc.c, tc.h, tc.w)
		g, gv := up(be, randVec(r, tc.c, 1), tc.c)
		bb, bv := up(be, randVec(r, tc.c, 1), tc.c)
		rm0, rv0 := randVec(r, tc.c, 1), randVec(r, tc.c, 1)
		for i := range rv0 {
			rv0[i] = 1 + rv0[i]/2
		}
		rm, rmv := up(be, rm0, tc.c)
		rv, rvv := up(be, rv0, tc.c)
		y, sm, si := be.Alloc(x.Shape()...), be.Alloc(tc.c), be.Alloc(tc.c)
		const eps, mom = 1e-5, 0.1
		be.BatchNormTrain(x, g, bb, y, rm, rv, sm, si, backend.BatchNormParams{Momentum: mom, Eps: eps}, tc.relu)
		want, mean, varB, varU := RefBatchNormTrain(xv, tc.n, tc.c, hw, gv, bv, eps)
		if tc.relu {
			want = relu64(want)
		}
		near(t, "y", down(be, y), want, 2e-5, 2e-4)
		inv := make([]float64, tc.c)
		wantRM, wantRV := make([]float64, tc.c), make([]float64, tc.c)
		for i := range inv {
			inv[i] = 1 / math.Sqrt(varB[i]+eps)
			wantRM[i] = (1-mom)*rmv[i] + mom*mean[i]
			wantRV[i] = (1-mom)*rvv[i] + mom*varU[i]
		}
		near(t, "save mean", down(be, sm), mean, 1e-6, 1e-5)
		near(t, "save invstd", down(be, si), inv, 1e-6, 1e-5)
		near(t, "running mean", down(be, rm), wantRM, 1e-6, 1e-5)
		near(t, "running var", down(be, rv), wantRV, 1e-6, 1e-5)

		dyr := randVec(r, len(xv), 1)
		dy, dyv := up(be, dyr, x.Shape()...)
		yv := down(be, y)
		eff := append([]float64(nil), dyv...)
		if tc.relu {
			for i := range eff {
				if yv[i] <= 0 {
					eff[i] = 0
				}
			}
		}
		wdx, wdg, wdb := RefBatchNormBackward(xv, tc.n, tc.c, hw, gv, eff, eps)
		dx, dg, db := be.Alloc(x.Shape()...), be.Alloc(tc.c), be.Alloc(tc.c)
		be.BatchNormBackward(x, y, dy, g, sm, si, dx, dg, db, tc.relu)
		near(t, "dx", down(be, dx), wdx, 2e-5, 5e-4)
		near(t, "dgamma", down(be, dg), wdg, 2e-5, 2e-4)
		near(t, "dbeta", down(be, db), wdb, 2e-5, 2e-4)
	}
}

func testBatchNormEval(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(7, 8))
	n, c, h, w := 3, 4, 3, 2
	x, xv := up(be, randVec(r, n*c*h*w, 2), n, c, h, w)
	g, gv := up(be, randVec(r, c, 1), c)
	b, bv := up(be, randVec(r, c, 1), c)
	m, mv := up(be, randVec(r, c, 1), c)
	vr := randVec(r, c, 0.5)
	for i := range vr {
		vr[i] += 1
	}
	v, vv := up(be, vr, c)
	for _, relu := range []bool{false, true} {
		y := be.Alloc(n, c, h, w)
		be.BatchNormEval(x, g, b, y, m, v, 1e-5, relu)
		want := RefBatchNormEval(xv, n, c, h*w, gv, bv, mv, vv, 1e-5)
		if relu {
			want = relu64(want)
		}
		near(t, "y", down(be, y), want, 1e-5, 1e-4)
	}
}

// testConvBatchNormEval checks the optional fused eval conv+BN(+residual)
// (+ReLU) against the separate ops, bit for bit.
func testConvBatchNormEval(t *testing.T, be backend.Backend) {
	f, ok := be.(backend.ConvBatchNormEvaler)
	if !ok {
		t.Skipf("%s has no fused Conv2dBatchNormEval", be.Name())
	}
	cases := []struct {
		n, c, h, w, oc, k int
		p                 backend.ConvParams
	}{
		{3, 4, 8, 8, 6, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},   // implicit
		{2, 3, 9, 9, 5, 3, backend.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},   // lowered
		{3, 8, 6, 6, 16, 1, backend.ConvParams{StrideH: 1, StrideW: 1}},                    // pointwise
		{2, 4, 8, 8, 8, 1, backend.ConvParams{StrideH: 2, StrideW: 2}},                     // strided 1×1
		{21, 8, 4, 4, 8, 3, backend.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},  // images share a GEMM
		{2, 3, 15, 13, 4, 7, backend.ConvParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}}, // 7×7 stem
		{5, 6, 3, 3, 7, 3, backend.ConvParams{StrideH: 1, StrideW: 1}},                     // whole-input kernel
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, tc := range cases {
		x, _ := up(be, randVec(r, tc.n*tc.c*tc.h*tc.w, 1), tc.n, tc.c, tc.h, tc.w)
		w, _ := up(be, randVec(r, tc.oc*tc.c*tc.k*tc.k, 0.5), tc.oc, tc.c, tc.k, tc.k)
		g, _ := up(be, randVec(r, tc.oc, 1), tc.oc)
		b, _ := up(be, randVec(r, tc.oc, 1), tc.oc)
		m, _ := up(be, randVec(r, tc.oc, 0.5), tc.oc)
		vr := randVec(r, tc.oc, 0.5)
		for i := range vr {
			vr[i] += 1
		}
		v, _ := up(be, vr, tc.oc)
		oh, ow := tc.p.OutSize(tc.h, tc.w, tc.k, tc.k)
		res, _ := up(be, randVec(r, tc.n*tc.oc*oh*ow, 1), tc.n, tc.oc, oh, ow)
		for _, withRes := range []bool{false, true} {
			for _, relu := range []bool{false, true} {
				conv, bn, want, got := be.Alloc(tc.n, tc.oc, oh, ow), be.Alloc(tc.n, tc.oc, oh, ow), be.Alloc(tc.n, tc.oc, oh, ow), be.Alloc(tc.n, tc.oc, oh, ow)
				be.Conv2dForward(x, w, nil, conv, tc.p, false)
				be.BatchNormEval(conv, g, b, bn, m, v, 1e-5, relu && !withRes)
				var rt *backend.Tensor
				switch {
				case withRes && relu:
					rt = res
					be.AddReLU(bn, res, want)
				case withRes:
					rt = res
					be.Add(bn, res, want)
				default:
					be.Copy(want, bn)
				}
				be.Fill(got, float32(math.NaN()))
				f.Conv2dBatchNormEval(x, w, got, tc.p, g, b, m, v, 1e-5, rt, relu)
				name := fmt.Sprintf("x%v w%v %+v res=%v relu=%v", x.Shape(), w.Shape(), tc.p, withRes, relu)
				near(t, name, down(be, got), down(be, want), 0, 0)
			}
		}
	}
}

func testElementwise(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{5, 100003} { // small, and large enough to be split over threads
		a, av := up(be, randVec(r, n, 1), n)
		b, bv := up(be, randVec(r, n, 1), n)
		y := be.Alloc(n)
		sum, sumRelu, relu, div := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range av {
			sum[i] = float64(float32(av[i] + bv[i]))
			sumRelu[i] = math.Max(sum[i], 0)
			relu[i] = math.Max(av[i], 0)
			div[i] = float64(float32(av[i]) / float32(0.1))
		}
		be.Add(a, b, y)
		near(t, "add", down(be, y), sum, 0, 0)
		be.AddReLU(a, b, y)
		near(t, "add relu", down(be, y), sumRelu, 0, 0)
		be.ReLU(a, y)
		near(t, "relu", down(be, y), relu, 0, 0)
		be.DivScalar(a, y, 0.1)
		near(t, "div scalar", down(be, y), div, 0, 0)
		// ReLU backward passes dy where y > 0.
		be.ReLU(a, y)
		dx := be.Alloc(n)
		be.ReLUBackward(y, b, dx)
		want := make([]float64, n)
		for i := range want {
			if av[i] > 0 {
				want[i] = bv[i]
			}
		}
		near(t, "relu backward", down(be, dx), want, 0, 0)
		be.ReLUBackward(y, b, b) // in place
		near(t, "relu backward in place", down(be, b), want, 0, 0)
		be.Add(a, a, a) // aliased output
		for i := range av {
			av[i] *= 2
		}
		near(t, "add in place", down(be, a), av, 0, 0)
	}
}

func testMaxPool(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		n, c, h, w int
		p          backend.PoolParams
	}{
		{2, 3, 8, 8, backend.PoolParams{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
		{2, 2, 9, 7, backend.PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
		{1, 2, 5, 5, backend.PoolParams{KH: 2, KW: 2, StrideH: 2, StrideW: 2}}, // odd size drops the last row
	} {
		x, xv := up(be, randVec(r, tc.n*tc.c*tc.h*tc.w, 1), tc.n, tc.c, tc.h, tc.w)
		want, arg, oh, ow := RefMaxPool(xv, tc.n, tc.c, tc.h, tc.w, tc.p)
		y := be.Alloc(tc.n, tc.c, oh, ow)
		be.MaxPool2dForward(x, y, tc.p)
		near(t, "y", down(be, y), want, 0, 0)
		dy, dyv := up(be, randVec(r, len(want), 1), tc.n, tc.c, oh, ow)
		wdx := make([]float64, len(xv))
		for o, k := range arg {
			wdx[k] += dyv[o]
		}
		dx := be.Alloc(x.Shape()...)
		be.Fill(dx, 3)
		be.MaxPool2dBackward(x, y, dy, dx, tc.p, false)
		near(t, "dx", down(be, dx), wdx, 1e-6, 1e-6)

		// On a ReLU output (many zero maxima) with reluInput: ReLU's mask too.
		xr := relu64(xv)
		xt, _ := up(be, xr, x.Shape()...)
		wantR, argR, _, _ := RefMaxPool(xr, tc.n, tc.c, tc.h, tc.w, tc.p)
		be.MaxPool2dForward(xt, y, tc.p)
		near(t, "relu-input y", down(be, y), wantR, 0, 0)
		wdx = make([]float64, len(xv))
		for o, k := range argR {
			if xr[k] > 0 {
				wdx[k] += dyv[o]
			}
		}
		be.MaxPool2dBackward(xt, y, dy, dx, tc.p, true)
		near(t, "relu-input dx", down(be, dx), wdx, 1e-6, 1e-6)
	}
	// ties go to the first element of the window
	x := be.Alloc(1, 1, 2, 2)
	be.Upload(x, []float32{1, 1, 1, 1})
	y, dy, dx := be.Alloc(1, 1, 1, 1), be.Alloc(1, 1, 1, 1), be.Alloc(1, 1, 2, 2)
	be.Fill(dy, 1)
	p := backend.PoolParams{KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	be.MaxPool2dForward(x, y, p)
	be.MaxPool2dBackward(x, y, dy, dx, p, false)
	near(t, "tie dx", down(be, dx), []float64{1, 0, 0, 0}, 0, 0)
}

func testGlobalAvgPool(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(13, 14))
	n, c, h, w := 3, 5, 4, 3
	x, xv := up(be, randVec(r, n*c*h*w, 1), n, c, h, w)
	want := make([]float64, n*c)
	for i := range want {
		for j := 0; j < h*w; j++ {
			want[i] += xv[i*h*w+j] / float64(h*w)
		}
	}
	y := be.Alloc(n, c)
	be.GlobalAvgPoolForward(x, y)
	near(t, "y", down(be, y), want, 1e-6, 1e-5)
	dy, dyv := up(be, randVec(r, n*c, 1), n, c)
	wdx := make([]float64, len(xv))
	for i := range wdx {
		wdx[i] = dyv[i/(h*w)] / float64(h*w)
	}
	dx := be.Alloc(x.Shape()...)
	be.GlobalAvgPoolBackward(dy, dx)
	near(t, "dx", down(be, dx), wdx, 1e-7, 1e-6)
}

func testRowNormalize(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(15, 16))
	n, k := 5, 12
	xr := randVec(r, n*k, 3)
	for j := 0; j < k; j++ {
		xr[2*k+j] = 0 // a zero row: the eps clamp
	}
	xr[4*k] = 1e-14 // a row below eps
	for j := 1; j < k; j++ {
		xr[4*k+j] = 0
	}
	x, xv := up(be, xr, n, k)
	const s, eps = 0.1, 1e-12
	want, wantN := RefRowNormalize(xv, n, k, s, eps)
	y, norms := be.Alloc(n, k), be.Alloc(n)
	be.RowNormalize(x, y, norms, s, eps)
	near(t, "y", down(be, y), want, 1e-5, 1e-5)
	near(t, "norms", down(be, norms), wantN, 0, 1e-6)
	dy, dyv := up(be, randVec(r, n*k, 1), n, k)
	wdx := RefRowNormalizeBackward(xv, n, k, dyv, s, eps)
	dx := be.Alloc(n, k)
	be.RowNormalizeBackward(x, norms, dy, dx, s, eps)
	near(t, "dx", down(be, dx), wdx, 1e-5, 1e-4)
}

func testSoftmaxCE(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(17, 18))
	n, k := 6, 10
	zr := randVec(r, n*k, 20) // large logits: the max-subtraction matters
	z, zv := up(be, zr, n, k)
	labels := []int32{0, 9, 3, 3, 7, 1}
	wantL, wantD := RefSoftmaxCE(zv, n, k, labels)
	dz := be.Alloc(n, k)
	got := be.SoftmaxCrossEntropy(z, labels, dz)
	if math.Abs(got-wantL) > 1e-9*math.Max(1, wantL) {
		t.Fatalf("loss = %v, want %v", got, wantL)
	}
	near(t, "dlogits", down(be, dz), wantD, 1e-7, 1e-5)
	if got2 := be.SoftmaxCrossEntropy(z, labels, nil); got2 != got {
		t.Fatalf("loss without gradient = %v, with = %v", got2, got)
	}
}

func testSGD(t *testing.T, be backend.Backend) {
	r := rand.New(rand.NewPCG(19, 20))
	n := 50
	for _, p := range []backend.SGDParams{
		{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true},
		{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-3},
		{LR: 0.2},
	} {
		param, pv := up(be, randVec(r, n, 1), n)
		buf := be.Alloc(n)
		var bufv []float64
		grad := be.Alloc(n)
		for step := 0; step < 3; step++ {
			g := f32(randVec(r, n, 1))
			be.Upload(grad, g)
			be.SGDStep(param, grad, buf, p, step == 0)
			if bufv == nil {
				bufv = make([]float64, n)
			}
			for i := range pv {
				// PyTorch's order, rounded to float32 at each tensor op.
				d := float32(float32(g[i]) + p.WeightDecay*float32(pv[i]))
				if p.Momentum != 0 {
					if step == 0 {
						bufv[i] = float64(d)
					} else {
						bufv[i] = float64(float32(p.Momentum*float32(bufv[i])) + d)
					}
					if p.Nesterov {
						d = d + float32(p.Momentum*float32(bufv[i]))
					} else {
						d = float32(bufv[i])
					}
				}
				pv[i] = float64(float32(pv[i]) - float32(p.LR*d))
			}
			near(t, fmt.Sprintf("%+v step %d param", p, step), down(be, param), pv, 1e-7, 1e-6)
			if p.Momentum != 0 {
				near(t, fmt.Sprintf("%+v step %d buf", p, step), down(be, buf), bufv, 1e-7, 1e-6)
			}
		}
	}
}

func testNonFinite(t *testing.T, be backend.Backend) {
	x := be.Alloc(4)
	if be.NonFinite(x) {
		t.Fatal("zeros reported non-finite")
	}
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		be.Upload(x, []float32{0, 1, v, 2})
		if !be.NonFinite(x) {
			t.Fatalf("%v not reported", v)
		}
	}
	be.Upload(x, []float32{math.MaxFloat32, -math.MaxFloat32, 1e-45, 0})
	if be.NonFinite(x) {
		t.Fatal("finite extremes reported non-finite")
	}
}
