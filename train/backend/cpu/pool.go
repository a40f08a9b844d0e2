package cpu

import (
	"fmt"

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
	b.parallel(n*c, 8, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xp, yp := xd[r*h*w:(r+1)*h*w], yd[r*oh*ow:(r+1)*oh*ow]
			if p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 && p.PadH == 0 && p.PadW == 0 {
				pool2x2(xp, yp, w, oh, ow)
				continue
			}
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					yp[oy*ow+ox] = xp[argmaxWindow(xp, h, w, oy, ox, p)]
				}
			}
		}
	})
}

// pool2x2 is the 2×2 stride-2 unpadded case (LeNet): first maximum of
// (a, b / c, d) in row-major order, NaN winning.
func pool2x2(xp, yp []float32, w, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		r0 := xp[2*oy*w : 2*oy*w+2*ow]
		r1 := xp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		out := yp[oy*ow : (oy+1)*ow]
		for ox := range out {
			_, v := max4(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
			out[ox] = v
		}
	}
}

// max4 returns the index (0..3) and value of the first maximum of a, b, c,
// d; a NaN wins at its position.
func max4(a, b, c, d float32) (int, float32) {
	i, m := 0, a
	if m != m {
		return 0, m
	}
	if b > m || b != b {
		i, m = 1, b
		if b != b {
			return i, m
		}
	}
	if c > m || c != c {
		i, m = 2, c
		if c != c {
			return i, m
		}
	}
	if d > m || d != d {
		i, m = 3, d
	}
	return i, m
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
	xd, dyd, dxd := Data(x), Data(dy), Data(dx)
	fast := p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 && p.PadH == 0 && p.PadW == 0
	b.parallel(n*c, 8, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xp, dyp, dxp := xd[r*h*w:(r+1)*h*w], dyd[r*oh*ow:(r+1)*oh*ow], dxd[r*h*w:(r+1)*h*w]
			clear(dxp)
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var k int
					if fast {
						i0 := 2*oy*w + 2*ox
						j, _ := max4(xp[i0], xp[i0+1], xp[i0+w], xp[i0+w+1])
						k = i0 + (j>>1)*w + j&1
					} else {
						k = argmaxWindow(xp, h, w, oy, ox, p)
					}
					if reluInput && !(xp[k] > 0) {
						continue
					}
					dxp[k] += dyp[oy*ow+ox]
				}
			}
		}
	})
}
