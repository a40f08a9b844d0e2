package cpu

import (
	"fmt"

	"github.com/t2f/t2f/train/backend"
)

// LinearForward: y = x·wᵀ + b, then ReLU when relu.
func (b *Backend) LinearForward(x, w, bias, y *backend.Tensor, relu bool) {
	n, in := dims2("linear", x)
	out, win := dims2("linear", w)
	if win != in {
		panic(fmt.Sprintf("cpu: linear: input %v, weight %v: features differ", x.Shape(), w.Shape()))
	}
	mustShape("linear", y, n, out)
	yd := Data(y)
	b.gemm.Sgemm(false, true, n, out, in, 1, Data(x), in, Data(w), in, 0, yd, out)
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
	b.gemm.Sgemm(true, false, out, in, n, 1, dyd, out, Data(x), in, 0, Data(dw), in)
	if dx != nil {
		mustShape("linear backward", dx, n, in)
		b.gemm.Sgemm(false, false, n, in, out, 1, dyd, out, Data(w), in, 0, Data(dx), in)
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
