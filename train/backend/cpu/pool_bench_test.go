package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
)

// BenchmarkMaxPool is the torchvision ResNet stem's max-pool (3×3, stride
// 2, padding 1) of 64 planes of 112×112 (one 224×224 image).
func BenchmarkMaxPool(b *testing.B) {
	be := New(1)
	r := rand.New(rand.NewPCG(1, 2))
	x := be.Alloc(1, 64, 112, 112)
	for i, d := 0, Data(x); i < len(d); i++ {
		d[i] = max(0, float32(r.NormFloat64()))
	}
	y := be.Alloc(1, 64, 56, 56)
	p := backend.PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	b.SetBytes(int64(4 * x.Numel()))
	for b.Loop() {
		be.MaxPool2dForward(x, y, p)
	}
}
