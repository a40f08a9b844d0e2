//go:build !noasm

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// kernBF16x8x32 is the AVX512_BF16 micro-kernel (bf16_amd64.s): the 8×32
// tile of kernAVX512x8x32 from pair-packed slivers, kc2 pairs deep.
//
//go:noescape
func kernBF16x8x32(kc2 int, a, b *uint32, c *float32, ldc, mr, nr int, alpha, beta float32, loadC int)

// dotBF16x16 runs VDPBF16PS on 16 lanes: acc[i] = DotBF16(acc[i], a[i], b[i]).
//
//go:noescape
func dotBF16x16(acc, a, b *uint32)

// hasDotBF16 reports whether the CPU runs VDPBF16PS on zmm registers.
var hasDotBF16 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16

func runBF16AVX512(kc2 int, a, b []uint32, c []float32, ldc, mr, nr int, alpha, beta float32) {
	_ = a[8*kc2-1]
	_ = b[32*kc2-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernBF16x8x32(kc2, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, mr, nr, alpha, beta, loadFlag(beta))
}

// bf16Kernel returns the BF16 twin of an fp32 micro-kernel: the same tile
// and packers, with VDPBF16PS when the kernel is the AVX-512 one and the CPU
// has AVX512_BF16, else the exact pure-Go emulation.
func bf16Kernel(k *microKernel) *microKernel {
	if k == avx512Kernel && hasDotBF16 {
		return avx512BF16Kernel
	}
	return emulatedBF16(k)
}

var avx512BF16Kernel = withDot(avx512Kernel, "avx512bf16", runBF16AVX512)

// packPairsAVX512 converts kq pair rows of a w-wide sliver (w ≤ 32):
// dst[q*w+j] = bf16Pair(src[2q*w+j], src[(2q+1)*w+j]).
//
//go:noescape
func packPairsAVX512(dst *uint32, src *float32, w, kq int)

// packPairsFast converts kq full pair rows of a w-wide sliver (packPairs)
// with AVX-512; nil (no AVX-512) means the Go loop.
var packPairsFast = func() func(dst []uint32, src []float32, w, kq int) {
	if !cpu.X86.HasAVX512F {
		return nil
	}
	return func(dst []uint32, src []float32, w, kq int) {
		if w > 32 {
			panic("kernels: packPairs: sliver wider than 32")
		}
		_ = dst[kq*w-1]
		_ = src[2*kq*w-1]
		packPairsAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), w, kq)
	}
}()

// roundBF16AVX512 writes dst[i] = RoundBF16(src[i]) for i < n (a multiple
// of 16).
//
//go:noescape
func roundBF16AVX512(dst, src *float32, n int)

// roundBF16Fast rounds len(src) (a multiple of 16) values with AVX-512; nil
// (no AVX-512) means the Go loop.
var roundBF16Fast = func() func(dst, src []float32) {
	if !cpu.X86.HasAVX512F {
		return nil
	}
	return func(dst, src []float32) {
		if len(src) == 0 {
			return
		}
		_ = dst[len(src)-1]
		roundBF16AVX512(unsafe.SliceData(dst), unsafe.SliceData(src), len(src))
	}
}()

// packPairsRowsAVX512 pairs kq row pairs of a row-major matrix (rows lds
// floats apart) into a 32-wide sliver: dst[32q+j] = bf16Pair(src[2q·lds+j],
// src[(2q+1)·lds+j]).
//
//go:noescape
func packPairsRowsAVX512(dst *uint32, src *float32, kq, lds int)

// packPairsRowsFast is packPairsRows's AVX-512 path for kq full row pairs;
// nil (no AVX-512) means the Go loop.
var packPairsRowsFast = func() func(dst []uint32, src []float32, kq, lds int) {
	if !cpu.X86.HasAVX512F {
		return nil
	}
	return func(dst []uint32, src []float32, kq, lds int) {
		_ = dst[32*kq-1]
		_ = src[(2*kq-1)*lds+31]
		packPairsRowsAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), kq, lds)
	}
}()
