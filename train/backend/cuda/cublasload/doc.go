// Package cublasload finds and opens NVIDIA's cuBLAS at run time, so the
// CUDA build of t2f needs no cuBLAS at link time (its binary NEEDs only
// libcuda.so.1 and libc; see docs/cuda.md).
//
// What it owns: the search order and the row-major SGEMM mapping.
//
//   - Search (Locate, pure Go, every build): an explicit library path when one
//     is given, else each of the sonames in Sonames (newest first) in each
//     search directory in order (the caller passes LD_LIBRARY_PATH's
//     directories; the package never reads the environment), then the bare
//     sonames for dlopen's own search (ld.so.cache, /usr/lib, …).
//   - Loading (Open, only with the `cuda` build tag and cgo): dlopen of each
//     candidate in turn, then dlsym of cublasCreate_v2, cublasSetStream_v2,
//     cublasSgemm_v2 and cublasDestroy_v2. No cuBLAS header is used: the
//     four prototypes are declared by hand (cuBLAS's stable v2 C ABI).
//   - SGEMM (Lib.SgemmRowMajor): t2f's tensors are row-major and cuBLAS is
//     column-major, so C[M,N] = op(A)·op(B) in row-major order is computed as
//     Cᵀ = op(B)ᵀ·op(A)ᵀ, i.e. cublasSgemm(opB, opA, N, M, K, α, B, ldb, A,
//     lda, β, C, ldc) with the same leading dimensions.
//
// Pointers passed to SgemmRowMajor are device addresses (uintptr); the
// package does not know about CUDA contexts: the caller creates the handle on
// the thread that has its context current.
package cublasload
