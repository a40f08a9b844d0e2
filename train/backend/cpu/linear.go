package cpu

import (
	"fmt"

	"github.com/t2f/t2f/train/backend"
)

// linearSplitWork is the smallest product (m·n·k) whose rows are split over
// the workers; smaller ones (LeNet's layers) run on the calling goroutine.
const linearSplitWork = 1 << 20

// sgemmRows computes rows [0, m) of C = op(A)·op(B) (β = 0), splitting the
// rows over the workers (each with its single-threaded Gemm) when the
// product is large. aRow(i) is the offset of row i of op(A) in a and aStep
// the stride between consecutive rows' first elements.
func (b *Backend) sgemmRows(transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) {
	rowOff := func(i int) int {
		if transA {
			return i // op(A) row i is column i of A
		}
		return i * lda
	}
	grain := m
	if m*n*k >= linearSplitWork {
		grain = 8
	}
	b.parallel(m, grain, func(w, lo, hi int) {
		b.workers[w].gemm.Sgemm(transA, transB, hi-lo, n, k, 1, a[rowOff(lo):], lda, bm, ldb, 0, c[lo*ldc:], ldc)
	})
}

// LinearForward: y = x·wᵀ + b, then ReLU when relu.
func (b *Backend) LinearForward(x, w, bias, y *backend.Tensor, relu bool) {
	n, in := dims2("linear", x)
	out, win := dims2("linear", w)
	if win != in {
		panic(fmt.Sprintf("cpu: linear: input %v, weight %v: features differ", x.Shape(), w.Shape()))
	}
	mustShape("linear", y, n, out)
	yd := Data(y)
	b.sgemmRows(false, true, n, out, in, Data(x), in, Data(w), in, yd, out)
	var bd []float32
	if bias != nil {
		mustShape("linear", bias, out)
		bd = Data(bias)
	}
	for i := 0; i < n; i++ {
		row := yd[i*out : (i+1)*out]
		if bd != nil {
			for j := range row {
				row[j] += bd[j]
			}
		}
		if relu {
			for j, v := range row {
				row[j] = relu32(v)
			}
		}
	}
}

// LinearBackward writes dx (unless nil), dw and db (unless nil).
func (b *Backend) LinearBackward(x, w, dy, dx, dw, db *backend.Tensor) {
	n, in := dims2("linear backward", x)
	out, _ := dims2("linear backward", w)
	mustShape("linear backward", w, out, in)
	mustShape("linear backward", dy, n, out)
	mustShape("linear backward", dw, out, in)
	dyd := Data(dy)
	// dw (out, in) = dyᵀ (out, n) · x (n, in)
	b.sgemmRows(true, false, out, in, n, dyd, out, Data(x), in, Data(dw), in)
	if dx != nil {
		mustShape("linear backward", dx, n, in)
		b.sgemmRows(false, false, n, in, out, dyd, out, Data(w), in, Data(dx), in)
	}
	if db != nil {
		mustShape("linear backward", db, out)
		dbd := Data(db)
		clear(dbd)
		for i := 0; i < n; i++ {
			for j, v := range dyd[i*out : (i+1)*out] {
				dbd[j] += v
			}
		}
	}
}
