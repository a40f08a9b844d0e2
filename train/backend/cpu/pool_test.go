package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
)

// TestMaxPoolPlane: the separable max-pool writes, bit for bit, the value at
// argmaxWindow's index (the first maximum of the row-major scan) for every
// window geometry, on planes full of ties between +0 and −0 and of NaNs
// with different payloads.
func TestMaxPoolPlane(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), math.Float32frombits(0xFFC00001), 1, -1}
	for _, p := range []backend.PoolParams{
		{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // torchvision ResNet stem
		{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{KH: 2, KW: 3, StrideH: 1, StrideW: 2, PadH: 0, PadW: 1},
		{KH: 3, KW: 2, StrideH: 3, StrideW: 1, PadH: 1, PadW: 0},
		{KH: 1, KW: 1, StrideH: 2, StrideW: 2},
	} {
		for _, hw := range [][2]int{{1, 1}, {1, 5}, {5, 1}, {2, 2}, {5, 7}, {8, 8}, {13, 4}, {3, 40}, {17, 33}} {
			h, w := hw[0], hw[1]
			if h+2*p.PadH < p.KH || w+2*p.PadW < p.KW {
				continue
			}
			oh, ow := p.OutSize(h, w)
			for rep := range 20 {
				x := make([]float32, h*w)
				for i := range x {
					if rep%2 == 0 {
						x[i] = specials[r.IntN(len(specials))] // mostly ties
					} else if r.IntN(8) == 0 {
						x[i] = specials[r.IntN(len(specials))]
					} else {
						x[i] = float32(r.NormFloat64())
					}
				}
				y := make([]float32, oh*ow)
				maxPoolPlane(x, y, make([]float32, h*ow), h, w, oh, ow, p)
				ys := map[string][]float32{"maxPoolPlane": y}
				if pool3x3(p) {
					y3 := make([]float32, oh*ow)
					maxPool3x3(x, y3, make([]float32, (h+1)*w), h, w, oh, ow, p.StrideH)
					ys["maxPool3x3"] = y3
				}
				for name, y := range ys {
					for oy := range oh {
						for ox := range ow {
							want := x[argmaxWindow(x, h, w, oy, ox, p)]
							if got := y[oy*ow+ox]; math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%s %s %d×%d: window (%d,%d) = %v (%#x), argmaxWindow's %v (%#x)", name, poolName(p), h, w, oy, ox, got, math.Float32bits(got), want, math.Float32bits(want))
							}
						}
					}
				}
			}
		}
	}
}

func poolName(p backend.PoolParams) string {
	return fmt.Sprintf("k%d×%d s%d×%d p%d×%d", p.KH, p.KW, p.StrideH, p.StrideW, p.PadH, p.PadW)
}
