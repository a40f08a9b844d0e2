//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"github.com/t2f/t2f/train/backend/cuda/cublasload"
)

// gemmer computes C = alpha·op(A)·op(B) + beta·C on row-major device
// matrices (see cublasload.Lib.SgemmRowMajor); C is not read when beta == 0.
type gemmer interface {
	gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int)
}

// ptxGemm launches the tiled SGEMM kernels of kernels.cu.
type ptxGemm struct{ dev device }

func (g ptxGemm) gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	name := map[[2]bool]string{{false, false}: "sgemm_nn", {false, true}: "sgemm_nt", {true, false}: "sgemm_tn", {true, true}: "sgemm_tt"}[[2]bool{transA, transB}]
	gy := (m + 63) / 64
	if gy > maxGrid {
		panic(fmt.Sprintf("cuda: sgemm: %d rows exceed the grid", m))
	}
	g.dev.launch(name, (n+63)/64, gy, 256, []uint64{ai(m), ai(n), ai(k), af(alpha), ap(a), ai(lda), ap(b), ai(ldb), af(beta), ap(c), ai(ldc)})
}

// cublasGemm calls cuBLAS's SGEMM on the backend's stream.
type cublasGemm struct {
	dev device
	lib *cublasload.Lib
	h   cublasload.Handle
}

func (g *cublasGemm) gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	var err error
	g.dev.bound(func() {
		err = g.lib.SgemmRowMajor(g.h, transA, transB, m, n, k, alpha, uintptr(a), lda, uintptr(b), ldb, beta, uintptr(c), ldc)
	})
	if err != nil {
		panic(fmt.Sprintf("cuda: gemm [%d %d %d] transA=%v transB=%v: %v", m, n, k, transA, transB, err))
	}
}

func (g *cublasGemm) close() {
	g.dev.bound(func() { _ = g.lib.Destroy(g.h) })
	// the library stays loaded: cuBLAS does not support being unloaded and
	// reloaded within one process reliably
}

// selectGemm opens cuBLAS as opts.GEMM asks (on the thread whose context is
// current) and falls back to the PTX SGEMM for GEMMAuto.
func selectGemm(dev device, opts Options) (gemmer, string, error) {
	switch opts.GEMM {
	case GEMMPTX:
		return ptxGemm{dev}, "ptx", nil
	case "", GEMMAuto, GEMMCublas:
	default:
		return nil, "", fmt.Errorf("cuda: GEMM %q, want %s, %s or %s", opts.GEMM, GEMMAuto, GEMMCublas, GEMMPTX)
	}
	lib, err := cublasload.Open(opts.Cublas)
	if err == nil {
		var h cublasload.Handle
		if h, err = lib.Create(); err == nil {
			if err = lib.SetStream(h, dev.stream()); err == nil {
				return &cublasGemm{dev: dev, lib: lib, h: h}, "cublas " + lib.Path(), nil
			}
			_ = lib.Destroy(h)
		}
	}
	if opts.GEMM == GEMMCublas {
		return nil, "", fmt.Errorf("cuda: cuBLAS required (GEMM %q): %w", GEMMCublas, err)
	}
	return ptxGemm{dev}, fmt.Sprintf("ptx (cuBLAS unavailable: %v)", err), nil
}
