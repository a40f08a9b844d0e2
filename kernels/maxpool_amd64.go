//go:build !noasm

package kernels

import "unsafe"

//go:noescape
func firstMax3AVX512(dst, a, b, c *float32, n int)

func firstMax3(dst, a, b, c []float32) { firstMax3Level(vecLevel, dst, a, b, c) }

// firstMax3Level is firstMax3 at a given kernel level (tests run every level).
func firstMax3Level(level int, dst, a, b, c []float32) {
	n := len(dst)
	if level < 2 || n == 0 {
		firstMax3Go(dst, a, b, c)
		return
	}
	_, _, _ = a[n-1], b[n-1], c[n-1]
	firstMax3AVX512(unsafe.SliceData(dst), unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), n)
}
