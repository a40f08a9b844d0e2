package cpu

import "github.com/t2f/t2f/kernels"

// sameConv reports whether g is a stride-1 "same" convolution (output size =
// input size: 2·pad = k − 1), where a row of the lowered matrix is the whole
// input plane shifted by a constant offset: im2colSame and col2imSame then
// move whole planes instead of one output row at a time.
func sameConv(g kernels.ConvGeom) bool {
	return g.StrideH == 1 && g.StrideW == 1 && 2*g.PadH == g.KH-1 && 2*g.PadW == g.KW-1
}

// im2colSame computes kernels.Im2colStride for a same convolution: row
// (c,kh,kw) of col is plane c shifted by (kh−PadH, kw−PadW) with the
// positions that fall into the zero padding cleared (one kernels.ShiftRows
// call per kernel offset over all channels, clear for the rows without a
// source row).
func im2colSame(g kernels.ConvGeom, x, col []float32, ld int) {
	h, w := g.H, g.W
	p := h * w
	kk := g.KH * g.KW
	for kh := 0; kh < g.KH; kh++ {
		dy := kh - g.PadH
		y0, y1 := min(max(0, -dy), h), min(h, h-dy) // output rows with a source row
		y1 = max(y0, y1)
		for kw := 0; kw < g.KW; kw++ {
			r0 := (kh*g.KW + kw) * ld
			if y0 > 0 || y1 < h {
				for c := 0; c < g.C; c++ {
					row := col[r0+c*kk*ld : r0+c*kk*ld+p]
					clear(row[:y0*w])
					clear(row[y1*w:])
				}
			}
			if y0 < y1 {
				kernels.ShiftRows(col, r0+y0*w, w, kk*ld, x, (y0+dy)*w, w, p, g.C, y1-y0, w, kw-g.PadW)
			}
		}
	}
}

// col2imSame is the adjoint of im2colSame: it zeroes dx (C,H,W) and adds
// every lowered row, shifted back, into its plane. It clears the padding
// entries of col first (col is scratch).
func col2imSame(g kernels.ConvGeom, col []float32, ld int, dx []float32) {
	h, w := g.H, g.W
	p := h * w
	clear(dx[:g.C*p])
	for c := 0; c < g.C; c++ {
		plane := dx[c*p : (c+1)*p]
		for kh := 0; kh < g.KH; kh++ {
			dy := kh - g.PadH
			for kw := 0; kw < g.KW; kw++ {
				dxs := kw - g.PadW
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:p]
				zeroWrapped(row, h, w, dy, dxs)
				off := dy*w + dxs
				lo, hi := shiftRange(p, off)
				if lo < hi {
					kernels.AddTo(plane[lo+off:hi+off], row[lo:hi])
				}
			}
		}
	}
}

// shiftRange is the range [lo, hi) of i in [0, p) with i+off in [0, p)
// (empty, lo = hi, when |off| ≥ p).
func shiftRange(p, off int) (int, int) {
	lo, hi := min(max(0, -off), p), min(p, p-off)
	return lo, max(lo, hi)
}

// zeroWrapped clears the entries of a shifted plane (shift dy rows, dx
// columns) whose source lies in the padding: the first/last |dy| rows and,
// in every row, the first/last |dx| columns (which the flat shift wrapped
// around from the neighbouring row).
func zeroWrapped(row []float32, h, w, dy, dx int) {
	if dy < 0 {
		clear(row[:min(-dy, h)*w])
	} else if dy > 0 {
		clear(row[max(h-dy, 0)*w:])
	}
	if dx == 0 {
		return
	}
	lo, hi := 0, min(-dx, w) // columns to clear in every row
	if dx > 0 {
		lo, hi = max(w-dx, 0), w
	}
	for y := 0; y < h; y++ {
		r := row[y*w : (y+1)*w]
		for x := lo; x < hi; x++ {
			r[x] = 0
		}
	}
}

// s2Rows returns the output rows [y0, y1) of a stride-2 convolution whose
// input row 2·y − PadH + kh lies inside the image.
func s2Rows(g kernels.ConvGeom, kh int) (int, int) {
	y0 := min(max(0, -floorDiv(kh-g.PadH, 2)), g.OutH()) // ceil((PadH−kh)/2)
	y1 := min(g.OutH(), floorDiv(g.H-1+g.PadH-kh, 2)+1)
	return y0, max(y0, y1)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// im2colS2 is kernels.Im2colStride for stride 2 in both directions (the
// downsampling convolutions): per kernel offset, one kernels.Stride2Rows
// call over all channels' output rows inside the image (it zero-fills the
// padding columns), clear for the others.
func im2colS2(g kernels.ConvGeom, x, col []float32, ld int) {
	oh, ow := g.OutH(), g.OutW()
	p := g.H * g.W
	kk := g.KH * g.KW
	for kh := 0; kh < g.KH; kh++ {
		y0, y1 := s2Rows(g, kh)
		for kw := 0; kw < g.KW; kw++ {
			r0 := (kh*g.KW + kw) * ld
			if y0 > 0 || y1 < oh {
				for c := 0; c < g.C; c++ {
					row := col[r0+c*kk*ld : r0+c*kk*ld+oh*ow]
					clear(row[:y0*ow])
					clear(row[y1*ow:])
				}
			}
			if y0 < y1 {
				kernels.Stride2Rows(col, r0+y0*ow, ow, kk*ld, x, (2*y0-g.PadH+kh)*g.W, 2*g.W, p, g.C, y1-y0, ow, kw-g.PadW, g.W)
			}
		}
	}
}

// col2imS2 is the adjoint of im2colS2 (kernels.Col2imStride for stride 2):
// it zeroes dx (C,H,W) and adds every lowered row back into every second
// column of its input rows (one kernels.Stride2AddRows call per kernel
// offset over all channels).
func col2imS2(g kernels.ConvGeom, col []float32, ld int, dx []float32) {
	ow := g.OutW()
	p := g.H * g.W
	kk := g.KH * g.KW
	clear(dx[:g.C*p])
	for kh := 0; kh < g.KH; kh++ {
		y0, y1 := s2Rows(g, kh)
		if y0 >= y1 {
			continue
		}
		for kw := 0; kw < g.KW; kw++ {
			r0 := (kh*g.KW + kw) * ld
			kernels.Stride2AddRows(dx, (2*y0-g.PadH+kh)*g.W, 2*g.W, p, col, r0+y0*ow, ow, kk*ld, g.C, y1-y0, ow, kw-g.PadW, g.W)
		}
	}
}
