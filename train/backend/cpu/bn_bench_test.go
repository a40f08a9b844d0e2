package cpu

import (
	"fmt"
	"testing"

	"github.com/t2f/t2f/train/backend"
)

// BenchmarkBatchNormTrain is the training BatchNorm (statistics, running
// averages, apply with ReLU) of ResNet-18 3×32×32's first and last stage at
// batch 128; compare A/B on one machine.
func BenchmarkBatchNormTrain(b *testing.B) {
	for _, s := range [][4]int{{128, 64, 32, 32}, {128, 512, 4, 4}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/threads=%d", s, threads), func(b *testing.B) {
				be := New(threads)
				n, c, h, w := s[0], s[1], s[2], s[3]
				x, y := be.Alloc(n, c, h, w), be.Alloc(n, c, h, w)
				xd := Data(x)
				for i := range xd {
					xd[i] = float32(i%97) / 97
				}
				g, bt, rm, rv, sm, si := be.Alloc(c), be.Alloc(c), be.Alloc(c), be.Alloc(c), be.Alloc(c), be.Alloc(c)
				be.Fill(g, 1)
				be.Fill(rv, 1)
				p := backend.BatchNormParams{Momentum: 0.1, Eps: 1e-5}
				b.SetBytes(int64(8 * n * c * h * w))
				for b.Loop() {
					be.BatchNormTrain(x, g, bt, y, rm, rv, sm, si, p, true)
				}
			})
		}
	}
}
