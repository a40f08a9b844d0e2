package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkSgemm measures every conv-shaped product on 1 and 2 goroutines;
// the GFLOP/s metric is the figure to compare with OpenBLAS
// (scripts/bench_gemm.py).
func BenchmarkSgemm(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, s := range ConvGemmShapes() {
			b.Run(fmt.Sprintf("%s/threads%d", s.Name, threads), func(b *testing.B) {
				benchGemm(b, NewGemm(threads), s)
			})
		}
	}
}

// BenchmarkSgemmKernels compares the micro-kernels on the reference conv shape.
func BenchmarkSgemmKernels(b *testing.B) {
	s := GemmShape{"conv", false, false, 64, 8192, 576}
	for _, k := range availableKernels() {
		b.Run(k.name, func(b *testing.B) { benchGemm(b, newGemmKernel(1, k), s) })
	}
}

// BenchmarkSgemmBF16 is BenchmarkSgemm with BF16 products (VDPBF16PS on
// CPUs with AVX512_BF16), one goroutine, next to fp32 on the same shapes.
func BenchmarkSgemmBF16(b *testing.B) {
	for _, s := range ConvGemmShapes() {
		for _, p := range []Precision{FP32, BF16} {
			b.Run(fmt.Sprintf("%s/%s", s.Name, p), func(b *testing.B) {
				benchGemm(b, NewGemmPrecision(1, p), s)
			})
		}
	}
}

func benchGemm(b *testing.B, g *Gemm, s GemmShape) {
	ar, ac := stored(s.TransA, s.M, s.K)
	br, bc := stored(s.TransB, s.K, s.N)
	x, y, c := make([]float32, ar*ac), make([]float32, br*bc), make([]float32, s.M*s.N)
	for i := range x {
		x[i] = float32(i%7) * 0.1
	}
	for i := range y {
		y[i] = float32(i%5) * 0.1
	}
	b.SetBytes(int64(4 * (len(x) + len(y) + len(c))))
	b.ReportAllocs()
	for b.Loop() {
		g.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, x, ac, y, bc, 0, c, s.N)
	}
	b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemmSplit compares 1 and 2 goroutines on products just above
// the split threshold (where the helper's start latency decides).
func BenchmarkSgemmSplit(b *testing.B) {
	for _, s := range [][3]int{{128, 84, 120}, {128, 128, 128}, {64, 1024, 64}, {256, 256, 256}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/threads%d", s[0], s[1], s[2], threads), func(b *testing.B) {
				benchGemm(b, NewGemm(threads), GemmShape{"", false, false, s[0], s[1], s[2]})
			})
		}
	}
}
