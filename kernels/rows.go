package kernels

// Row kernels of the convolution lowerings: a lowered row of a stride-1
// convolution is its input plane shifted by (dy, dx) with zero fill, and of a
// stride-2 convolution every second input column. Each call moves planes ×
// rows rows (e.g. one kernel offset over every channel); on amd64 with
// AVX-512 the out-of-image lanes are masked loads and stores (no clearing
// pass, no per-row fix-ups). Strides are in elements and non-negative:
// ds/ss between rows, dp/sp between planes.

// ShiftRows copies rows shifted left by dx columns, with zeros where the
// source column falls outside [0, w):
//
//	dst[do + l*dp + r*ds + x] = src[so + l*sp + r*ss + x + dx] if 0 ≤ x+dx < w, else 0
//	(l < planes, r < rows, x < w)
//
// It panics when a row reads or writes outside src or dst.
func ShiftRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	if planes <= 0 || rows <= 0 || w <= 0 {
		return
	}
	lo, hi := max(0, -dx), min(w, w-dx) // x with a source column
	if ds < 0 || dp < 0 || ss < 0 || sp < 0 || do < 0 || do+(planes-1)*dp+(rows-1)*ds+w > len(dst) ||
		(lo < hi && (so+lo+dx < 0 || so+(planes-1)*sp+(rows-1)*ss+hi-1+dx >= len(src))) {
		panic("kernels: ShiftRows: rows outside the slices")
	}
	shiftRows(dst, do, ds, dp, src, so, ss, sp, planes, rows, w, dx)
}

func shiftRowsGo(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	lo, hi := min(max(0, -dx), w), max(min(w, w-dx), 0) // columns with a source
	hi = max(lo, hi)
	for l := range planes {
		for r := range rows {
			d := dst[do+l*dp+r*ds : do+l*dp+r*ds+w]
			clear(d[:lo])
			if lo < hi {
				o := so + l*sp + r*ss + dx
				copy(d[lo:hi], src[o+lo:o+hi])
			}
			clear(d[hi:])
		}
	}
}

// Stride2Rows gathers every second column of w-wide rows, starting at
// column x0 (which may be negative: zero padding):
//
//	dst[do + l*dp + r*ds + i] = src[so + l*sp + r*ss + x0 + 2i] if 0 ≤ x0+2i < w, else 0
//	(l < planes, r < rows, i < n)
//
// It panics when a row reads or writes outside src or dst.
func Stride2Rows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	if planes <= 0 || rows <= 0 || n <= 0 {
		return
	}
	if ds < 0 || dp < 0 || ss < 0 || sp < 0 || do < 0 || do+(planes-1)*dp+(rows-1)*ds+n > len(dst) ||
		!s2InSrc(len(src), so, (planes-1)*sp+(rows-1)*ss, n, x0, w) {
		panic("kernels: Stride2Rows: rows outside the slices")
	}
	stride2Rows(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

// Stride2AddRows is the adjoint of Stride2Rows: it adds each value back to
// the column it came from, skipping the padding.
//
//	dst[do + l*dp + r*ds + x0 + 2i] += src[so + l*sp + r*ss + i]   where 0 ≤ x0+2i < w
//	(l < planes, r < rows, i < n)
//
// The destination rows must not overlap. It panics when a row reads or
// writes outside src or dst.
func Stride2AddRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	if planes <= 0 || rows <= 0 || n <= 0 {
		return
	}
	if ds < 0 || dp < 0 || ss < 0 || sp < 0 || so < 0 || so+(planes-1)*sp+(rows-1)*ss+n > len(src) ||
		!s2InSrc(len(dst), do, (planes-1)*dp+(rows-1)*ds, n, x0, w) {
		panic("kernels: Stride2AddRows: rows outside the slices")
	}
	stride2AddRows(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

// s2InSrc reports whether the in-range columns x0+2i ∈ [0, w) of the rows
// starting at o (first) to o+span (last) lie in a slice of length l.
func s2InSrc(l, o, span, n, x0, w int) bool {
	first, last := s2Span(n, x0, w)
	if first > last {
		return true // nothing is read or written
	}
	return o+first >= 0 && o+span+last < l
}

// s2Span returns the first and last in-range column x0+2i ∈ [0, w), i < n
// (first > last when there is none).
func s2Span(n, x0, w int) (first, last int) {
	first = x0
	if x0 < 0 {
		first = x0 + 2*((1-x0)/2)
	}
	last = x0 + 2*(n-1)
	if last >= w {
		last -= 2 * ((last-w)/2 + 1)
	}
	return first, last
}

func stride2RowsGo(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	for l := range planes {
		for r := range rows {
			d := dst[do+l*dp+r*ds : do+l*dp+r*ds+n]
			for i := range d {
				var v float32
				if x := x0 + 2*i; x >= 0 && x < w {
					v = src[so+l*sp+r*ss+x]
				}
				d[i] = v
			}
		}
	}
}

func stride2AddRowsGo(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	for l := range planes {
		for r := range rows {
			s := src[so+l*sp+r*ss : so+l*sp+r*ss+n]
			for i, v := range s {
				if x := x0 + 2*i; x >= 0 && x < w {
					dst[do+l*dp+r*ds+x] += v
				}
			}
		}
	}
}

// rowChunks is the most 16-lane chunks one assembly call handles; wider
// rows are split into column blocks of rowChunks·16 outputs.
const rowChunks = 16

// bitRange returns the bits [lo, hi) of a 16-bit mask (clamped to 0..16).
func bitRange(lo, hi int) uint32 {
	lo, hi = max(lo, 0), min(hi, 16)
	if lo >= hi {
		return 0
	}
	return (uint32(1)<<hi - 1) &^ (uint32(1)<<lo - 1)
}

// shiftTable fills the per-chunk masks of a ShiftRows call over output
// columns [c0, c0+cnt) (cnt ≤ rowChunks·16): tab[2j] is the source load mask
// (columns with 0 ≤ x+dx < w), tab[2j+1] the store mask. It returns the
// number of chunks.
func shiftTable(tab *[2 * rowChunks]uint32, c0, cnt, w, dx int) int {
	chunks := (cnt + 15) / 16
	for j := range chunks {
		x := c0 + 16*j
		m := min(16, c0+cnt-x)
		tab[2*j] = bitRange(-dx-x, w-dx-x) & bitRange(0, m)
		tab[2*j+1] = bitRange(0, m)
	}
	return chunks
}

// s2Table fills the per-chunk masks of a stride-2 call over outputs
// [i0, i0+cnt): the chunk's 16 outputs read or write source columns
// x0+2·i0+32j … +30, two 16-lane registers: tab[3j] and tab[3j+1] are the
// even in-range lanes of the low and high register, tab[3j+2] the outputs.
func s2Table(tab *[3 * rowChunks]uint32, i0, cnt, x0, w int) int {
	chunks := (cnt + 15) / 16
	for j := range chunks {
		i := i0 + 16*j
		m := min(16, i0+cnt-i)
		base := x0 + 2*i // source column of lane 0 of the low register
		var lo, hi uint32
		for l := 0; l < m; l++ {
			if x := base + 2*l; x >= 0 && x < w {
				if 2*l < 16 {
					lo |= 1 << (2 * l)
				} else {
					hi |= 1 << (2*l - 16)
				}
			}
		}
		tab[3*j], tab[3*j+1], tab[3*j+2] = lo, hi, bitRange(0, m)
	}
	return chunks
}
