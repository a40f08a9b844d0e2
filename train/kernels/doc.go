// Package kernels holds the CPU compute kernels of the engine: single-precision
// GEMM and the im2col/col2im lowering of convolutions.
//
// Layout: all matrices are row-major float32 slices with an explicit leading
// dimension; images are NCHW. Every kernel has a readable pure-Go reference
// (the *Ref functions, whose doc comment is the loop they compute) and fast
// twins tested against it. Build tags: the default build on amd64 uses
// assembly chosen at run time from the CPU's features; `noasm` uses pure Go
// only.
package kernels
