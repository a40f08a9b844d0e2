package kernels

// FirstMax3 folds three rows element-wise, keeping the first maximal value:
//
//	dst[i] = firstMax(firstMax(a[i], b[i]), c[i])
//	firstMax(acc, v) = v if v > acc, or v is NaN and acc is not; else acc
//
// so a tie (+0 after −0) keeps the earlier value and the first NaN wins, as
// a max-pool's row-major scan does (PyTorch's and the engine's). It is the
// step of a 3-wide max-pool: three shifted views of one image row, or three
// rows of row maxima. All four have equal length; dst may be one of a, b, c
// (but not overlap them otherwise). On amd64 it uses AVX-512 when the CPU
// has it.
func FirstMax3(dst, a, b, c []float32) {
	if len(a) != len(dst) || len(b) != len(dst) || len(c) != len(dst) {
		panic("kernels: FirstMax3: lengths differ")
	}
	firstMax3(dst, a, b, c)
}

// firstMax is v when it is larger than acc or a NaN after a number, else acc.
func firstMax(acc, v float32) float32 {
	if v > acc || v != v && acc == acc {
		return v
	}
	return acc
}

// firstMax3Go is the pure-Go twin of the assembly firstMax3.
func firstMax3Go(dst, a, b, c []float32) {
	a, b, c = a[:len(dst)], b[:len(dst)], c[:len(dst)]
	for i := range dst {
		dst[i] = firstMax(firstMax(a[i], b[i]), c[i])
	}
}
