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

// Affine computes dst = src·a + c element-wise, rounding the product and the
// sum separately (as Go evaluates float32(v*a) + c), then, when relu,
// replaces every value that is not > 0 and not NaN with +0 (ReLU that
// propagates NaN, like PyTorch's). It is the BatchNorm apply step and a
// conv bias + ReLU epilogue (a = 1); dst and src have equal length and may be
// the same slice.
func Affine(dst, src []float32, a, c float32, relu bool) {
	if len(dst) != len(src) {
		panic("kernels: Affine: lengths differ")
	}
	affine(dst, src, a, c, relu)
}

// AddVec computes dst = x + y element-wise, then ReLU as Affine when relu
// (the residual sum of a ResNet block). All three have equal length; dst may
// alias x or y.
func AddVec(dst, x, y []float32, relu bool) {
	if len(dst) != len(x) || len(dst) != len(y) {
		panic("kernels: AddVec: lengths differ")
	}
	addVec(dst, x, y, relu)
}

// ReLUMask computes the ReLU gradient: dst[i] = dy[i] where y[i] > 0 or y[i]
// is NaN, else +0 (y is the ReLU's output or input). All three have equal
// length; dst may alias dy.
func ReLUMask(dst, dy, y []float32) {
	if len(dst) != len(dy) || len(dst) != len(y) {
		panic("kernels: ReLUMask: lengths differ")
	}
	reluMask(dst, dy, y)
}

// keep reports whether ReLU keeps v: v > 0 or v is NaN.
func keep(v float32) bool { return v > 0 || v != v }

func affineGo(dst, src []float32, a, c float32, relu bool) {
	dst = dst[:len(src)]
	for i, v := range src {
		r := float32(v*a) + c
		if relu && !keep(r) {
			r = 0
		}
		dst[i] = r
	}
}

func addVecGo(dst, x, y []float32, relu bool) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		r := x[i] + y[i]
		if relu && !keep(r) {
			r = 0
		}
		dst[i] = r
	}
}

func reluMaskGo(dst, dy, y []float32) {
	dy, y = dy[:len(dst)], y[:len(dst)]
	for i := range dst {
		if keep(y[i]) {
			dst[i] = dy[i]
		} else {
			dst[i] = 0
		}
	}
}

// Prefetch hints the CPU to bring x into its caches (one PREFETCHT0 per
// 64-byte line on amd64; nothing elsewhere). The convolutions call it on
// the next image while they compute on the current one, so its first
// pass (the lowering or the implicit packing) does not wait on DRAM.
func Prefetch(x []float32) {
	if len(x) > 0 {
		prefetch(x)
	}
}
