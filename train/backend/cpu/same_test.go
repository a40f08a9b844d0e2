package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/kernels"
)

// im2colSame/col2imSame against the kernels' references, inside NaN guard
// bands (ld wider than a row, and slack after the matrix).
func TestSameLowering(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range []kernels.ConvGeom{
		{C: 2, H: 5, W: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{C: 3, H: 6, W: 6, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
		{C: 1, H: 2, W: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{C: 2, H: 4, W: 3, KH: 1, KW: 3, StrideH: 1, StrideW: 1, PadH: 0, PadW: 1},
		{C: 2, H: 1, W: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{C: 1, H: 2, W: 3, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
		{C: 1, H: 1, W: 4, KH: 7, KW: 7, StrideH: 1, StrideW: 1, PadH: 3, PadW: 3},
	} {
		if !sameConv(g) {
			t.Fatalf("%+v not recognised as a same convolution", g)
		}
		p := g.OutH() * g.OutW()
		k := g.C * g.KH * g.KW
		x := make([]float32, g.C*g.H*g.W)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		want := make([]float32, k*p)
		kernels.Im2colRef(g, x, want)
		ld := p + 3
		nan := float32(math.NaN())
		col := make([]float32, k*ld+5)
		for i := range col {
			col[i] = nan
		}
		im2colSame(g, x, col, ld)
		for row := 0; row < k; row++ {
			for j := 0; j < p; j++ {
				if got := col[row*ld+j]; got != want[row*p+j] {
					t.Fatalf("%+v: col[%d][%d] = %v, want %v", g, row, j, got, want[row*p+j])
				}
			}
			for j := p; j < ld && row*ld+j < len(col); j++ {
				if v := col[row*ld+j]; v == v {
					t.Fatalf("%+v: im2colSame wrote the gap at row %d col %d", g, row, j)
				}
			}
		}
		// adjoint
		dcol := make([]float32, k*p)
		for i := range dcol {
			dcol[i] = float32(r.NormFloat64())
		}
		wantDx := make([]float32, len(x))
		kernels.Col2imRef(g, dcol, wantDx)
		wide := make([]float32, k*ld)
		for row := 0; row < k; row++ {
			copy(wide[row*ld:], dcol[row*p:(row+1)*p])
		}
		dx := make([]float32, len(x)+4)
		for i := range dx {
			dx[i] = nan
		}
		col2imSame(g, wide, ld, dx)
		for i := range wantDx {
			if math.Abs(float64(dx[i]-wantDx[i])) > 1e-5 {
				t.Fatalf("%+v: dx[%d] = %v, want %v", g, i, dx[i], wantDx[i])
			}
		}
		for _, v := range dx[len(x):] {
			if v == v {
				t.Fatalf("%+v: col2imSame wrote past dx", g)
			}
		}
	}
	if sameConv(kernels.ConvGeom{C: 1, H: 5, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}) {
		t.Fatal("stride 2 taken for a same convolution")
	}
}

// im2colS2 against the reference, in a NaN-guarded wider matrix.
func TestIm2colS2(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range []kernels.ConvGeom{
		{C: 2, H: 7, W: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 3, H: 8, W: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 2, H: 8, W: 8, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{C: 1, H: 15, W: 13, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3},
		{C: 1, H: 2, W: 2, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 2, H: 1, W: 1, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{C: 1, H: 5, W: 5, KH: 5, KW: 5, StrideH: 2, StrideW: 2},
		{C: 2, H: 70, W: 71, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 2, H: 28, W: 28, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	} {
		p, k := g.OutH()*g.OutW(), g.C*g.KH*g.KW
		x := make([]float32, g.C*g.H*g.W)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		want := make([]float32, k*p)
		kernels.Im2colRef(g, x, want)
		ld := p + 2
		col := make([]float32, k*ld)
		for i := range col {
			col[i] = float32(math.NaN())
		}
		im2colS2(g, x, col, ld)
		for row := 0; row < k; row++ {
			for j := 0; j < p; j++ {
				if got := col[row*ld+j]; got != want[row*p+j] {
					t.Fatalf("%+v: col[%d][%d] = %v, want %v", g, row, j, got, want[row*p+j])
				}
			}
			if v := col[row*ld+p]; v == v {
				t.Fatalf("%+v: wrote the gap after row %d", g, row)
			}
		}
		// The adjoint, col2imS2, against Col2imRef (gap entries hold NaN,
		// which must not be read).
		for i := range col {
			col[i] = float32(math.NaN())
		}
		dcol := make([]float32, k*p)
		for row := 0; row < k; row++ {
			for j := 0; j < p; j++ {
				dcol[row*p+j] = float32(r.NormFloat64())
				col[row*ld+j] = dcol[row*p+j]
			}
		}
		wantDx := make([]float32, len(x))
		kernels.Col2imRef(g, dcol, wantDx)
		dx := make([]float32, len(x)+3)
		for i := range dx {
			dx[i] = float32(math.NaN())
		}
		col2imS2(g, col, ld, dx)
		for i := range wantDx {
			if math.Abs(float64(dx[i]-wantDx[i])) > 1e-5 {
				t.Fatalf("%+v: col2imS2 dx[%d] = %v, want %v", g, i, dx[i], wantDx[i])
			}
		}
		for _, v := range dx[len(x):] {
			if v == v {
				t.Fatalf("%+v: col2imS2 wrote past dx", g)
			}
		}
	}
}
