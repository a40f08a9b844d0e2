package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func convGeoms() []ConvGeom {
	return []ConvGeom{
		{C: 3, H: 32, W: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{C: 4, H: 16, W: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 5, H: 8, W: 8, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{C: 1, H: 28, W: 28, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
		{C: 6, H: 14, W: 14, KH: 5, KW: 5, StrideH: 1, StrideW: 1},
		{C: 2, H: 7, W: 9, KH: 7, KW: 7, StrideH: 2, StrideW: 3, PadH: 3, PadW: 3},
		{C: 2, H: 5, W: 6, KH: 3, KW: 2, StrideH: 3, StrideW: 1, PadH: 4, PadW: 5},
		{C: 1, H: 1, W: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		{C: 3, H: 4, W: 3, KH: 4, KW: 3, StrideH: 1, StrideW: 1},
	}
}

func nanSlice(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = guard
	}
	return x
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestIm2col checks Im2col/Im2colStride against Im2colRef, bit for bit
// (it only moves values); the gaps between strided rows and a guard band
// after the matrix must keep their NaNs.
func TestIm2col(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, g := range convGeoms() {
		for _, extra := range []int{0, 5} {
			t.Run(fmt.Sprintf("%+v/ld+%d", g, extra), func(t *testing.T) {
				x := make([]float32, g.C*g.H*g.W)
				for i := range x {
					x[i] = rng.Float32() - 0.5
				}
				rows, width := g.C*g.KH*g.KW, g.OutH()*g.OutW()
				ld := width + extra
				full := make([]float32, rows*width)
				Im2colRef(g, x, full)
				want := nanSlice(rows*ld + guardLen)
				for r := range rows {
					copy(want[r*ld:r*ld+width], full[r*width:(r+1)*width])
				}
				got := nanSlice(rows*ld + guardLen)
				Im2colStride(g, x, got, ld)
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("col[%d] = %v, want %v", i, got[i], want[i])
				}
				if extra == 0 {
					got2 := nanSlice(rows * width)
					Im2col(g, x, got2)
					if i := sameBits(got2, want[:rows*width]); i >= 0 {
						t.Fatalf("Im2col: col[%d] = %v, want %v", i, got2[i], want[i])
					}
				}
			})
		}
	}
}

// TestCol2im checks Col2im/Col2imStride against Col2imRef (sums in the same
// order, so bit for bit) with NaN in the gaps between rows of col, which must
// not be read, and a guard band after dx.
func TestCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, g := range convGeoms() {
		for _, extra := range []int{0, 3} {
			t.Run(fmt.Sprintf("%+v/ld+%d", g, extra), func(t *testing.T) {
				rows, width := g.C*g.KH*g.KW, g.OutH()*g.OutW()
				ld := width + extra
				dense := make([]float32, rows*width)
				col := nanSlice(rows * ld)
				for r := range rows {
					for j := range width {
						v := rng.Float32() - 0.5
						dense[r*width+j] = v
						col[r*ld+j] = v
					}
				}
				n := g.C * g.H * g.W
				want := nanSlice(n + guardLen)
				Col2imRef(g, dense, want)
				got := nanSlice(n + guardLen)
				Col2imStride(g, col, ld, got)
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("dx[%d] = %v, want %v", i, got[i], want[i])
				}
				got2 := nanSlice(n + guardLen)
				Col2im(g, dense, got2)
				if i := sameBits(got2, want); i >= 0 {
					t.Fatalf("Col2im: dx[%d] = %v, want %v", i, got2[i], want[i])
				}
			})
		}
	}
}

func BenchmarkIm2col(b *testing.B) {
	g := ConvGeom{C: 64, H: 32, W: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	x := make([]float32, g.C*g.H*g.W)
	col := make([]float32, g.C*9*g.OutH()*g.OutW())
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(4 * len(col)))
		for b.Loop() {
			Im2colRef(g, x, col)
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(4 * len(col)))
		b.ReportAllocs()
		for b.Loop() {
			Im2col(g, x, col)
		}
	})
	b.Run("col2im_ref", func(b *testing.B) {
		b.SetBytes(int64(4 * len(col)))
		for b.Loop() {
			Col2imRef(g, col, x)
		}
	})
	b.Run("col2im_fast", func(b *testing.B) {
		b.SetBytes(int64(4 * len(col)))
		b.ReportAllocs()
		for b.Loop() {
			Col2im(g, col, x)
		}
	})
}
