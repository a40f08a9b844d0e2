//go:build cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
	"github.com/t2f/t2f/train/backend/cuda/cublasload"
	"github.com/t2f/t2f/train/nn"
)

// These tests need a GPU (a cuda-tagged test binary exits at start-up
// without one) and, for the cuBLAS path, libcublas.so.13/.12/.11 in a
// directory of LD_LIBRARY_PATH or named by T2F_CUBLAS. The device check
// (scripts/device-check.sh) runs them as bin/cuda.test -test.v.

func cublasConfig() cublasload.Config {
	return cublasload.Config{Path: os.Getenv("T2F_CUBLAS"), Dirs: cublasload.SplitPathList(os.Getenv("LD_LIBRARY_PATH"))}
}

func newGPU(t *testing.T, gemm string) *Backend {
	t.Helper()
	b, err := New(Options{GEMM: gemm, Cublas: cublasConfig()})
	if err != nil {
		t.Fatalf("cuda.New (GEMM %s): %v", gemm, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestDevice(t *testing.T) {
	name, err := DeviceName(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device 0: %s", name)
	b := newGPU(t, GEMMAuto)
	t.Logf("GEMM: %s", b.GEMMPath())
}

// The conformance suite once per GEMM path; the cuBLAS run fails (not skips)
// when no cuBLAS can be loaded.
func TestConformance(t *testing.T) {
	for _, gemm := range []string{GEMMCublas, GEMMPTX} {
		t.Run(gemm, func(t *testing.T) {
			backendtest.Run(t, func() backend.Backend { return newGPU(t, gemm) })
		})
	}
}

// Convolutions in several chunks (dw accumulated with beta = 1).
func TestConformanceChunkedConv(t *testing.T) {
	backendtest.Run(t, func() backend.Backend {
		b := newGPU(t, GEMMAuto)
		b.colLimit = 300
		return b
	})
}

// The PTX SGEMM and cuBLAS agree with a float64 reference on shapes that
// are not tile multiples, ResNet-sized shapes, every transposition and beta
// 0 and 1.
func TestGemmPaths(t *testing.T) {
	paths := map[string]*Backend{GEMMCublas: newGPU(t, GEMMCublas), GEMMPTX: newGPU(t, GEMMPTX)}
	r := rand.New(rand.NewPCG(5, 6))
	// {64, 576, 8192} and {10, 512, 5000} take the PTX split-K path
	for _, sh := range [][3]int{{1, 1, 1}, {67, 130, 33}, {64, 8192, 576}, {576, 4096, 64}, {128, 10, 512}, {64, 576, 8192}, {10, 512, 5000}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			a, bm, c0 := randF(r, m*k), randF(r, k*n), randF(r, m*n)
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			for _, beta := range []float32{0, 1} {
				want := make([]float64, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							av, bv := a[i*lda+p], bm[p*ldb+j]
							if tr[0] {
								av = a[p*lda+i]
							}
							if tr[1] {
								bv = bm[j*ldb+p]
							}
							s += float64(av) * float64(bv)
						}
						want[i*n+j] = s + float64(beta)*float64(c0[i*n+j])
					}
				}
				for name, be := range paths {
					ta, tb, tc := be.Alloc(len(a)), be.Alloc(len(bm)), be.Alloc(len(c0))
					be.Upload(ta, a)
					be.Upload(tb, bm)
					be.Upload(tc, c0)
					be.gemmImpl.gemm(tr[0], tr[1], m, n, k, 1, ptr(ta), lda, ptr(tb), ldb, beta, ptr(tc), n)
					got := make([]float32, m*n)
					be.Download(got, tc)
					for i := range got {
						if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4*math.Sqrt(float64(k))+1e-4*math.Abs(want[i]) {
							t.Fatalf("%s [%d %d %d] trans %v beta %v: C[%d] = %v, want %v", name, m, n, k, tr, beta, i, got[i], want[i])
						}
					}
					for _, x := range []*backend.Tensor{ta, tb, tc} {
						be.Free(x)
					}
				}
			}
		}
	}
}

func randF(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

func TestUploads(t *testing.T) { checkUploads(t, newGPU(t, GEMMAuto)) }

// Training steps of the real networks match the CPU backend.
func TestTrainStepsMatchCPU(t *testing.T) {
	for _, tc := range []struct {
		cfg nn.Config
		n   int
	}{
		{nn.Config{Arch: nn.ArchResNet18_32, Classes: 10, Head: nn.HeadT2FNorm}, 16},
		{nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 10, Head: nn.HeadLinear}, 32},
		{nn.Config{Arch: nn.ArchResNet18_224, Width: 0.25, ImageSize: 64, Classes: 20, Head: nn.HeadT2FNorm}, 4},
	} {
		t.Run(modelName(tc.cfg, tc.n), func(t *testing.T) {
			checkTrainSteps(t, newGPU(t, GEMMAuto), tc.cfg, tc.n, 3)
		})
	}
}
