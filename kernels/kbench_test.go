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

// BenchmarkMicroKernelBF16 is BenchmarkMicroKernel for the BF16 tile of the
// machine (VDPBF16PS where the CPU has it): the same MR×NR×kc multiply-adds
// over kc/2 pair steps.
func BenchmarkMicroKernelBF16(b *testing.B) {
	kern := bf16Kernel(bestKernel())
	b.Run(kern.name, func(b *testing.B) {
		kc, tiles := 256, 18
		kc2 := kc / 2
		a := make([]uint32, kern.mr*kc2*tiles)
		bb := make([]uint32, kern.nr*kc2)
		c := make([]float32, kern.mr*kern.nr*tiles)
		b.ReportAllocs()
		for b.Loop() {
			for t := range tiles {
				kern.dot(kc2, a[t*kern.mr*kc2:], bb, c[t*kern.mr*kern.nr:], kern.nr, kern.mr, kern.nr, 1, 1)
			}
		}
		flops := 2 * float64(kern.mr*kern.nr*kc*tiles)
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
