package kernels

import "testing"

// BenchmarkMicroKernel measures the micro-kernels alone on L1/L2-resident
// packed slivers (the ceiling the packed GEMM approaches).
func BenchmarkMicroKernel(b *testing.B) {
	for _, kern := range availableKernels() {
		b.Run(kern.name, func(b *testing.B) {
			kc, tiles := 256, 18
			a := make([]float32, kern.mr*kc*tiles)
			bb := make([]float32, kern.nr*kc)
			c := make([]float32, kern.mr*kern.nr*tiles)
			b.ReportAllocs()
			for b.Loop() {
				for t := range tiles {
					kern.run(kc, a[t*kern.mr*kc:], bb, c[t*kern.mr*kern.nr:], kern.nr, kern.mr, kern.nr, 1, 1)
				}
			}
			flops := 2 * float64(kern.mr*kern.nr*kc*tiles)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
