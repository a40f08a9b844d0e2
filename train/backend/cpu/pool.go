package cpu

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

func poolShape(op string, x, y *backend.Tensor, p backend.PoolParams) (n, c, h, w, oh, ow int) {
	n, c, h, w = dims4(op, x)
	oh, ow = p.OutSize(h, w)
	mustShape(op, y, n, c, oh, ow)
	return
}

// MaxPool2dForward: y = window maxima of x.
func (b *Backend) MaxPool2dForward(x, y *backend.Tensor, p backend.PoolParams) {
	n, c, h, w, oh, ow := poolShape("maxpool2d", x, y, p)
	xd, yd := Data(x), Data(y)
	b.parallel(n*c, 8, func(wk, lo, hi int) {
		st := &b.workers[wk]
		for r := lo; r < hi; r++ {
			xp, yp := xd[r*h*w:(r+1)*h*w], yd[r*oh*ow:(r+1)*oh*ow]
			if p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 && p.PadH == 0 && p.PadW == 0 {
				pool2x2(xp, yp, w, oh, ow)
				continue
			}
			if pool3x3(p) {
				st.pool = grow(st.pool, (h+1)*w)
				maxPool3x3(xp, yp, st.pool, h, w, oh, ow, p.StrideH)
				continue
			}
			st.pool = grow(st.pool, h*ow)
			maxPoolPlane(xp, yp, st.pool, h, w, oh, ow, p)
		}
	})
}

// maxPoolPlane writes the window maxima of one plane, separably: the
// maximum of each input row over each window's columns into rows (h × ow),
// then of those over each window's rows. Both passes keep the first
// maximal value in scan order (a NaN, the first one, wins), so the value is
// the one argmaxWindow's row-major scan picks, down to the sign of a zero.
func maxPoolPlane(xp, yp, rows []float32, h, w, oh, ow int, p backend.PoolParams) {
	for y := range h {
		src := xp[y*w : (y+1)*w]
		dst := rows[y*ow : (y+1)*ow]
		for ox := range dst {
			x0 := ox*p.StrideW - p.PadW
			lo, hi := max(x0, 0), min(x0+p.KW, w)
			if lo >= hi {
				panic(fmt.Sprintf("cpu: maxpool2d: empty window at column %d", ox))
			}
			acc := src[lo]
			for _, v := range src[lo+1 : hi] {
				acc = firstMax(acc, v)
			}
			dst[ox] = acc
		}
	}
	for oy := range oh {
		y0 := oy*p.StrideH - p.PadH
		lo, hi := max(y0, 0), min(y0+p.KH, h)
		if lo >= hi {
			panic(fmt.Sprintf("cpu: maxpool2d: empty window at row %d", oy))
		}
		out := yp[oy*ow : (oy+1)*ow]
		copy(out, rows[lo*ow:(lo+1)*ow])
		for y := lo + 1; y < hi; y++ {
			src := rows[y*ow : (y+1)*ow]
			src = src[:len(out)]
			for ox, v := range src {
				out[ox] = firstMax(out[ox], v)
			}
		}
	}
}

// pool3x3 reports whether p is a 3×3 window with padding 1 and stride 1 or
// 2 in both directions (torchvision's ResNet stem pool), maxPool3x3's case.
func pool3x3(p backend.PoolParams) bool {
	return p.KH == 3 && p.KW == 3 && p.PadH == 1 && p.PadW == 1 && p.StrideH == p.StrideW && (p.StrideH == 1 || p.StrideH == 2)
}

// maxPool3x3 is maxPoolPlane for pool3x3's windows (stride s) on vectors:
// the row maxima of every column (kernels.FirstMax3 over the row shifted
// by −1, 0, +1) into rows (h × w), then for each output row the maxima of
// its window's rows (FirstMax3 again, into the last w of rows), taking
// every s-th column. The same values as maxPoolPlane, bit for bit.
func maxPool3x3(xp, yp, rows []float32, h, w, oh, ow, s int) {
	for y := range h {
		src := xp[y*w : (y+1)*w]
		dst := rows[y*w : (y+1)*w]
		if w == 1 {
			dst[0] = src[0]
			continue
		}
		dst[0] = firstMax(src[0], src[1])
		if w > 2 {
			kernels.FirstMax3(dst[1:w-1], src[:w-2], src[1:w-1], src[2:])
		}
		dst[w-1] = firstMax(src[w-2], src[w-1])
	}
	col := rows[h*w : (h+1)*w]
	for oy := range oh {
		lo, hi := max(s*oy-1, 0), min(s*oy+2, h)
		out := col
		if s == 1 {
			out = yp[oy*ow : (oy+1)*ow]
		}
		r0 := rows[lo*w : (lo+1)*w]
		switch hi - lo {
		case 1:
			copy(out, r0)
		case 2:
			r1 := rows[(lo+1)*w : (lo+2)*w]
			kernels.FirstMax3(out, r0, r1, r1)
		default:
			kernels.FirstMax3(out, r0, rows[(lo+1)*w:(lo+2)*w], rows[(lo+2)*w:(lo+3)*w])
		}
		if s == 2 {
			dst := yp[oy*ow : (oy+1)*ow]
			for ox := range dst {
				dst[ox] = col[2*ox]
			}
		}
	}
}

// firstMax is v when it is larger than acc or a NaN after a number, else
// acc: a left fold of it keeps the first maximal value (the first NaN).
func firstMax(acc, v float32) float32 {
	if v > acc || v != v && acc == acc {
		return v
	}
	return acc
}

// pool2x2 is the 2×2 stride-2 unpadded case (LeNet); Go's max propagates
// NaN like PyTorch's pooling.
func pool2x2(xp, yp []float32, w, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		r0 := xp[2*oy*w : 2*oy*w+2*ow]
		r1 := xp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		out := yp[oy*ow : (oy+1)*ow]
		r0 = r0[:2*len(out)]
		r1 = r1[:2*len(out)]
		for ox := range out {
			out[ox] = max(max(r0[2*ox], r0[2*ox+1]), max(r1[2*ox], r1[2*ox+1]))
		}
	}
}

// argmaxWindow is the flat index of the first maximal element of the window
// of output (oy, ox) in a plane, scanning row-major; NaN wins, as in PyTorch.
func argmaxWindow(xp []float32, h, w, oy, ox int, p backend.PoolParams) int {
	y0, x0 := oy*p.StrideH-p.PadH, ox*p.StrideW-p.PadW
	best := -1
	var bv float32
	for ky := max(y0, 0); ky < min(y0+p.KH, h); ky++ {
		row := xp[ky*w : (ky+1)*w]
		for kx := max(x0, 0); kx < min(x0+p.KW, w); kx++ {
			v := row[kx]
			if best < 0 || v > bv || v != v {
				best, bv = ky*w+kx, v
				if v != v {
					return best
				}
			}
		}
	}
	if best < 0 {
		panic(fmt.Sprintf("cpu: maxpool2d: empty window at (%d,%d)", oy, ox))
	}
	return best
}

// MaxPool2dBackward routes dy to each window's first maximum (skipping
// maxima ≤ 0 when reluInput).
func (b *Backend) MaxPool2dBackward(x, y, dy, dx *backend.Tensor, p backend.PoolParams, reluInput bool) {
	n, c, h, w, oh, ow := poolShape("maxpool2d backward", x, y, p)
	mustShape("maxpool2d backward", dy, y.Shape()...)
	mustShape("maxpool2d backward", dx, x.Shape()...)
	xd, yd, dyd, dxd := Data(x), Data(y), Data(dy), Data(dx)
	fast := p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 && p.PadH == 0 && p.PadW == 0
	b.parallel(n*c, 8, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xp, dyp, dxp := xd[r*h*w:(r+1)*h*w], dyd[r*oh*ow:(r+1)*oh*ow], dxd[r*h*w:(r+1)*h*w]
			if fast {
				pool2x2Backward(xp, dyp, dxp, yd[r*oh*ow:(r+1)*oh*ow], w, oh, ow, reluInput)
				continue
			}
			clear(dxp)
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					k := argmaxWindow(xp, h, w, oy, ox, p)
					if reluInput && !(xp[k] > 0) {
						continue
					}
					dxp[k] += dyp[oy*ow+ox]
				}
			}
		}
	})
}

// eqMask is all ones when a and b have the same bits, else 0.
func eqMask(a, b float32) uint32 {
	d := int32(math.Float32bits(a) ^ math.Float32bits(b))
	return ^uint32((d | -d) >> 31)
}

// pool2x2Backward is the 2×2 stride-2 case without branches: each window's
// gradient goes to the first element equal to its maximum y (a window whose
// maximum is NaN sends it to its last element), masked by y > 0 when
// reluInput; every element of dx is written (an odd last row/column, outside
// all windows, is zeroed).
func pool2x2Backward(xp, dyp, dxp, yp []float32, w, oh, ow int, reluInput bool) {
	if 2*oh*w != len(dxp) || 2*ow != w {
		clear(dxp)
	}
	for oy := 0; oy < oh; oy++ {
		r0 := xp[2*oy*w : 2*oy*w+2*ow]
		r1 := xp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		d0 := dxp[2*oy*w : 2*oy*w+2*ow]
		d1 := dxp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		ys := yp[oy*ow : (oy+1)*ow]
		gs := dyp[oy*ow : (oy+1)*ow]
		gs = gs[:len(ys)]
		for ox, yv := range ys {
			g := gs[ox]
			if reluInput {
				g = keepIf(g, yv)
			}
			gb := math.Float32bits(g)
			e0 := eqMask(r0[2*ox], yv)
			e1 := eqMask(r0[2*ox+1], yv) &^ e0
			e2 := eqMask(r1[2*ox], yv) &^ (e0 | e1)
			e3 := ^(e0 | e1 | e2)
			d0[2*ox] = math.Float32frombits(gb & e0)
			d0[2*ox+1] = math.Float32frombits(gb & e1)
			d1[2*ox] = math.Float32frombits(gb & e2)
			d1[2*ox+1] = math.Float32frombits(gb & e3)
		}
	}
}
