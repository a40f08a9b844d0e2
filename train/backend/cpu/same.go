package cpu

import "github.com/t2f/t2f/train/kernels"

// sameConv reports whether g is a stride-1 "same" convolution (output size =
// input size: 2·pad = k − 1), where a row of the lowered matrix is the whole
// input plane shifted by a constant offset: im2colSame and col2imSame then
// move whole planes instead of one output row at a time.
func sameConv(g kernels.ConvGeom) bool {
	return g.StrideH == 1 && g.StrideW == 1 && 2*g.PadH == g.KH-1 && 2*g.PadW == g.KW-1
}

// im2colSame computes kernels.Im2colStride for a same convolution: row
// (c,kh,kw) of col is plane c shifted by (kh−PadH)·W + (kw−PadW), with the
// positions that fall into the zero padding cleared.
func im2colSame(g kernels.ConvGeom, x, col []float32, ld int) {
	h, w := g.H, g.W
	p := h * w
	for c := 0; c < g.C; c++ {
		plane := x[c*p : (c+1)*p]
		for kh := 0; kh < g.KH; kh++ {
			dy := kh - g.PadH
			for kw := 0; kw < g.KW; kw++ {
				dx := kw - g.PadW
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:p]
				off := dy*w + dx
				lo, hi := shiftRange(p, off)
				clear(row[:lo])
				if lo < hi {
					copy(row[lo:hi], plane[lo+off:hi+off])
				}
				clear(row[hi:])
				zeroWrapped(row, h, w, dy, dx)
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

// im2colS2 is kernels.Im2colStride for stride 2 in both directions (the
// downsampling convolutions): the column ranges inside the image are found
// once per kernel offset and the gather loop has no bounds checks.
func im2colS2(g kernels.ConvGeom, x, col []float32, ld int) {
	oh, ow := g.OutH(), g.OutW()
	for c := 0; c < g.C; c++ {
		plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:oh*ow]
				// ox with 0 ≤ 2·ox − PadW + kw < W
				lo := max(0, (g.PadW-kw+1)/2)
				hi := min(ow, (g.W-1+g.PadW-kw)/2+1)
				if g.W-1+g.PadW-kw < 0 {
					hi = 0
				}
				lo = min(lo, max(hi, 0))
				for y := 0; y < oh; y++ {
					out := row[y*ow : (y+1)*ow]
					iy := 2*y - g.PadH + kh
					if iy < 0 || iy >= g.H || lo >= hi {
						clear(out)
						continue
					}
					clear(out[:lo])
					clear(out[hi:])
					ix0 := 2*lo - g.PadW + kw
					src := plane[iy*g.W+ix0 : iy*g.W+ix0+2*(hi-lo-1)+1]
					d := out[lo:hi]
					for i := range d {
						d[i] = src[2*i]
					}
				}
			}
		}
	}
}
