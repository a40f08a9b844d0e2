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
	b.parallel(n*c, 1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xp, yp := xd[r*h*w:(r+1)*h*w], yd[r*oh*ow:(r+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					yp[oy*ow+ox] = xp[argmaxWindow(xp, h, w, oy, ox, p)]
				}
			}
		}
	})
}

// argmaxWindow is the flat index of the first maximal element of the window
// of output (oy, ox) in a plane, scanning row-major; NaN wins, as in PyTorch.
func argmaxWindow(xp []float32, h, w, oy, ox int, p backend.PoolParams) int {
	y0, x0 := oy*p.StrideH-p.PadH, ox*p.StrideW-p.PadW
	best := -1
	var bv float32
	for ky := max(y0, 0); ky < min(y0+p.KH, h); ky++ {
		for kx := max(x0, 0); kx < min(x0+p.KW, w); kx++ {
			v := xp[ky*w+kx]
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

// MaxPool2dBackward routes dy to each window's first maximum.
func (b *Backend) MaxPool2dBackward(x, y, dy, dx *backend.Tensor, p backend.PoolParams) {
	n, c, h, w, oh, ow := poolShape("maxpool2d backward", x, y, p)
	mustShape("maxpool2d backward", dy, y.Shape()...)
	mustShape("maxpool2d backward", dx, x.Shape()...)
	xd, dyd, dxd := Data(x), Data(dy), Data(dx)
	b.parallel(n*c, 1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xp, dyp, dxp := xd[r*h*w:(r+1)*h*w], dyd[r*oh*ow:(r+1)*oh*ow], dxd[r*h*w:(r+1)*h*w]
			clear(dxp)
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					dxp[argmaxWindow(xp, h, w, oy, ox, p)] += dyp[oy*ow+ox]
				}
			}
		}
	})
}

// GlobalAvgPoolForward: y (N,C) = plane means of x (N,C,H,W).
func (b *Backend) GlobalAvgPoolForward(x, y *backend.Tensor) {
	n, c, h, w := dims4("global avg pool", x)
	mustShape("global avg pool", y, n, c)
	xd, yd := Data(x), Data(y)
	hw := h * w
	for r := 0; r < n*c; r++ {
		yd[r] = rowSum(xd[r*hw:(r+1)*hw]) / float32(hw)
	}
}

// GlobalAvgPoolBackward: dx = dy/(H·W) broadcast over each plane.
func (b *Backend) GlobalAvgPoolBackward(dy, dx *backend.Tensor) {
	n, c, h, w := dims4("global avg pool backward", dx)
	mustShape("global avg pool backward", dy, n, c)
	dyd, dxd := Data(dy), Data(dx)
	hw := h * w
	for r := 0; r < n*c; r++ {
		v := dyd[r] / float32(hw)
		plane := dxd[r*hw : (r+1)*hw]
		for i := range plane {
			plane[i] = v
		}
	}
}
