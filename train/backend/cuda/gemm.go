//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cuda/cublasload"
)

// gemmer computes C = alpha·op(A)·op(B) + beta·C on row-major device
// matrices (see cublasload.Lib.SgemmRowMajor); C is not read when beta == 0.
type gemmer interface {
	gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int)
}

// ptxGemm launches the tiled SGEMM kernels of kernels.cu. A GEMM with few
// output tiles and a long K (the weight gradients: K = images × pixels) is
// split along K into partial products that splitk_reduce adds in order, so
// it still spreads over the GPU.
type ptxGemm struct {
	dev       device
	splitMinK int // split when K ≥ splitMinK and the output has < splitTiles tiles
	minChunk  int // shortest K chunk of a split
	parts     devPtr
	partBytes int
}

const (
	defaultSplitMinK = 4096
	splitTiles       = 128
)

func newPTXGemm(dev device) *ptxGemm {
	return &ptxGemm{dev: dev, splitMinK: defaultSplitMinK, minChunk: 256}
}

var sgemmKernel = map[[2]bool]string{{false, false}: "sgemm_nn", {false, true}: "sgemm_nt", {true, false}: "sgemm_tn", {true, true}: "sgemm_tt"}

func (g *ptxGemm) gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	name := sgemmKernel[[2]bool{transA, transB}]
	gx, gy := (n+63)/64, (m+63)/64
	if gy > maxGrid {
		panic(fmt.Sprintf("cuda: sgemm: %d rows exceed the grid", m))
	}
	tiles := gx * gy
	if k < g.splitMinK || tiles >= splitTiles {
		g.dev.launch(name, gx, gy, 256, []uint64{ai(m), ai(n), ai(k), af(alpha), ap(a), ai(lda), ap(b), ai(ldb), af(beta), ap(c), ai(ldc)})
		return
	}
	s := min(max(2*splitTiles/tiles, 2), 64, (k+g.minChunk-1)/g.minChunk)
	kc := ((k+s-1)/s + 15) / 16 * 16 // chunk length, a multiple of the K step
	s = (k + kc - 1) / kc
	if need := 4 * s * m * n; need > g.partBytes {
		if g.parts != 0 {
			g.dev.sync()
			g.dev.free(g.parts)
		}
		g.parts, g.partBytes = g.dev.alloc(need), need
	}
	for i := 0; i < s; i++ {
		k0 := i * kc
		kk := min(kc, k-k0)
		ao, bo := devPtr(4*k0), devPtr(4*k0*ldb) // op(A) columns / op(B) rows k0…
		if transA {
			ao = devPtr(4 * k0 * lda)
		}
		if transB {
			bo = devPtr(4 * k0)
		}
		g.dev.launch(name, gx, gy, 256, []uint64{ai(m), ai(n), ai(kk), af(alpha), ap(a + ao), ai(lda), ap(b + bo), ai(ldb), af(0),
			ap(g.parts + devPtr(4*i*m*n)), ai(n)})
	}
	launchEach(g.dev, "splitk_reduce", m*n, ap(g.parts), ai(s), ai(m), ai(n), af(beta), ap(c), ai(ldc))
}

func (g *ptxGemm) close() {
	if g.parts != 0 {
		g.dev.free(g.parts)
		g.parts, g.partBytes = 0, 0
	}
}

// cublasGemm calls cuBLAS's SGEMM on the backend's stream, or with bf16
// cublasGemmEx with bfloat16 products (CUBLAS_COMPUTE_32F_FAST_16BF).
type cublasGemm struct {
	dev  device
	lib  *cublasload.Lib
	h    cublasload.Handle
	bf16 bool
}

func (g *cublasGemm) gemm(transA, transB bool, m, n, k int, alpha float32, a devPtr, lda int, b devPtr, ldb int, beta float32, c devPtr, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	var err error
	g.dev.bound(func() {
		if g.bf16 {
			err = g.lib.GemmBF16RowMajor(g.h, transA, transB, m, n, k, alpha, uintptr(a), lda, uintptr(b), ldb, beta, uintptr(c), ldc)
			return
		}
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

// checkPrecision accepts the precisions this backend computes in.
func checkPrecision(p backend.Precision) error {
	switch p {
	case "", backend.FP32, backend.BF16:
		return nil
	}
	return fmt.Errorf("cuda: precision %q: want fp32 or bf16", p)
}

// selectGemm opens cuBLAS as opts.GEMM asks (on the thread whose context is
// current) and falls back to the PTX SGEMM for GEMMAuto.
func selectGemm(dev device, opts Options) (gemmer, string, error) {
	bf16 := opts.Precision == backend.BF16
	switch opts.GEMM {
	case GEMMPTX:
		if bf16 {
			return nil, "", fmt.Errorf("cuda: precision bf16 needs cuBLAS (cublasGemmEx); the PTX SGEMM is fp32 only")
		}
		return newPTXGemm(dev), "ptx", nil
	case "", GEMMAuto, GEMMCublas:
	default:
		return nil, "", fmt.Errorf("cuda: GEMM %q, want %s, %s or %s", opts.GEMM, GEMMAuto, GEMMCublas, GEMMPTX)
	}
	lib, err := cublasload.Open(opts.Cublas)
	if err == nil {
		var h cublasload.Handle
		if h, err = lib.Create(); err == nil {
			if err = lib.SetStream(h, dev.stream()); err == nil {
				switch {
				case !bf16:
					return &cublasGemm{dev: dev, lib: lib, h: h}, "cublas " + lib.Path(), nil
				case lib.HasBF16():
					return &cublasGemm{dev: dev, lib: lib, h: h, bf16: true}, "cublas bf16 (cublasGemmEx, CUBLAS_COMPUTE_32F_FAST_16BF) " + lib.Path(), nil
				}
				err = fmt.Errorf("cuda: precision bf16: %s has no cublasGemmEx", lib.Path())
			}
			_ = lib.Destroy(h)
		}
	}
	if opts.GEMM == GEMMCublas || bf16 {
		return nil, "", fmt.Errorf("cuda: cuBLAS required (GEMM %q, precision %s): %w", opts.GEMM, opts.Precision, err)
	}
	return newPTXGemm(dev), fmt.Sprintf("ptx (cuBLAS unavailable: %v)", err), nil
}
