// Package cpu is the host implementation of backend.Backend.
//
// Storage: a tensor's storage is a []float32 of exactly Numel elements in
// row-major (NCHW) order, allocated by Alloc.
//
// Threading: a Backend built with New(threads) splits convolutions over the
// batch (each worker runs im2col + a single-threaded GEMM on its share of the
// images, batching several small images into one GEMM), BatchNorm over
// channels and large elementwise ops over contiguous ranges. Scratch memory
// (im2col columns, per-worker weight-gradient partials) is kept between calls
// and grows to the largest layer, so a training step in steady state does not
// allocate tensors.
//
// GEMM and the im2col/col2im lowering come from kernels (AVX-512
// assembly chosen at run time, pure Go under the `noasm` tag); the strided
// im2col lets several small images share one GEMM. With the AVX-512 kernel,
// stride-1 same convolutions are implicit GEMMs: the forward product, the
// input gradient (the same convolution of dy with flipped, transposed
// weights) and the weight gradient pack their B operand straight from the
// images (kernels.SamePacker, SameTPacker), with no lowered matrix.
// BatchNorm statistics are accumulated in float64, as PyTorch does.
package cpu
