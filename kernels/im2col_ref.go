package kernels

// ConvGeom describes a 2-D convolution over one image: input (C, H, W),
// kernel (KH, KW), stride, zero padding and the resulting output size.
type ConvGeom struct {
	C, H, W          int
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
}

// OutH is the output height: (H + 2·PadH − KH)/StrideH + 1.
func (g ConvGeom) OutH() int { return (g.H+2*g.PadH-g.KH)/g.StrideH + 1 }

// OutW is the output width: (W + 2·PadW − KW)/StrideW + 1.
func (g ConvGeom) OutW() int { return (g.W+2*g.PadW-g.KW)/g.StrideW + 1 }

// Im2colRef lowers one image x (C, H, W) to col (C·KH·KW, OutH·OutW):
//
//	col[(c*KH+kh)*KW+kw][oh*OutW+ow] = x[c][oh*StrideH−PadH+kh][ow*StrideW−PadW+kw]  (0 outside)
func Im2colRef(g ConvGeom, x, col []float32) {
	oh, ow := g.OutH(), g.OutW()
	for c := 0; c < g.C; c++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := ((c*g.KH+kh)*g.KW + kw) * oh * ow
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + kh
					for xx := 0; xx < ow; xx++ {
						ix := xx*g.StrideW - g.PadW + kw
						v := float32(0)
						if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
							v = x[(c*g.H+iy)*g.W+ix]
						}
						col[row+y*ow+xx] = v
					}
				}
			}
		}
	}
}

// Col2imRef is the adjoint of Im2colRef: it accumulates col
// (C·KH·KW, OutH·OutW) into dx (C, H, W), which it first zeroes.
//
// Its loops repeat Im2colRef's on purpose (one of the two exact duplicate
// runs the tree keeps): a reference is read on its own against the formula
// above, and the assembly and pure-Go kernels are tested against exactly
// these loops.
func Col2imRef(g ConvGeom, col, dx []float32) {
	clear(dx[:g.C*g.H*g.W])
	oh, ow := g.OutH(), g.OutW()
	for c := 0; c < g.C; c++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				row := ((c*g.KH+kh)*g.KW + kw) * oh * ow
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + kh
					if iy < 0 || iy >= g.H {
						continue
					}
					for xx := 0; xx < ow; xx++ {
						ix := xx*g.StrideW - g.PadW + kw
						if ix >= 0 && ix < g.W {
							dx[(c*g.H+iy)*g.W+ix] += col[row+y*ow+xx]
						}
					}
				}
			}
		}
	}
}
