package kernels

// SgemmRef is the reference GEMM, row-major:
//
//	for i < m, j < n: C[i*ldc+j] = alpha * Σ_p opA(i,p)·opB(p,j) + beta*C[i*ldc+j]
//
// where opA(i,p) = A[i*lda+p] (or A[p*lda+i] when transA), and likewise for B.
// beta == 0 overwrites C without reading it (so NaNs in C do not propagate).
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
