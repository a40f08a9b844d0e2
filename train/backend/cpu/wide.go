package cpu

import (
	"github.com/t2f/t2f/kernels"
)

// Wide lowering for stride-1 unpadded ("valid") convolutions whose output is
// not much narrower than the input (LeNet's 14×14 → 10×10): the product is
// computed on an OutH × W grid instead of OutH × OutW, so row (c,kh,kw) of
// the lowered matrix is plane c shifted by kh·W + kw — one contiguous copy
// instead of OutH short ones, and col2im becomes one vector add per row. The
// W − OutW extra columns of each output row are junk: they are dropped when
// the output is scattered to NCHW, and the output gradient is zero there, so
// they add nothing to dW and dx.

// wideConv reports whether g gets the wide lowering: stride 1, no padding,
// narrower output, and at most 50% extra columns.
func wideConv(g kernels.ConvGeom) bool {
	return g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0 &&
		g.KW > 1 && 2*g.W <= 3*g.OutW()
}

// widePixels is the number of columns per image of the wide product.
func widePixels(g kernels.ConvGeom) int { return g.OutH() * g.W }

// im2colWide writes the wide lowered matrix of one image (columns
// OutH·W, leading dimension ld).
func im2colWide(g kernels.ConvGeom, x, col []float32, ld int) {
	p, pw := g.H*g.W, widePixels(g)
	for c := 0; c < g.C; c++ {
		plane := x[c*p : (c+1)*p]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:pw]
				off := kh*g.W + kw
				n := min(pw, p-off) // the tail past the plane is junk
				copy(row[:n], plane[off:off+n])
				clear(row[n:])
			}
		}
	}
}

// col2imWide is the adjoint of im2colWide (junk columns must hold zeros):
// it zeroes dx (C,H,W) and adds every row, shifted back, into its plane.
func col2imWide(g kernels.ConvGeom, col []float32, ld int, dx []float32) {
	p, pw := g.H*g.W, widePixels(g)
	clear(dx[:g.C*p])
	for c := 0; c < g.C; c++ {
		plane := dx[c*p : (c+1)*p]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				off := kh*g.W + kw
				n := min(pw, p-off)
				kernels.AddTo(plane[off:off+n], row[:n])
			}
		}
	}
}

// scatterWide copies the valid columns of a wide output block (oc rows of
// the chunk matrix, image j's columns at j·pw) into the NCHW image y (oc,
// OutH, OutW).
func scatterWide(g kernels.ConvGeom, out []float32, ld, j, oc int, y []float32) {
	oh, ow, pw := g.OutH(), g.OutW(), widePixels(g)
	for o := 0; o < oc; o++ {
		src := out[o*ld+j*pw:]
		dst := y[o*oh*ow : (o+1)*oh*ow]
		for r := 0; r < oh; r++ {
			copy(dst[r*ow:(r+1)*ow], src[r*g.W:r*g.W+ow])
		}
	}
}

// gatherWide is the reverse of scatterWide with zeros in the junk columns.
func gatherWide(g kernels.ConvGeom, dy []float32, oc int, out []float32, ld, j int) {
	oh, ow, pw := g.OutH(), g.OutW(), widePixels(g)
	for o := 0; o < oc; o++ {
		dst := out[o*ld+j*pw : o*ld+(j+1)*pw]
		src := dy[o*oh*ow : (o+1)*oh*ow]
		for r := 0; r < oh; r++ {
			copy(dst[r*g.W:r*g.W+ow], src[r*ow:(r+1)*ow])
			clear(dst[r*g.W+ow : (r+1)*g.W])
		}
	}
}
