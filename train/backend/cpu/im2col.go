package cpu

import "github.com/t2f/t2f/train/kernels"

// im2colLD is kernels.Im2colRef writing into a column matrix with leading
// dimension ld (ld ≥ OutH·OutW), so several images can sit side by side:
//
//	col[((c*KH+kh)*KW+kw)*ld + oh*OutW+ow] = x[c][oh*StrideH−PadH+kh][ow*StrideW−PadW+kw]  (0 outside)
func im2colLD(g kernels.ConvGeom, x, col []float32, ld int) {
	oh, ow := g.OutH(), g.OutW()
	for c := 0; c < g.C; c++ {
		xc := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:oh*ow]
				// Output columns whose input column is inside the image:
				// 0 ≤ ox·s − pad + kw < W.
				lo, hi := validRange(ow, g.StrideW, g.PadW, kw, g.W)
				for y := 0; y < oh; y++ {
					out := row[y*ow : (y+1)*ow]
					iy := y*g.StrideH - g.PadH + kh
					if iy < 0 || iy >= g.H {
						clear(out)
						continue
					}
					clear(out[:lo])
					clear(out[hi:])
					src := xc[iy*g.W:]
					if g.StrideW == 1 {
						copy(out[lo:hi], src[lo-g.PadW+kw:])
					} else {
						ix := lo*g.StrideW - g.PadW + kw
						for xx := lo; xx < hi; xx++ {
							out[xx] = src[ix]
							ix += g.StrideW
						}
					}
				}
			}
		}
	}
}

// col2imLD is the adjoint of im2colLD: it zeroes dx (C,H,W) and accumulates
// the column matrix (leading dimension ld) into it.
func col2imLD(g kernels.ConvGeom, col, dx []float32, ld int) {
	clear(dx[:g.C*g.H*g.W])
	oh, ow := g.OutH(), g.OutW()
	for c := 0; c < g.C; c++ {
		dc := dx[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:]
				row = row[:oh*ow]
				lo, hi := validRange(ow, g.StrideW, g.PadW, kw, g.W)
				if lo >= hi {
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + kh
					if iy < 0 || iy >= g.H {
						continue
					}
					in := row[y*ow : (y+1)*ow]
					dst := dc[iy*g.W:]
					if g.StrideW == 1 {
						d := dst[lo-g.PadW+kw : hi-g.PadW+kw]
						s := in[lo:hi]
						for i := range d {
							d[i] += s[i]
						}
					} else {
						ix := lo*g.StrideW - g.PadW + kw
						for xx := lo; xx < hi; xx++ {
							dst[ix] += in[xx]
							ix += g.StrideW
						}
					}
				}
			}
		}
	}
}

// validRange returns [lo,hi): the output columns ox with
// 0 ≤ ox·stride − pad + k < w.
func validRange(ow, stride, pad, k, w int) (int, int) {
	// ox ≥ ceil((pad−k)/stride)
	lo := 0
	if pad-k > 0 {
		lo = (pad - k + stride - 1) / stride
	}
	// ox·stride ≤ w−1+pad−k
	hi := 0
	if w-1+pad-k >= 0 {
		hi = (w-1+pad-k)/stride + 1
	}
	hi = min(hi, ow)
	lo = min(lo, hi)
	return lo, hi
}
