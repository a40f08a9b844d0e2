package kernels

// Im2col computes what Im2colRef computes: one image x (C, H, W) lowered to
// col (C·KH·KW, OutH·OutW), copying contiguous runs of input rows.
func Im2col(g ConvGeom, x, col []float32) {
	Im2colStride(g, x, col, g.OutH()*g.OutW())
}

// Im2colStride is Im2col writing row r of the lowered matrix at
// col[r*ldcol : r*ldcol+OutH·OutW] (ldcol ≥ OutH·OutW), so several images can
// be lowered side by side into one wide matrix (image i at col[i*OutH*OutW:],
// ldcol = N·OutH·OutW) for a single GEMM. Elements between rows are not touched.
func Im2colStride(g ConvGeom, x, col []float32, ldcol int) {
	oh, ow := g.OutH(), g.OutW()
	checkConv(g, x, col, ldcol)
	for c := 0; c < g.C; c++ {
		plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				r := (c*g.KH+kh)*g.KW + kw
				row := col[r*ldcol : r*ldcol+oh*ow]
				lo, hi := validRange(ow, g.W, g.StrideW, g.PadW, kw)
				for y := 0; y < oh; y++ {
					dst := row[y*ow : (y+1)*ow]
					iy := y*g.StrideH - g.PadH + kh
					if iy < 0 || iy >= g.H || lo >= hi {
						clear(dst)
						continue
					}
					src := plane[iy*g.W : (iy+1)*g.W]
					clear(dst[:lo])
					clear(dst[hi:])
					ix0 := lo*g.StrideW - g.PadW + kw
					if g.StrideW == 1 {
						copy(dst[lo:hi], src[ix0:])
						continue
					}
					d := dst[lo:hi]
					s := src[ix0:]
					for i := range d {
						d[i] = s[i*g.StrideW]
					}
				}
			}
		}
	}
}

// Col2im computes what Col2imRef computes: it zeroes dx (C, H, W) and
// accumulates col (C·KH·KW, OutH·OutW) into it, the adjoint of Im2col.
func Col2im(g ConvGeom, col, dx []float32) {
	Col2imStride(g, col, g.OutH()*g.OutW(), dx)
}

// Col2imStride is Col2im reading row r of col at col[r*ldcol:] (the layout
// Im2colStride writes).
func Col2imStride(g ConvGeom, col []float32, ldcol int, dx []float32) {
	oh, ow := g.OutH(), g.OutW()
	checkConv(g, dx, col, ldcol)
	clear(dx[:g.C*g.H*g.W])
	for c := 0; c < g.C; c++ {
		plane := dx[c*g.H*g.W : (c+1)*g.H*g.W]
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				r := (c*g.KH+kh)*g.KW + kw
				row := col[r*ldcol : r*ldcol+oh*ow]
				lo, hi := validRange(ow, g.W, g.StrideW, g.PadW, kw)
				if lo >= hi {
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + kh
					if iy < 0 || iy >= g.H {
						continue
					}
					src := row[y*ow+lo : y*ow+hi]
					ix0 := lo*g.StrideW - g.PadW + kw
					dst := plane[iy*g.W : (iy+1)*g.W]
					if g.StrideW == 1 {
						addTo(dst[ix0:ix0+len(src)], src)
						continue
					}
					d := dst[ix0:]
					for i, v := range src {
						d[i*g.StrideW] += v
					}
				}
			}
		}
	}
}

// validRange returns the output columns [lo, hi) whose input column
// ox·stride − pad + kw lies inside [0, w).
func validRange(ow, w, stride, pad, kw int) (lo, hi int) {
	// ox·stride ≥ pad − kw  and  ox·stride ≤ w − 1 + pad − kw
	lo = max(0, ceilDiv(pad-kw, stride))
	hi = min(ow, floorDiv(w-1+pad-kw, stride)+1)
	return lo, max(hi, lo)
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// checkConv panics when the geometry is invalid or the slices are too short
// (programmer errors: the engine checks user-facing shapes before lowering).
func checkConv(g ConvGeom, img, col []float32, ldcol int) {
	if g.C < 1 || g.H < 1 || g.W < 1 || g.KH < 1 || g.KW < 1 || g.StrideH < 1 || g.StrideW < 1 || g.PadH < 0 || g.PadW < 0 {
		panic("kernels: invalid ConvGeom")
	}
	oh, ow := g.OutH(), g.OutW()
	if oh < 1 || ow < 1 {
		panic("kernels: ConvGeom has an empty output")
	}
	if ldcol < oh*ow {
		panic("kernels: ldcol smaller than OutH·OutW")
	}
	if len(img) < g.C*g.H*g.W {
		panic("kernels: image slice too short for ConvGeom")
	}
	if len(col) < (g.C*g.KH*g.KW-1)*ldcol+oh*ow {
		panic("kernels: col slice too short for ConvGeom")
	}
}
