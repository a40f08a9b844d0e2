package posthoc

import (
	"math"
	"slices"
)

// logSumExp returns log Σ exp(z_c) of one row, computed stably in float64.
func logSumExp(z []float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// row64 converts one float32 row to float64 into dst.
func row64(dst []float64, src []float32) []float64 {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float64(v)
	}
	return dst
}

// argmax32 returns the index of the first maximum (numpy / torch CPU order).
func argmax32(z []float32) int {
	best := 0
	for c, v := range z {
		if v > z[best] {
			best = c
		}
	}
	return best
}

// percentileSorted is numpy.percentile(x, p) with the default linear method over
// all elements of x: with s = sort(x), virtual index v = (n−1)·p/100,
// result = lerp(s[⌊v⌋], s[⌊v⌋+1], v−⌊v⌋) using numpy's two-sided lerp.
// sorted must be sorted ascending.
func percentileSorted(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	q := p / 100
	v := q * float64(n-1)
	lo := int(math.Floor(v))
	if lo < 0 {
		lo = 0
	}
	if lo >= n-1 {
		return sorted[n-1]
	}
	t := v - float64(lo)
	a, b := sorted[lo], sorted[lo+1]
	// numpy._lerp: a + (b−a)·t, or b − (b−a)·(1−t) when t ≥ 0.5.
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// sortedCopy64 converts x to float64 and sorts it.
func sortedCopy64(x []float32) []float64 {
	s := make([]float64, len(x))
	for i, v := range x {
		s[i] = float64(v)
	}
	slices.Sort(s)
	return s
}

// colMeans returns the column means of an N×D float32 matrix in float64.
func colMeans(x []float32, n, d int) []float64 {
	m := make([]float64, d)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			m[j] += float64(v)
		}
	}
	for j := range m {
		m[j] /= float64(n)
	}
	return m
}

// softmax32 is softmax(z·scale) in float32 the way torch's CPU kernel orders
// it: z'_c = fl32(z_c·scale) (scale 1: z itself), m = max z', e_c =
// fl32(exp(z'_c − m)), s = Σ_c e_c summed in float32 in class order, and
// p_c = e_c·fl32(1/s). OpenOOD's softmax scores are float32, so confident
// samples saturate at exactly 1 (and far classes at exactly 0); computing
// them in float64 would break OpenOOD's ties.
func softmax32(p, z []float32, div float32) {
	m := float32(math.Inf(-1))
	for c, v := range z {
		if div != 1 {
			v /= div
		}
		p[c] = v
		m = max(m, v)
	}
	var s float32
	for c, v := range p {
		e := float32(math.Exp(float64(v - m)))
		p[c] = e
		s += e
	}
	inv := 1 / s
	for c := range p {
		p[c] *= inv
	}
}
