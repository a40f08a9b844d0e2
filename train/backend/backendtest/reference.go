package backendtest

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/train/backend"
)

// Reference is a backend.Backend that computes every op in float64 with the
// readable reference functions of this package (storage: []float64). It is
// slow and meant for tests: networks built on it can be checked by float64
// central differences, which float32 backends are too noisy for.
type Reference struct{}

var _ backend.Backend = Reference{}

// NewReference returns the float64 reference backend.
func NewReference() Reference { return Reference{} }

// Float64s returns the storage of a tensor allocated by Reference (tests
// perturb parameters through it).
func Float64s(t *backend.Tensor) []float64 {
	d, ok := t.Storage().([]float64)
	if !ok {
		panic(fmt.Sprintf("backendtest: tensor %v is not a reference tensor (storage %T)", t.Shape(), t.Storage()))
	}
	return d
}

func d64(t *backend.Tensor) []float64 { return Float64s(t) }

func dims(t *backend.Tensor) (int, int, int, int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("backendtest: tensor %v, want 4-D", s))
	}
	return s[0], s[1], s[2], s[3]
}

func (Reference) Name() string { return "reference" }

// Precision is backend.FP32 (the reference computes in float64).
func (Reference) Precision() backend.Precision { return backend.FP32 }

func (Reference) Alloc(shape ...int) *backend.Tensor {
	return backend.NewTensor(backend.Shape(shape), make([]float64, backend.Shape(shape).Numel()))
}

func (Reference) Free(*backend.Tensor) {}

func (Reference) Upload(dst *backend.Tensor, src []float32) {
	d := d64(dst)
	if len(d) != len(src) {
		panic("backendtest: upload: size mismatch")
	}
	for i, v := range src {
		d[i] = float64(v)
	}
}

func (Reference) Download(dst []float32, src *backend.Tensor) {
	s := d64(src)
	if len(s) != len(dst) {
		panic("backendtest: download: size mismatch")
	}
	for i, v := range s {
		dst[i] = float32(v)
	}
}

func (Reference) Fill(t *backend.Tensor, v float32) {
	d := d64(t)
	for i := range d {
		d[i] = float64(v)
	}
}

func (Reference) Copy(dst, src *backend.Tensor) { copy(d64(dst), d64(src)) }

func (Reference) Conv2dForward(x, w, b, y *backend.Tensor, p backend.ConvParams, relu bool) {
	n, c, h, wd := dims(x)
	oc, _, kh, kw := dims(w)
	var bv []float64
	if b != nil {
		bv = d64(b)
	}
	out, _, _ := RefConv(d64(x), n, c, h, wd, d64(w), oc, kh, kw, bv, p)
	if relu {
		out = relu64(out)
	}
	copy(d64(y), out)
}

func (Reference) Conv2dBackward(x, w, dy, dx, dw, db *backend.Tensor, p backend.ConvParams) {
	n, c, h, wd := dims(x)
	oc, _, kh, kw := dims(w)
	gx, gw, gb := RefConvBackward(d64(x), n, c, h, wd, d64(w), oc, kh, kw, d64(dy), p)
	if dx != nil {
		copy(d64(dx), gx)
	}
	if dw != nil {
		copy(d64(dw), gw)
	}
	if db != nil {
		copy(d64(db), gb)
	}
}

func (Reference) LinearForward(x, w, b, y *backend.Tensor, relu bool) {
	n, in := x.Shape()[0], x.Shape()[1]
	out := w.Shape()[0]
	var bv []float64
	if b != nil {
		bv = d64(b)
	}
	r := RefLinear(d64(x), n, in, d64(w), out, bv)
	if relu {
		r = relu64(r)
	}
	copy(d64(y), r)
}

func (Reference) LinearBackward(x, w, dy, dx, dw, db *backend.Tensor) {
	n, in := x.Shape()[0], x.Shape()[1]
	gx, gw, gb := RefLinearBackward(d64(x), n, in, d64(w), w.Shape()[0], d64(dy))
	if dx != nil {
		copy(d64(dx), gx)
	}
	copy(d64(dw), gw)
	if db != nil {
		copy(d64(db), gb)
	}
}

func (Reference) BatchNormTrain(x, gamma, beta, y, runMean, runVar, saveMean, saveInvStd *backend.Tensor, p backend.BatchNormParams, relu bool) {
	n, c, h, w := dims(x)
	if n*h*w <= 1 {
		panic("backendtest: batchnorm: one value per channel")
	}
	out, mean, varB, varU := RefBatchNormTrain(d64(x), n, c, h*w, d64(gamma), d64(beta), float64(p.Eps))
	if relu {
		out = relu64(out)
	}
	copy(d64(y), out)
	rm, rv, sm, si := d64(runMean), d64(runVar), d64(saveMean), d64(saveInvStd)
	m := float64(p.Momentum)
	for i := 0; i < c; i++ {
		rm[i] = (1-m)*rm[i] + m*mean[i]
		rv[i] = (1-m)*rv[i] + m*varU[i]
		sm[i] = mean[i]
		si[i] = 1 / math.Sqrt(varB[i]+float64(p.Eps))
	}
}

func (Reference) BatchNormEval(x, gamma, beta, y, runMean, runVar *backend.Tensor, eps float32, relu bool) {
	n, c, h, w := dims(x)
	out := RefBatchNormEval(d64(x), n, c, h*w, d64(gamma), d64(beta), d64(runMean), d64(runVar), float64(eps))
	if relu {
		out = relu64(out)
	}
	copy(d64(y), out)
}

// BatchNormBackward recomputes the batch statistics from x (saveInvStd
// fixes eps: invstd = 1/√(σ²+eps)).
func (Reference) BatchNormBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta *backend.Tensor, relu bool) {
	n, c, h, w := dims(x)
	g := append([]float64(nil), d64(dy)...)
	if relu {
		for i, v := range d64(y) {
			if !(v > 0) {
				g[i] = 0
			}
		}
	}
	// eps from invstd and the biased variance: eps = 1/invstd² − σ².
	_, _, varB, _ := RefBatchNormTrain(d64(x), n, c, h*w, d64(gamma), make([]float64, c), 0)
	si := d64(saveInvStd)
	eps := 1/(si[0]*si[0]) - varB[0]
	gx, gg, gb := RefBatchNormBackward(d64(x), n, c, h*w, d64(gamma), g, eps)
	copy(d64(dx), gx)
	copy(d64(dgamma), gg)
	copy(d64(dbeta), gb)
}

func (Reference) ReLU(x, y *backend.Tensor) { copy(d64(y), relu64(d64(x))) }

func (Reference) ReLUBackward(y, dy, dx *backend.Tensor) {
	yv, g, out := d64(y), d64(dy), d64(dx)
	for i, v := range yv {
		if v > 0 {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
}

func (Reference) Add(a, b, y *backend.Tensor) {
	av, bv, yv := d64(a), d64(b), d64(y)
	for i := range yv {
		yv[i] = av[i] + bv[i]
	}
}

func (Reference) AddReLU(a, b, y *backend.Tensor) {
	av, bv, yv := d64(a), d64(b), d64(y)
	for i := range yv {
		yv[i] = math.Max(av[i]+bv[i], 0)
	}
}

func (Reference) DivScalar(x, y *backend.Tensor, s float32) {
	xv, yv := d64(x), d64(y)
	for i := range yv {
		yv[i] = xv[i] / float64(s)
	}
}

func (Reference) MaxPool2dForward(x, y *backend.Tensor, p backend.PoolParams) {
	n, c, h, w := dims(x)
	out, _, _, _ := RefMaxPool(d64(x), n, c, h, w, p)
	copy(d64(y), out)
}

func (Reference) MaxPool2dBackward(x, y, dy, dx *backend.Tensor, p backend.PoolParams, reluInput bool) {
	n, c, h, w := dims(x)
	xv := d64(x)
	_, arg, _, _ := RefMaxPool(xv, n, c, h, w, p)
	out := d64(dx)
	clear(out)
	for o, k := range arg {
		if reluInput && !(xv[k] > 0) {
			continue
		}
		out[k] += d64(dy)[o]
	}
}

func (Reference) GlobalAvgPoolForward(x, y *backend.Tensor) {
	n, c, h, w := dims(x)
	xv, yv := d64(x), d64(y)
	for r := 0; r < n*c; r++ {
		var s float64
		for _, v := range xv[r*h*w : (r+1)*h*w] {
			s += v
		}
		yv[r] = s / float64(h*w)
	}
}

func (Reference) GlobalAvgPoolBackward(dy, dx *backend.Tensor) {
	n, c, h, w := dims(dx)
	g, out := d64(dy), d64(dx)
	for r := 0; r < n*c; r++ {
		for i := r * h * w; i < (r+1)*h*w; i++ {
			out[i] = g[r] / float64(h*w)
		}
	}
}

func (Reference) RowNormalize(x, y, norms *backend.Tensor, s, eps float32) {
	n, k := x.Shape()[0], x.Shape()[1]
	out, nr := RefRowNormalize(d64(x), n, k, float64(s), float64(eps))
	copy(d64(y), out)
	copy(d64(norms), nr)
}

func (Reference) RowNormalizeBackward(x, norms, dy, dx *backend.Tensor, s, eps float32) {
	n, k := x.Shape()[0], x.Shape()[1]
	copy(d64(dx), RefRowNormalizeBackward(d64(x), n, k, d64(dy), float64(s), float64(eps)))
}

func (Reference) SoftmaxCrossEntropy(logits *backend.Tensor, labels []int32, dlogits *backend.Tensor) float64 {
	n, k := logits.Shape()[0], logits.Shape()[1]
	loss, dz := RefSoftmaxCE(d64(logits), n, k, labels)
	if dlogits != nil {
		copy(d64(dlogits), dz)
	}
	return loss
}

func (Reference) SGDStep(param, grad, buf *backend.Tensor, p backend.SGDParams, first bool) {
	pv, g := d64(param), d64(grad)
	var b []float64
	if p.Momentum != 0 {
		b = d64(buf)
	}
	for i := range pv {
		d := g[i] + float64(p.WeightDecay)*pv[i]
		if p.Momentum != 0 {
			if first {
				b[i] = d
			} else {
				b[i] = float64(p.Momentum)*b[i] + d
			}
			if p.Nesterov {
				d += float64(p.Momentum) * b[i]
			} else {
				d = b[i]
			}
		}
		pv[i] -= float64(p.LR) * d
	}
}

func (Reference) NonFinite(t *backend.Tensor) bool {
	for _, v := range d64(t) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	return false
}
