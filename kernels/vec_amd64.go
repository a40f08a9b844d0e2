//go:build !noasm

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func addToAVX512(dst, src *float32, n int)

//go:noescape
func addToAVX2(dst, src *float32, n int)

// vecLevel selects the element-wise kernels: 2 AVX-512, 1 AVX2, 0 pure Go.
// It is a property of the CPU, fixed for the life of the process.
var vecLevel = func() int {
	switch {
	case cpu.X86.HasAVX512F:
		return 2
	case cpu.X86.HasAVX2:
		return 1
	}
	return 0
}()

func addTo(dst, src []float32) {
	addToLevel(vecLevel, dst, src)
}

// addToLevel is addTo at a given kernel level (tests run every level).
func addToLevel(level int, dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = src[n-1]
	switch {
	case level >= 2:
		addToAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), n)
	case level == 1 && n >= 8:
		addToAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), n&^7)
		if r := n &^ 7; r < n {
			addToGo(dst[r:], src[r:n])
		}
	default:
		addToGo(dst, src)
	}
}

// vecLevels lists the levels this CPU can run (for tests).
func vecLevels() []int {
	ls := []int{0}
	for l := 1; l <= vecLevel; l++ {
		ls = append(ls, l)
	}
	return ls
}

//go:noescape
func affineAVX512(dst, src *float32, n int, a, c float32, relu int)

//go:noescape
func addVecAVX512(dst, x, y *float32, n int, relu int)

//go:noescape
func reluMaskAVX512(dst, dy, y *float32, n int)

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func affine(dst, src []float32, a, c float32, relu bool) {
	affineLevel(vecLevel, dst, src, a, c, relu)
}

func addVec(dst, x, y []float32, relu bool) { addVecLevel(vecLevel, dst, x, y, relu) }

func reluMask(dst, dy, y []float32) { reluMaskLevel(vecLevel, dst, dy, y) }

func affineLevel(level int, dst, src []float32, a, c float32, relu bool) {
	if level < 2 || len(dst) == 0 {
		affineGo(dst, src, a, c, relu)
		return
	}
	_ = src[len(dst)-1]
	affineAVX512(unsafe.SliceData(dst), unsafe.SliceData(src), len(dst), a, c, flag(relu))
}

func addVecLevel(level int, dst, x, y []float32, relu bool) {
	if level < 2 || len(dst) == 0 {
		addVecGo(dst, x, y, relu)
		return
	}
	_, _ = x[len(dst)-1], y[len(dst)-1]
	addVecAVX512(unsafe.SliceData(dst), unsafe.SliceData(x), unsafe.SliceData(y), len(dst), flag(relu))
}

func reluMaskLevel(level int, dst, dy, y []float32) {
	if level < 2 || len(dst) == 0 {
		reluMaskGo(dst, dy, y)
		return
	}
	_, _ = dy[len(dst)-1], y[len(dst)-1]
	reluMaskAVX512(unsafe.SliceData(dst), unsafe.SliceData(dy), unsafe.SliceData(y), len(dst))
}

//go:noescape
func prefetchLines(x *float32, n int)

func prefetch(x []float32) { prefetchLines(unsafe.SliceData(x), len(x)) }
