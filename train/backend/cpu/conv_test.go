package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
)

// TestImplicitConv checks the convolutions that take the implicit path
// (stride-1 same, no 32-column sliver over more than two images) against
// the float64 reference, forward and backward, at 1 to 3 threads, with one
// and several images per GEMM (the conformance suite has few such shapes).
func TestImplicitConv(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, tc := range []struct {
		n, c, h, w, oc, k int
		bias, relu        bool
	}{
		{3, 2, 16, 16, 5, 3, false, false},
		{2, 3, 17, 21, 4, 3, true, true},
		{3, 2, 16, 18, 3, 5, false, true},
		{2, 1, 60, 60, 3, 3, false, false}, // two GEMM column blocks
		// several images per GEMM: slivers straddle two images
		{9, 3, 14, 14, 4, 3, true, false},
		{13, 2, 7, 7, 5, 3, false, true},
		{7, 2, 6, 6, 3, 5, false, false},
		{40, 3, 4, 4, 5, 3, false, true}, // 16-pixel maps, 16 images per GEMM
	} {
		p := backend.ConvParams{StrideH: 1, StrideW: 1, PadH: tc.k / 2, PadW: tc.k / 2}
		for _, threads := range []int{1, 2, 3} {
			be := New(threads)
			name := fmt.Sprintf("%+v/threads=%d", tc, threads)
			if cs := be.convShape("test", be.Alloc(tc.n, tc.c, tc.h, tc.w), be.Alloc(tc.oc, tc.c, tc.k, tc.k), be.Alloc(tc.n, tc.oc, tc.h, tc.w), p); !cs.implicit && be.workers[0].gemm.Kernel() == "avx512" {
				t.Fatalf("%s: not on the implicit path", name)
			}
			xv, wv := randVec(r, tc.n*tc.c*tc.h*tc.w), randVec(r, tc.oc*tc.c*tc.k*tc.k)
			x, w := upload(be, xv, tc.n, tc.c, tc.h, tc.w), upload(be, wv, tc.oc, tc.c, tc.k, tc.k)
			var b *backend.Tensor
			var bv []float64
			if tc.bias {
				bv = randVec(r, tc.oc)
				b = upload(be, bv, tc.oc)
			}
			want, _, _ := backendtest.RefConv(xv, tc.n, tc.c, tc.h, tc.w, wv, tc.oc, tc.k, tc.k, bv, p)
			if tc.relu {
				for i, v := range want {
					want[i] = max(v, 0)
				}
			}
			y := be.Alloc(tc.n, tc.oc, tc.h, tc.w)
			be.Fill(y, float32(math.NaN()))
			be.Conv2dForward(x, w, b, y, p, tc.relu)
			closeTo(t, name+" y", Data(y), want)

			dyv := randVec(r, len(want))
			dy := upload(be, dyv, tc.n, tc.oc, tc.h, tc.w)
			wdx, wdw, wdb := backendtest.RefConvBackward(xv, tc.n, tc.c, tc.h, tc.w, wv, tc.oc, tc.k, tc.k, dyv, p)
			dx, dw, db := be.Alloc(x.Shape()...), be.Alloc(w.Shape()...), be.Alloc(tc.oc)
			be.Fill(dx, float32(math.NaN()))
			be.Conv2dBackward(x, w, dy, dx, dw, db, p)
			closeTo(t, name+" dx", Data(dx), wdx)
			closeTo(t, name+" dw", Data(dw), wdw)
			closeTo(t, name+" db", Data(db), wdb)
		}
	}
}

func randVec(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return v
}

func upload(be *Backend, v []float64, shape ...int) *backend.Tensor {
	t := be.Alloc(shape...)
	d := Data(t)
	for i, x := range v {
		d[i] = float32(x)
	}
	return t
}

// closeTo fails when got differs from the float64 reference by more than
// 1e-4 relative to the reference's largest magnitude (float32 sums of a few
// hundred terms).
func closeTo(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); !(d <= 1e-4*max(scale, 1)) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], v)
		}
	}
}

// TestConvThreadsSameBits: a convolution whose weights are large enough to
// be packed by all workers (packA) gives the same bits at 1 and 3 threads,
// forward (implicit and stride 2) and backward, in both precisions.
func TestConvThreadsSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(73, 74))
	n, c, h, w, oc := 4, 128, 8, 8, 64 // weights 64 × 1152: several K blocks
	for _, prec := range backend.Precisions {
		for _, stride := range []int{1, 2} {
			p := backend.ConvParams{StrideH: stride, StrideW: stride, PadH: 1, PadW: 1}
			oh := (h+2-3)/stride + 1
			xv, wv := randVec(r, n*c*h*w), randVec(r, oc*c*9)
			dyv := randVec(r, n*oc*oh*oh)
			var ref [2][]float32
			for i, threads := range []int{1, 3} {
				be, err := NewPrecision(threads, prec)
				if err != nil {
					t.Fatal(err)
				}
				if 64*1152 < packAMinParallel {
					t.Fatal("weights below the parallel packing threshold")
				}
				x, wt := upload(be, xv, n, c, h, w), upload(be, wv, oc, c, 3, 3)
				y, dy := be.Alloc(n, oc, oh, oh), upload(be, dyv, n, oc, oh, oh)
				dx, dw := be.Alloc(n, c, h, w), be.Alloc(oc, c, 3, 3)
				be.Conv2dForward(x, wt, nil, y, p, false)
				be.Conv2dBackward(x, wt, dy, dx, dw, nil, p)
				got := [2][]float32{Data(y), Data(dx)}
				if i == 0 {
					ref = got
					continue
				}
				// (dw sums per-worker partials: only y and dx are
				// independent of the thread count.)
				for j, name := range []string{"y", "dx"} {
					for e := range got[j] {
						if math.Float32bits(got[j][e]) != math.Float32bits(ref[j][e]) {
							t.Fatalf("%s stride %d: %s[%d] = %v at 3 threads, %v at 1", prec, stride, name, e, got[j][e], ref[j][e])
						}
					}
				}
			}
		}
	}
}
