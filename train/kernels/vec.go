package kernels

// AddTo adds src to dst element-wise (dst and src of equal length):
//
//	dst[i] += src[i]
//
// It is the accumulation of Col2im and of gradient sums; on amd64 it uses
// AVX-512 or AVX2 when the CPU has them.
func AddTo(dst, src []float32) {
	if len(dst) != len(src) {
		panic("kernels: AddTo: lengths differ")
	}
	addTo(dst, src)
}

// addToGo is the pure-Go twin of the assembly addTo.
func addToGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}
