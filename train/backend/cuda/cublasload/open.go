//go:build (cuda || cudaemu) && cgo

package cublasload

/*
#include <dlfcn.h>
#include <stdlib.h>

// cuBLAS v2 prototypes, declared by hand (no cublas_v2.h): every handle,
// stream and pointer is an opaque pointer; statuses and enums are ints.
typedef int (*t2f_create_fn)(void **handle);
typedef int (*t2f_destroy_fn)(void *handle);
typedef int (*t2f_set_stream_fn)(void *handle, void *stream);
typedef int (*t2f_sgemm_fn)(void *handle, int transa, int transb, int m, int n, int k,
	const float *alpha, const float *A, int lda, const float *B, int ldb,
	const float *beta, float *C, int ldc);

// cublasGemmEx with float32 A, B, C (cudaDataType CUDA_R_32F = 0) and a
// cublasComputeType_t, algorithm CUBLAS_GEMM_DEFAULT (-1).
typedef int (*t2f_gemmex_fn)(void *handle, int transa, int transb, int m, int n, int k,
	const void *alpha, const void *A, int Atype, int lda, const void *B, int Btype, int ldb,
	const void *beta, void *C, int Ctype, int ldc, int computeType, int algo);

static void *t2f_dlopen(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }
static const char *t2f_dlerror(void) { const char *e = dlerror(); return e ? e : "unknown dlopen error"; }
static void t2f_dlclear(void) { (void)dlerror(); }

static int t2f_create(void *fn, void **handle) { return ((t2f_create_fn)fn)(handle); }
static int t2f_destroy(void *fn, void *handle) { return ((t2f_destroy_fn)fn)(handle); }
static int t2f_set_stream(void *fn, void *handle, void *stream) { return ((t2f_set_stream_fn)fn)(handle, stream); }
static int t2f_sgemm(void *fn, void *handle, int transa, int transb, int m, int n, int k,
	float alpha, size_t A, int lda, size_t B, int ldb, float beta, size_t C, int ldc) {
	return ((t2f_sgemm_fn)fn)(handle, transa, transb, m, n, k, &alpha,
		(const float *)A, lda, (const float *)B, ldb, &beta, (float *)C, ldc);
}
static int t2f_gemmex(void *fn, void *handle, int transa, int transb, int m, int n, int k,
	float alpha, size_t A, int lda, size_t B, int ldb, float beta, size_t C, int ldc, int compute) {
	return ((t2f_gemmex_fn)fn)(handle, transa, transb, m, n, k, &alpha,
		(const void *)A, 0, lda, (const void *)B, 0, ldb, &beta, (void *)C, 0, ldc, compute, -1);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Lib is an opened cuBLAS library with its four entry points resolved.
type Lib struct {
	path                              string
	dl                                unsafe.Pointer
	create, destroy, setStream, sgemm unsafe.Pointer
	gemmEx                            unsafe.Pointer // cublasGemmEx, nil when the library lacks it
}

// Handle is a cublasHandle_t.
type Handle struct{ h unsafe.Pointer }

// Status is a cublasStatus_t other than CUBLAS_STATUS_SUCCESS.
type Status struct {
	Op   string
	Code int
}

var statusNames = map[int]string{
	1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH",
	11: "MAPPING_ERROR", 13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR",
}

func (s *Status) Error() string {
	name := statusNames[s.Code]
	if name == "" {
		name = "unknown"
	}
	return fmt.Sprintf("cublasload: %s: status %d (CUBLAS_STATUS_%s)", s.Op, s.Code, name)
}

func status(op string, code C.int) error {
	if code == 0 {
		return nil
	}
	return &Status{Op: op, Code: int(code)}
}

// Open dlopens the first loadable candidate of Locate(cfg) that exports all
// four entry points. A library that loads but lacks a symbol is an error
// (not skipped): it names the file and the symbol.
func Open(cfg Config) (*Lib, error) {
	cands, err := Locate(cfg)
	if err != nil {
		return nil, err
	}
	nf := &NotFoundError{}
	for _, name := range cands {
		cname := C.CString(name)
		C.t2f_dlclear()
		dl := C.t2f_dlopen(cname)
		C.free(unsafe.Pointer(cname))
		nf.Tried = append(nf.Tried, name)
		if dl == nil {
			nf.Errors = append(nf.Errors, C.GoString(C.t2f_dlerror()))
			continue
		}
		l := &Lib{path: name, dl: dl}
		for _, s := range []struct {
			sym string
			dst *unsafe.Pointer
		}{{"cublasCreate_v2", &l.create}, {"cublasDestroy_v2", &l.destroy}, {"cublasSetStream_v2", &l.setStream}, {"cublasSgemm_v2", &l.sgemm}} {
			csym := C.CString(s.sym)
			C.t2f_dlclear()
			*s.dst = C.dlsym(dl, csym)
			C.free(unsafe.Pointer(csym))
			if *s.dst == nil {
				msg := C.GoString(C.t2f_dlerror())
				C.dlclose(dl)
				return nil, fmt.Errorf("cublasload: %s: missing symbol %s (%s)", name, s.sym, msg)
			}
		}
		csym := C.CString("cublasGemmEx")
		l.gemmEx = C.dlsym(dl, csym) // optional: only the bf16 products need it
		C.free(unsafe.Pointer(csym))
		return l, nil
	}
	return nil, nf
}

// Path is the name the library was opened by.
func (l *Lib) Path() string { return l.path }

// Close unloads the library; handles must be destroyed first.
func (l *Lib) Close() error {
	if l.dl == nil {
		return nil
	}
	if C.dlclose(l.dl) != 0 {
		return fmt.Errorf("cublasload: dlclose %s: %s", l.path, C.GoString(C.t2f_dlerror()))
	}
	l.dl = nil
	return nil
}

// Create makes a handle (cublasCreate_v2) in the CUDA context current on the
// calling thread.
func (l *Lib) Create() (Handle, error) {
	var h unsafe.Pointer
	if err := status("cublasCreate_v2", C.t2f_create(l.create, &h)); err != nil {
		return Handle{}, err
	}
	return Handle{h}, nil
}

// Destroy releases h (cublasDestroy_v2).
func (l *Lib) Destroy(h Handle) error {
	return status("cublasDestroy_v2", C.t2f_destroy(l.destroy, h.h))
}

// SetStream makes h enqueue on stream (a CUstream; 0 is the default stream).
func (l *Lib) SetStream(h Handle, stream unsafe.Pointer) error {
	return status("cublasSetStream_v2", C.t2f_set_stream(l.setStream, h.h, stream))
}

// HasBF16 reports whether the library exports cublasGemmEx, which
// GemmBF16RowMajor needs.
func (l *Lib) HasBF16() bool { return l.gemmEx != nil }

// computeFast16BF is CUBLAS_COMPUTE_32F_FAST_16BF: float32 inputs and
// output, the inputs rounded to bfloat16 for tensor-core products summed in
// float32.
const computeFast16BF = 75

// GemmBF16RowMajor is SgemmRowMajor with bfloat16 products: cublasGemmEx on
// the same float32 matrices with CUBLAS_COMPUTE_32F_FAST_16BF (the operands
// rounded to bfloat16, float32 accumulation).
func (l *Lib) GemmBF16RowMajor(h Handle, transA, transB bool, m, n, k int, alpha float32, a uintptr, lda int, b uintptr, ldb int, beta float32, c uintptr, ldc int) error {
	if l.gemmEx == nil {
		return fmt.Errorf("cublasload: %s has no cublasGemmEx", l.path)
	}
	op := func(t bool) C.int {
		if t {
			return 1
		}
		return 0
	}
	return status("cublasGemmEx", C.t2f_gemmex(l.gemmEx, h.h, op(transB), op(transA), C.int(n), C.int(m), C.int(k),
		C.float(alpha), C.size_t(b), C.int(ldb), C.size_t(a), C.int(lda), C.float(beta), C.size_t(c), C.int(ldc), computeFast16BF))
}

// SgemmRowMajor computes C = alpha·op(A)·op(B) + beta·C for row-major
// matrices: op(A) is M×K (A stored M×K with leading dimension lda, or K×M
// when transA), op(B) is K×N (B stored K×N, or N×K when transB), C is M×N
// with leading dimension ldc. a, b and c are device addresses.
func (l *Lib) SgemmRowMajor(h Handle, transA, transB bool, m, n, k int, alpha float32, a uintptr, lda int, b uintptr, ldb int, beta float32, c uintptr, ldc int) error {
	op := func(t bool) C.int {
		if t {
			return 1 // CUBLAS_OP_T
		}
		return 0 // CUBLAS_OP_N
	}
	// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the
	// operands and the M/N extents, keep the transposition flags.
	return status("cublasSgemm_v2", C.t2f_sgemm(l.sgemm, h.h, op(transB), op(transA), C.int(n), C.int(m), C.int(k),
		C.float(alpha), C.size_t(b), C.int(ldb), C.size_t(a), C.int(lda), C.float(beta), C.size_t(c), C.int(ldc)))
}
