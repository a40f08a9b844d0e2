//go:build noasm || !amd64

package kernels

func shiftRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	shiftRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, w, dx)
}

func stride2Rows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2RowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

func stride2AddRows(dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2AddRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

func shiftRowsLevel(_ int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, w, dx int) {
	shiftRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, w, dx)
}

func stride2RowsLevel(_ int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2RowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}

func stride2AddRowsLevel(_ int, dst []float32, do, ds, dp int, src []float32, so, ss, sp, planes, rows, n, x0, w int) {
	stride2AddRowsGo(dst, do, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
}
