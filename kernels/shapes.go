package kernels

import (
	"sort"
	"time"
)

// GemmShape is one named product C(m×n) = op(A)(m×k)·op(B)(k×n), used by the
// benchmarks and `t2f bench gemm`.
type GemmShape struct {
	Name           string
	TransA, TransB bool
	M, N, K        int
}

// Flops is the floating-point operation count of the product, 2·m·n·k.
func (s GemmShape) Flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// ConvGemmShapes lists the GEMMs of convolution layers as the engine lowers
// them (im2col; ResNet-18 32×32 with images batched until a product has at
// least 256 columns; LeNet one image per product): forward Y = W·col (NN),
// weight gradient dW = dY·colᵀ (NT), input gradient dcol = Wᵀ·dY (TN); plus
// the reference shape (layer 1 over 8 images, 64×8192×576), LeNet's
// first fully connected layer at batch 128 and a square 1024³ product.
func ConvGemmShapes() []GemmShape {
	return []GemmShape{
		{"resnet18.conv1.fwd", false, false, 64, 1024, 27},
		{"resnet18.layer1.fwd", false, false, 64, 1024, 576},
		{"resnet18.layer1.dW", false, true, 64, 576, 1024},
		{"resnet18.layer1.dX", true, false, 576, 1024, 64},
		{"resnet18.layer2.fwd", false, false, 128, 256, 1152},
		{"resnet18.layer2.dW", false, true, 128, 1152, 256},
		{"resnet18.layer2.dX", true, false, 1152, 256, 128},
		{"resnet18.layer3.fwd", false, false, 256, 256, 2304},
		{"resnet18.layer3.dW", false, true, 256, 2304, 256},
		{"resnet18.layer3.dX", true, false, 2304, 256, 256},
		{"resnet18.layer4.fwd", false, false, 512, 256, 4608},
		{"resnet18.layer4.dW", false, true, 512, 4608, 256},
		{"resnet18.layer4.dX", true, false, 4608, 256, 512},
		{"conv.64x8192x576", false, false, 64, 8192, 576},
		{"lenet.conv1.fwd", false, false, 6, 784, 75},
		{"lenet.conv2.fwd", false, false, 16, 100, 150},
		{"lenet.conv2.dW", false, true, 16, 150, 100},
		{"lenet.conv2.dX", true, false, 150, 100, 16},
		{"lenet.fc1.fwd", false, true, 128, 84, 120},
		{"square.1024", false, false, 1024, 1024, 1024},
	}
}

// GemmTiming is the result of MeasureGemm.
type GemmTiming struct {
	Shape  GemmShape
	Reps   int           // products timed in total
	Median time.Duration // median time of one product over the timed rounds
	GFLOPS float64       // Shape.Flops() / Median
}

// MeasureGemm times g on the shape with random operands: rounds rounds of
// enough products to last about minRound each, after one warm-up product.
// It reports the median round (the machine is shared and noisy).
func MeasureGemm(g *Gemm, s GemmShape, rounds int, minRound time.Duration) GemmTiming {
	ar, ac := stored(s.TransA, s.M, s.K)
	br, bc := stored(s.TransB, s.K, s.N)
	a, b, c := make([]float32, ar*ac), make([]float32, br*bc), make([]float32, s.M*s.N)
	for i := range a {
		a[i] = float32(i%17)*0.01 - 0.08
	}
	for i := range b {
		b[i] = float32(i%13)*0.01 - 0.06
	}
	run := func() { g.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, ac, b, bc, 0, c, s.N) }
	run()
	// Size a round from one timed product.
	t0 := time.Now()
	run()
	per := max(time.Since(t0), time.Microsecond)
	n := max(1, int(minRound/per))
	times := make([]time.Duration, max(rounds, 1))
	for r := range times {
		t0 := time.Now()
		for range n {
			run()
		}
		times[r] = time.Since(t0) / time.Duration(n)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	med := times[len(times)/2]
	return GemmTiming{Shape: s, Reps: n * len(times), Median: med, GFLOPS: s.Flops() / med.Seconds() / 1e9}
}

// stored returns the stored rows, cols of a matrix holding op(X) (r×c).
func stored(t bool, r, c int) (int, int) {
	if t {
		return c, r
	}
	return r, c
}
