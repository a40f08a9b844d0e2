package kernels

// AddRowBias adds bias[i] to every element of row i of the m×n matrix C
// (stride ldc): the per-output-channel bias of a convolution computed as
// W·col, whose rows are channels.
//
//	C[i*ldc+j] += bias[i]
func AddRowBias(m, n int, bias, c []float32, ldc int) {
	checkMatrix(m, n, c, ldc)
	bias = bias[:m]
	for i, v := range bias {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			row[j] += v
		}
	}
}

// AddColBias adds bias[j] to every element of column j of the m×n matrix C
// (stride ldc): the bias of a linear layer computed as X·Wᵀ.
//
//	C[i*ldc+j] += bias[j]
func AddColBias(m, n int, bias, c []float32, ldc int) {
	checkMatrix(m, n, c, ldc)
	bias = bias[:n]
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j, v := range bias {
			row[j] += v
		}
	}
}

// SumRows accumulates the sum of each row of the m×n matrix X (stride ldx)
// into out[i] (out[i] += Σ_j X[i*ldx+j]): the bias gradient of a
// convolution from dY as (channels, positions).
func SumRows(m, n int, x []float32, ldx int, out []float32) {
	checkMatrix(m, n, x, ldx)
	out = out[:m]
	for i := range out {
		row := x[i*ldx : i*ldx+n]
		var s float32
		for _, v := range row {
			s += v
		}
		out[i] += s
	}
}

// SumCols accumulates the sum of each column of the m×n matrix X (stride
// ldx) into out[j] (out[j] += Σ_i X[i*ldx+j]): the bias gradient of a linear
// layer from dY as (batch, features).
func SumCols(m, n int, x []float32, ldx int, out []float32) {
	checkMatrix(m, n, x, ldx)
	out = out[:n]
	for i := range m {
		row := x[i*ldx : i*ldx+n]
		for j, v := range row {
			out[j] += v
		}
	}
}

// checkMatrix panics when x cannot hold an m×n matrix with stride ld.
func checkMatrix(m, n int, x []float32, ld int) {
	if m < 0 || n < 0 || ld < n {
		panic("kernels: bad matrix shape or stride")
	}
	if m > 0 && n > 0 && len(x) < (m-1)*ld+n {
		panic("kernels: matrix slice too short")
	}
}
