// Package kernels holds the CPU compute kernels of the engine: single-precision
// GEMM (with an implicit-operand entry point, SgemmPacked, and the packers of
// stride-1 same convolutions), the im2col/col2im lowering of convolutions and
// its row kernels, the BatchNorm plane kernels, and bias and element-wise
// helpers.
//
// Layout: all matrices are row-major float32 slices with an explicit leading
// dimension; images are NCHW, one image (C, H, W) per lowering call. Every
// kernel has a readable pure-Go reference (the *Ref functions, whose doc
// comment is the loop they compute) and fast twins tested against it.
//
// GEMM: a Gemm (NewGemm) owns its packing buffers and helper goroutines; it
// packs op(A) and op(B) into contiguous slivers (BLIS/GotoBLAS blocking, see
// gemm.go) and runs a register-tiled micro-kernel on them. Transposes are
// absorbed by the packing, so all four transpose combinations run at the same
// speed. Products of at least 2^20 multiply-adds are split over the Gemm's
// threads.
//
// BF16 products (NewGemmPrecision(threads, BF16), bf16.go, gemm_bf16.go):
// both operands rounded to bfloat16 as PyTorch's c10::BFloat16 rounds
// (BF16Bits) while they are packed, products summed in float32 exactly as
// the AVX512_BF16 instruction VDPBF16PS does (DotBF16), with an 8×32
// VDPBF16PS micro-kernel on CPUs that have it and a bit-exact pure-Go
// emulation elsewhere (and under noasm); SgemmBF16Ref is the reference loop.
//
// Build tags: the default build on amd64 uses assembly chosen at run time
// from the CPU's features (golang.org/x/sys/cpu): an AVX-512 8×32 micro-kernel
// with AVX-512 packing, else an AVX2+FMA 6×16 micro-kernel, else pure Go.
// `noasm` (and every other architecture) uses the pure-Go 4×4 micro-kernel
// only. The results of the kernels differ from the references only by
// floating-point summation order.
//
// Who may import it: the CPU backend (train/backend/cpu) and anything else
// that needs a fast float32 product — features and evaluate/posthoc use its
// GEMM for batched scoring. It imports nothing of t2f, so it sits at the top
// level rather than under train/.
package kernels
