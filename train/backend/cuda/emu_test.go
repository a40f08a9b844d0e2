//go:build cudaemu && !cuda

package cuda

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
	"github.com/t2f/t2f/train/backend/cuda/cublasload"
	"github.com/t2f/t2f/train/nn"
)

// The conformance suite on the CPU emulation of the device: the kernels of
// kernels.cu and the launches of this package, with the PTX SGEMM and with
// a gcc-built stand-in for cuBLAS that does column-major SGEMM on host
// memory (which the emulated device pointers are).

func emuBackend(t *testing.T, opts Options, gridCap, colLimit int) backend.Backend {
	t.Helper()
	b, err := newEmu(opts, gridCap)
	if err != nil {
		t.Fatal(err)
	}
	if colLimit > 0 {
		b.colLimit = colLimit
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestEmuConformancePTX(t *testing.T) {
	backendtest.Run(t, func() backend.Backend { return emuBackend(t, Options{GEMM: GEMMPTX}, 3, 0) })
}

// Tiny convolution chunks: dw accumulates over several GEMMs (beta = 1).
func TestEmuConformanceChunkedConv(t *testing.T) {
	backendtest.Run(t, func() backend.Backend { return emuBackend(t, Options{GEMM: GEMMPTX}, 0, 300) })
}

// The PTX SGEMM split along K (GEMMs with K ≥ 20 and few tiles, in chunks
// of at least 16).
func TestEmuConformanceSplitK(t *testing.T) {
	backendtest.Run(t, func() backend.Backend {
		b := emuBackend(t, Options{GEMM: GEMMPTX}, 3, 0).(*Backend)
		g := b.gemmImpl.(*ptxGemm)
		g.splitMinK, g.minChunk = 20, 16
		return b
	})
}

func fakeCublas(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "libcublas.so.13")
	src := filepath.Join("cublasload", "testdata", "fakecublas.c")
	if msg, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, msg)
	}
	return out
}

func TestEmuConformanceCublasPath(t *testing.T) {
	lib := fakeCublas(t)
	b := emuBackend(t, Options{GEMM: GEMMCublas, Cublas: cublasload.Config{Path: lib}}, 3, 0).(*Backend)
	if b.GEMMPath() != "cublas "+lib {
		t.Fatalf("GEMM path %q, want cublas %s", b.GEMMPath(), lib)
	}
	backendtest.Run(t, func() backend.Backend {
		return emuBackend(t, Options{GEMM: GEMMCublas, Cublas: cublasload.Config{Path: lib}}, 3, 0)
	})
}

// bf16: cublasGemmEx (CUBLAS_COMPUTE_32F_FAST_16BF; the stand-in rounds
// the operands to bfloat16 and sums in float32) against the suite's bf16
// bound; the PTX SGEMM refuses bf16.
func TestEmuConformanceCublasBF16(t *testing.T) {
	lib := fakeCublas(t)
	opts := Options{GEMM: GEMMCublas, Cublas: cublasload.Config{Path: lib}, Precision: backend.BF16}
	b := emuBackend(t, opts, 3, 0)
	if b.Precision() != backend.BF16 {
		t.Fatalf("precision %s, want bf16", b.Precision())
	}
	backendtest.Run(t, func() backend.Backend { return emuBackend(t, opts, 3, 0) })
	if _, err := newEmu(Options{GEMM: GEMMPTX, Precision: backend.BF16}, 0); err == nil {
		t.Error("PTX GEMM with precision bf16: no error")
	}
	if _, err := newEmu(Options{GEMM: GEMMPTX, Precision: "fp16"}, 0); err == nil {
		t.Error("precision fp16: no error")
	}
}

func TestEmuGemmSelection(t *testing.T) {
	empty := t.TempDir()
	none := cublasload.Config{Dirs: []string{empty}, Sonames: []string{"libt2fnocublas.so.13"}}
	b, err := newEmu(Options{Cublas: none}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ptx \(cuBLAS unavailable: cublasload: no cuBLAS found`).MatchString(b.GEMMPath()) {
		t.Fatalf("auto without cuBLAS: GEMM path %q, want the PTX fallback with the reason", b.GEMMPath())
	}
	if _, err := newEmu(Options{GEMM: GEMMCublas, Cublas: none}, 0); err == nil {
		t.Fatal("GEMM cublas without cuBLAS: no error")
	}
	if _, err := newEmu(Options{GEMM: "mkl"}, 0); err == nil {
		t.Fatal("GEMM mkl: no error")
	}
	lib := fakeCublas(t)
	b, err = newEmu(Options{Cublas: cublasload.Config{Dirs: []string{filepath.Dir(lib)}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.GEMMPath() != "cublas "+lib {
		t.Fatalf("auto with cuBLAS on the search path: GEMM path %q", b.GEMMPath())
	}
}

// Every kernel of kernels.cu is in the emulator's table, so the
// conformance suite can reach it.
func TestKernelTables(t *testing.T) {
	names := regexp.MustCompile(`extern "C" __global__ void (?:__launch_bounds__\(\w+\) )?(\w+)\(`).FindAllStringSubmatch(kernelsSource, -1)
	if len(names) != emuKernelCount() {
		t.Fatalf("kernels.cu defines %d kernels, the emulator table has %d", len(names), emuKernelCount())
	}
}

// A few training steps of small networks match the CPU backend.
func TestEmuTrainStepsMatchCPU(t *testing.T) {
	for _, tc := range []struct {
		cfg nn.Config
		n   int
	}{
		{nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 10, Head: nn.HeadT2FNorm}, 6},
		{nn.Config{Arch: nn.ArchSmallResNet, InChannels: 1, ImageSize: 12, Classes: 5, Head: nn.HeadLinear}, 3},
	} {
		t.Run(modelName(tc.cfg, tc.n), func(t *testing.T) {
			checkTrainSteps(t, emuBackend(t, Options{GEMM: GEMMPTX}, 3, 0), tc.cfg, tc.n, 3)
		})
	}
}

func TestEmuUploads(t *testing.T) {
	checkUploads(t, emuBackend(t, Options{GEMM: GEMMPTX}, 3, 0).(*Backend))
}
