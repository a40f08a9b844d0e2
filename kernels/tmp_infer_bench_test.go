package kernels

import (
	"fmt"
	"testing"
)

// temporary: the inference convolutions of ResNet-18 3x32x32 at one thread.
func BenchmarkTmpInferConv(b *testing.B) {
	for _, s := range []struct{ c, oc, hw int }{{64, 64, 32}, {128, 128, 16}, {256, 256, 8}, {512, 512, 4}} {
		for _, p := range []Precision{FP32, BF16} {
			b.Run(fmt.Sprintf("%dx%d/%s", s.oc, s.hw, p), func(b *testing.B) {
				g := ConvGeom{C: s.c, H: s.hw, W: s.hw, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
				p1 := s.hw * s.hw
				chunk := max(1, min(64, (256+p1-1)/p1))
				k := s.c * 9
				gm := NewGemmPrecision(1, p)
				w := make([]float32, s.oc*k)
				for i := range w {
					w[i] = float32(i%7) * 0.01
				}
				x := make([]float32, 64*s.c*p1)
				for i := range x {
					x[i] = float32(i%5) * 0.1
				}
				out := make([]float32, s.oc*chunk*p1)
				var pa PackedA
				var sp SamePacker
				for b.Loop() {
					gm.PackA(&pa, false, s.oc, k, w, k)
					for n0 := 0; n0 < 64; n0 += chunk {
						sp.Reset(g, chunk)
						sp.SetImages(x[n0*s.c*p1 : (n0+chunk)*s.c*p1])
						gm.SgemmPackedA(&pa, chunk*p1, 1, nil, 0, &sp, 0, out, chunk*p1)
					}
				}
				b.ReportMetric(2*float64(s.oc*k*p1*64)*float64(b.N)/1e9, "GFLOP")
			})
		}
	}
}
