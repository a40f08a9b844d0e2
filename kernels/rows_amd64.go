//go:build !noasm

package kernels

// The AVX-512 row kernels (rows_amd64.s). Pointers are slice bases, offsets
// in elements (the source offset may point before the slice: the lanes it
// covers there are masked off); tab holds the per-chunk masks of
// shiftTable / s2Table.
//
//go:noescape
func shiftRowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)

//go:noescape
func stride2RowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)

//go:noescape
func stride2AddRowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)

func shiftRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	shiftRowsLevel(vecLevel, dst, do, ds, dp, src, so, ss, sp, planes, rows, w, dx)
}

func stride2Rows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2RowsLevel(vecLevel, dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

func stride2AddRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2AddRowsLevel(vecLevel, dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

func shiftRowsLevel(level int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	if level < 2 || max(0, -dx) >= min(w, w-dx) {
		shiftRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, w, dx)
		return
	}
	var tab [2 * rowChunks]uint32
	for c0 := 0; c0 < w; c0 += rowChunks * 16 {
		chunks := shiftTable(&tab, c0, min(rowChunks*16, w-c0), w, dx)
		shiftRowsAVX512(&dst[0], do+c0, &src[0], so+c0+dx, rows, ds, ss, &tab[0], chunks, planes, 4*(dp-rows*ds), 4*(sp-rows*ss))
	}
}

func stride2RowsLevel(level int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	if first, last := s2Span(n, x0, w); level < 2 || first > last {
		stride2RowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
		return
	}
	var tab [3 * rowChunks]uint32
	for i0 := 0; i0 < n; i0 += rowChunks * 16 {
		chunks := s2Table(&tab, i0, min(rowChunks*16, n-i0), x0, w)
		stride2RowsAVX512(&dst[0], do+i0, &src[0], so+x0+2*i0, rows, ds, ss, &tab[0], chunks, planes, 4*(dp-rows*ds), 4*(sp-rows*ss))
	}
}

func stride2AddRowsLevel(level int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	if first, last := s2Span(n, x0, w); level < 2 || first > last {
		stride2AddRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
		return
	}
	var tab [3 * rowChunks]uint32
	for i0 := 0; i0 < n; i0 += rowChunks * 16 {
		chunks := s2Table(&tab, i0, min(rowChunks*16, n-i0), x0, w)
		stride2AddRowsAVX512(&dst[0], do+x0+2*i0, &src[0], so+i0, rows, ds, ss, &tab[0], chunks, planes, 4*(dp-rows*ds), 4*(sp-rows*ss))
	}
}
