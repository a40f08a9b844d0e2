//go:build !noasm

package kernels

import "unsafe"

// The AVX-512 BatchNorm plane kernels (bn_amd64.s); n ≥ 1. y == nil passes
// relu = 0 and any valid pointer.
//
//go:noescape
func sumAVX512(x *float32, n, ahead int) float64

//go:noescape
func sqDevAVX512(x *float32, n int, m float32) float64

//go:noescape
func gradStatsAVX512(x, dy, y *float32, n int, m float32, relu, ahead int) (sum, dot float32)

//go:noescape
func bnGradAVX512(dx, dy, y, x *float32, n int, w, a, c float32, relu int)

func sumPlane(x []float32) float64              { return sumLevel(vecLevel, x) }
func sqDevPlane(x []float32, m float32) float64 { return sqDevLevel(vecLevel, x, m) }
func gradStats(x, dy, y []float32, m float32) (float32, float32) {
	return gradStatsLevel(vecLevel, x, dy, y, m)
}
func bnGrad(dx, dy, y, x []float32, w, a, c float32) { bnGradLevel(vecLevel, dx, dy, y, x, w, a, c) }
func sumAhead(x []float32, ahead int) float64        { return sumAheadLevel(vecLevel, x, ahead) }
func gradStatsAhead(x, dy, y []float32, m float32, ahead int) (float32, float32) {
	return gradStatsAheadLevel(vecLevel, x, dy, y, m, ahead)
}

func sumLevel(level int, x []float32) float64 { return sumAheadLevel(level, x, 0) }

// sumAheadLevel is sumLevel prefetching the elements ahead floats further
// (a hint: never dereferenced by Go code).
func sumAheadLevel(level int, x []float32, ahead int) float64 {
	if level < 2 || len(x) == 0 {
		return sumGo(x)
	}
	return sumAVX512(unsafe.SliceData(x), len(x), 4*ahead)
}

func sqDevLevel(level int, x []float32, m float32) float64 {
	if level < 2 || len(x) == 0 {
		return sqDevGo(x, m)
	}
	return sqDevAVX512(unsafe.SliceData(x), len(x), m)
}

// maskArg returns y's data pointer and relu = 1, or dy's and 0 when y is nil.
func maskArg(y, dy []float32) (*float32, int) {
	if y == nil {
		return unsafe.SliceData(dy), 0
	}
	return unsafe.SliceData(y), 1
}

func gradStatsLevel(level int, x, dy, y []float32, m float32) (float32, float32) {
	return gradStatsAheadLevel(level, x, dy, y, m, 0)
}

func gradStatsAheadLevel(level int, x, dy, y []float32, m float32, ahead int) (float32, float32) {
	if level < 2 || len(x) == 0 {
		return gradStatsGo(x, dy, y, m)
	}
	_ = dy[len(x)-1]
	if y != nil {
		_ = y[len(x)-1]
	}
	yp, relu := maskArg(y, dy)
	return gradStatsAVX512(unsafe.SliceData(x), unsafe.SliceData(dy), yp, len(x), m, relu, 4*ahead)
}

func bnGradLevel(level int, dx, dy, y, x []float32, w, a, c float32) {
	if level < 2 || len(dx) == 0 {
		bnGradGo(dx, dy, y, x, w, a, c)
		return
	}
	_, _ = dy[len(dx)-1], x[len(dx)-1]
	if y != nil {
		_ = y[len(dx)-1]
	}
	yp, relu := maskArg(y, dy)
	bnGradAVX512(unsafe.SliceData(dx), unsafe.SliceData(dy), yp, unsafe.SliceData(x), len(dx), w, a, c, relu)
}
