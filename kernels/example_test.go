package kernels_test

import (
	"fmt"

	"github.com/t2f/t2f/kernels"
)

// A convolution layer's forward pass for one image as im2col + GEMM + bias:
// 2 output channels, a 1-channel 3×3 image, 2×2 kernel, stride 1, no padding.
func ExampleGemm_Sgemm() {
	g := kernels.ConvGeom{C: 1, H: 3, W: 3, KH: 2, KW: 2, StrideH: 1, StrideW: 1}
	x := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	w := []float32{ // (Cout=2, C·KH·KW=4)
		1, 0, 0, 0, // picks the top-left of each window
		1, 1, 1, 1, // sums each window
	}
	bias := []float32{0, 100}
	k, p := g.C*g.KH*g.KW, g.OutH()*g.OutW()
	col := make([]float32, k*p)
	kernels.Im2col(g, x, col)

	gemm := kernels.NewGemm(1)
	y := make([]float32, 2*p)
	gemm.Sgemm(false, false, 2, p, k, 1, w, k, col, p, 0, y, p)
	kernels.AddRowBias(2, p, bias, y, p)
	fmt.Println(y[:p])
	fmt.Println(y[p:])
	// Output:
	// [1 2 4 5]
	// [112 116 124 128]
}

// A Team runs a loop's ranges on its goroutines; the last range runs on the
// caller.
func ExampleTeam_For() {
	team := kernels.NewTeam(2)
	defer team.Close()
	sums := make([]int, team.Threads())
	team.For(100, 10, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			sums[w] += i
		}
	})
	fmt.Println(sums[0]+sums[1], sums[0], sums[1])
	// Output: 4950 1225 3725
}
