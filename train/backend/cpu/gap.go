package cpu

import (
	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

// gapGrain is the number of planes a GAP thread takes at least.
const gapGrain = 256

// GlobalAvgPoolForward: y (N,C) = plane means of x (N,C,H,W).
func (b *Backend) GlobalAvgPoolForward(x, y *backend.Tensor) {
	n, c, h, w := dims4("global avg pool", x)
	mustShape("global avg pool", y, n, c)
	xd, yd := Data(x), Data(y)
	hw := h * w
	b.parallel(n*c, gapGrain, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			yd[r] = float32(kernels.Sum(xd[r*hw:(r+1)*hw]) / float64(hw))
		}
	})
}

// GlobalAvgPoolBackward: dx = dy/(H·W) broadcast over each plane.
func (b *Backend) GlobalAvgPoolBackward(dy, dx *backend.Tensor) {
	n, c, h, w := dims4("global avg pool backward", dx)
	mustShape("global avg pool backward", dy, n, c)
	dyd, dxd := Data(dy), Data(dx)
	hw := h * w
	b.parallel(n*c, gapGrain, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			v := dyd[r] / float32(hw)
			plane := dxd[r*hw : (r+1)*hw]
			for i := range plane {
				plane[i] = v
			}
		}
	})
}
