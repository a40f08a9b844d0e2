//go:build !noasm

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly micro-kernels (kernel_amd64.s). c points at the tile's first
// element; loadC == 0 means beta == 0 (C is not read).
//
//go:noescape
func kernAVX512x8x32(kc int, a, b, c *float32, ldc, mr, nr int, alpha, beta float32, loadC int)

//go:noescape
func kernAVX2x6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32, loadC int)

// avx512Kernel is 8×32: sixteen zmm accumulators, masked stores for edges.
var avx512Kernel = &microKernel{name: "avx512", mr: 8, nr: 32, run: runAVX512, copyBlock: copyBlock32, transB: transB32, transA: transA8, copyA: copyA8}

// avx2Kernel is 6×16: twelve ymm accumulators; edge tiles go through a
// scratch tile.
var avx2Kernel = &microKernel{name: "avx2", mr: 6, nr: 16, run: runAVX2}

func runAVX512(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	_ = a[8*kc-1]
	_ = b[32*kc-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernAVX512x8x32(kc, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, mr, nr, alpha, beta, loadFlag(beta))
}

func runAVX2(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	_ = a[6*kc-1]
	_ = b[16*kc-1]
	if mr == 6 && nr == 16 {
		_ = c[5*ldc+15]
		kernAVX2x6x16(kc, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, alpha, beta, loadFlag(beta))
		return
	}
	var tile [6][16]float32
	kernAVX2x6x16(kc, unsafe.SliceData(a), unsafe.SliceData(b), &tile[0][0], 16, 1, 0, 0)
	storeTile(unsafe.Slice(&tile[0][0], 6*16), 16, mr, c, ldc, nr, alpha, beta, false)
}

func loadFlag(beta float32) int {
	if beta == 0 {
		return 0
	}
	return 1
}

// bestKernel picks the fastest micro-kernel the CPU (and OS) supports.
func bestKernel() *microKernel {
	ks := availableKernels()
	return ks[len(ks)-1]
}

// availableKernels lists the micro-kernels this CPU can run, slowest first.
func availableKernels() []*microKernel {
	ks := []*microKernel{goKernel}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	return ks
}

//go:noescape
func packCopy32(dst, src *float32, ldb, kc, cols int)

//go:noescape
func packCopy8(dst, src *float32, lda, kc, rows int)

//go:noescape
func packTrans8(dst, src *float32, lda, kb int)

//go:noescape
func packTrans32(dst, src *float32, ldb, kb int)

// transB32 packs 32 rows of length kc of src (stride ldb) transposed into a
// 32-wide sliver: dst[p*32+r] = src[r*ldb+p].
func transB32(dst, src []float32, ldb, kc int) {
	_ = dst[32*kc-1]
	_ = src[31*ldb+kc-1]
	kb := kc / 16
	if kb > 0 {
		packTrans32(unsafe.SliceData(dst), unsafe.SliceData(src), ldb, kb)
	}
	for p := kb * 16; p < kc; p++ {
		d := dst[p*32 : p*32+32]
		for r := range d {
			d[r] = src[r*ldb+p]
		}
	}
}

// copyBlock32 packs the kc×nc block of a row-major B at src (stride ldb)
// into 32-wide slivers, 16 rows at a time across all slivers, so the source
// is read as 16 sequential streams and each sliver gets 2 KiB contiguous.
func copyBlock32(dst, src []float32, ldb, kc, nc int) {
	panels := (nc + 31) / 32
	_ = dst[panels*32*kc-1]
	_ = src[(kc-1)*ldb+nc-1]
	for p0 := 0; p0 < kc; p0 += copyRows {
		rows := min(copyRows, kc-p0)
		for s := range panels {
			cols := min(32, nc-s*32)
			packCopy32(&dst[s*32*kc+p0*32], &src[p0*ldb+s*32], ldb, rows, cols)
		}
	}
}

const copyRows = 16

// transA8 packs 8 rows of length kc of src (stride lda) transposed into an
// 8-wide A sliver: dst[p*8+r] = src[r*lda+p].
func transA8(dst, src []float32, lda, kc int) {
	_ = dst[8*kc-1]
	_ = src[7*lda+kc-1]
	kb := kc / 16
	if kb > 0 {
		packTrans8(unsafe.SliceData(dst), unsafe.SliceData(src), lda, kb)
	}
	for p := kb * 16; p < kc; p++ {
		d := dst[p*8 : p*8+8]
		for r := range d {
			d[r] = src[r*lda+p]
		}
	}
}

// copyA8 packs rows ≤ 8 contiguous values per p of a transposed A (stride
// lda) into an 8-wide A sliver, zero-filling rows past rows.
func copyA8(dst, src []float32, lda, kc, rows int) {
	_ = dst[8*kc-1]
	_ = src[(kc-1)*lda+rows-1]
	packCopy8(unsafe.SliceData(dst), unsafe.SliceData(src), lda, kc, rows)
}
