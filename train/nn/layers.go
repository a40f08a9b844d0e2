package nn

import (
	"math"
	"math/rand/v2"

	"github.com/t2f/t2f/train/backend"
)

// Param is a trainable tensor, its gradient (written by Model.Backward) and
// its state_dict name.
type Param struct {
	Name  string
	Value *backend.Tensor
	Grad  *backend.Tensor
}

// entry is one state_dict item: a float32 tensor (parameter or buffer) or
// an int64 counter (num_batches_tracked).
type entry struct {
	name   string
	t      *backend.Tensor
	count  *int64
	scalar *float32 // a 0-d float32 buffer held on the host (tau)
}

// builder collects parameters and state while a model is assembled.
type builder struct {
	be      backend.Backend
	pool    *gradPool
	rng     *rand.Rand
	params  []*Param
	entries []entry
}

func (b *builder) param(name string, host []float32, shape ...int) *Param {
	p := &Param{Name: name, Value: b.be.Alloc(shape...), Grad: b.be.Alloc(shape...)}
	b.be.Upload(p.Value, host)
	b.params = append(b.params, p)
	b.entries = append(b.entries, entry{name: name, t: p.Value})
	return p
}

func (b *builder) buffer(name string, fill float32, shape ...int) *backend.Tensor {
	t := b.be.Alloc(shape...)
	if fill != 0 {
		b.be.Fill(t, fill)
	}
	b.entries = append(b.entries, entry{name: name, t: t})
	return t
}

// uniform returns n draws from U(−bound, bound).
func (b *builder) uniform(n int, bound float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((b.rng.Float64()*2 - 1) * bound)
	}
	return v
}

// normal returns n draws from N(0, std²).
func (b *builder) normal(n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(b.rng.NormFloat64() * std)
	}
	return v
}

// ensure makes *t a tensor of the given shape, reallocating when it differs.
func ensure(be backend.Backend, t **backend.Tensor, shape ...int) *backend.Tensor {
	if *t == nil || !(*t).Shape().Equal(shape) {
		if *t != nil {
			be.Free(*t)
		}
		*t = be.Alloc(shape...)
	}
	return *t
}

// convInit selects the weight initialisation of a convolution.
type convInit int

const (
	// initDefault is PyTorch's Conv2d/Linear default: kaiming_uniform_(a=√5),
	// i.e. U(±1/√fan_in), bias U(±1/√fan_in).
	initDefault convInit = iota
	// initKaimingFanOut is torchvision's ResNet init:
	// kaiming_normal_(mode="fan_out", nonlinearity="relu"), std √(2/fan_out).
	initKaimingFanOut
)

// conv2d is nn.Conv2d, optionally followed by a fused ReLU.
type conv2d struct {
	be     backend.Backend
	w, b   *Param
	p      backend.ConvParams
	relu   bool
	masked bool // the consumer's backward already applied the ReLU mask
	needDx bool
	x      *backend.Tensor // input of the last forward (owned by the producer)
	y      *backend.Tensor
	pool   *gradPool
}

func newConv(bd *builder, name string, in, out, k, stride, pad int, bias bool, init convInit) *conv2d {
	l := &conv2d{be: bd.be, pool: bd.pool, p: backend.ConvParams{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}, needDx: true}
	n := out * in * k * k
	fanIn := float64(in * k * k)
	var w []float32
	switch init {
	case initKaimingFanOut:
		w = bd.normal(n, math.Sqrt(2/float64(out*k*k)))
	default:
		w = bd.uniform(n, 1/math.Sqrt(fanIn))
	}
	l.w = bd.param(name+".weight", w, out, in, k, k)
	if bias {
		l.b = bd.param(name+".bias", bd.uniform(out, 1/math.Sqrt(fanIn)), out)
	}
	return l
}

func (l *conv2d) outShape(x backend.Shape) backend.Shape {
	ws := l.w.Value.Shape()
	oh, ow := l.p.OutSize(x[2], x[3], ws[2], ws[3])
	return backend.Shape{x[0], ws[0], oh, ow}
}

func (l *conv2d) forward(x *backend.Tensor) *backend.Tensor {
	y := ensure(l.be, &l.y, l.outShape(x.Shape())...)
	var b *backend.Tensor
	if l.b != nil {
		b = l.b.Value
	}
	l.be.Conv2dForward(x, l.w.Value, b, y, l.p, l.relu)
	l.x = x
	return y
}

// backward masks dy in place when the ReLU is fused, then returns dx (nil
// for a first layer, which needs no input gradient).
func (l *conv2d) backward(dy *backend.Tensor) *backend.Tensor {
	if l.relu && !l.masked {
		l.be.ReLUBackward(l.y, dy, dy)
	}
	var dx, db *backend.Tensor
	if l.needDx {
		dx = l.pool.get(l.x.Shape())
	}
	if l.b != nil {
		db = l.b.Grad
	}
	l.be.Conv2dBackward(l.x, l.w.Value, dy, dx, l.w.Grad, db, l.p)
	return dx
}

// batchNorm is nn.BatchNorm2d (momentum 0.1, eps 1e-5, affine, tracking
// running statistics), optionally followed by a fused ReLU.
type batchNorm struct {
	be                   backend.Backend
	gamma, beta          *Param
	runMean, runVar      *backend.Tensor
	tracked              int64
	saveMean, saveInvStd *backend.Tensor
	relu                 bool
	train                bool            // the mode of the last forward
	zeros                *backend.Tensor // (C) zeros, made on the first eval backward
	x, y                 *backend.Tensor
	pool                 *gradPool
}

const (
	bnMomentum = 0.1
	bnEps      = 1e-5
)

func newBatchNorm(bd *builder, name string, c int, relu bool) *batchNorm {
	l := &batchNorm{be: bd.be, pool: bd.pool, relu: relu}
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	l.gamma = bd.param(name+".weight", ones, c)
	l.beta = bd.param(name+".bias", make([]float32, c), c)
	l.runMean = bd.buffer(name+".running_mean", 0, c)
	l.runVar = bd.buffer(name+".running_var", 1, c)
	bd.entries = append(bd.entries, entry{name: name + ".num_batches_tracked", count: &l.tracked})
	l.saveMean = bd.be.Alloc(c)
	l.saveInvStd = bd.be.Alloc(c)
	return l
}

func (l *batchNorm) forward(x *backend.Tensor, train bool) *backend.Tensor {
	y := ensure(l.be, &l.y, x.Shape()...)
	if train {
		l.be.BatchNormTrain(x, l.gamma.Value, l.beta.Value, y, l.runMean, l.runVar, l.saveMean, l.saveInvStd,
			backend.BatchNormParams{Momentum: bnMomentum, Eps: bnEps}, l.relu)
		l.tracked++
	} else {
		l.be.BatchNormEval(x, l.gamma.Value, l.beta.Value, y, l.runMean, l.runVar, bnEps, l.relu)
	}
	l.x, l.train = x, train
	return y
}

// backward is the gradient of the last forward: of the batch statistics
// after a training forward, of the affine map y = γ·(x−μ_run)/√(σ²_run+eps)
// + β after an eval forward (see evalBackward).
func (l *batchNorm) backward(dy *backend.Tensor) *backend.Tensor {
	if !l.train {
		return l.evalBackward(dy)
	}
	dx := l.pool.get(l.x.Shape())
	l.be.BatchNormBackward(l.x, l.y, dy, l.gamma.Value, l.saveMean, l.saveInvStd, dx, l.gamma.Grad, l.beta.Grad, l.relu)
	return dx
}

// evalBackward is the input gradient of BatchNormEval, dx = γ·dy/√(σ²_run+eps)
// (dy masked by y > 0 first when the ReLU is fused). It is BatchNormEval
// itself applied to dy with zero mean and zero shift, so every backend has
// it without a new operation. Parameter gradients are not written.
func (l *batchNorm) evalBackward(dy *backend.Tensor) *backend.Tensor {
	c := l.gamma.Value.Shape()[0]
	if l.zeros == nil {
		l.zeros = l.be.Alloc(c)
	}
	src := dy
	if l.relu {
		src = l.pool.get(dy.Shape())
		l.be.ReLUBackward(l.y, dy, src)
	}
	dx := l.pool.get(l.x.Shape())
	l.be.BatchNormEval(src, l.gamma.Value, l.zeros, dx, l.zeros, l.runVar, bnEps, false)
	if src != dy {
		l.pool.put(src)
	}
	return dx
}

// linear is nn.Linear, optionally followed by a fused ReLU.
type linear struct {
	be   backend.Backend
	w, b *Param
	relu bool
	x    *backend.Tensor
	y    *backend.Tensor
	pool *gradPool
}

func newLinear(bd *builder, name string, in, out int) *linear {
	bound := 1 / math.Sqrt(float64(in))
	l := &linear{be: bd.be, pool: bd.pool}
	l.w = bd.param(name+".weight", bd.uniform(out*in, bound), out, in)
	l.b = bd.param(name+".bias", bd.uniform(out, bound), out)
	return l
}

func (l *linear) forward(x *backend.Tensor) *backend.Tensor {
	y := ensure(l.be, &l.y, x.Shape()[0], l.w.Value.Shape()[0])
	l.be.LinearForward(x, l.w.Value, l.b.Value, y, l.relu)
	l.x = x
	return y
}

func (l *linear) backward(dy *backend.Tensor) *backend.Tensor {
	if l.relu {
		l.be.ReLUBackward(l.y, dy, dy)
	}
	dx := l.pool.get(l.x.Shape())
	l.be.LinearBackward(l.x, l.w.Value, dy, dx, l.w.Grad, l.b.Grad)
	return dx
}

// maxPool is nn.MaxPool2d. With reluInput its input is the output of a
// fused ReLU whose gradient mask the pool's backward applies (the producer
// then skips its own mask).
type maxPool struct {
	be        backend.Backend
	p         backend.PoolParams
	reluInput bool
	x         *backend.Tensor
	y         *backend.Tensor
	pool      *gradPool
}

func newMaxPool(bd *builder, k, stride, pad int) *maxPool {
	return &maxPool{be: bd.be, pool: bd.pool, p: backend.PoolParams{KH: k, KW: k, StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}}
}

func (l *maxPool) forward(x *backend.Tensor) *backend.Tensor {
	s := x.Shape()
	oh, ow := l.p.OutSize(s[2], s[3])
	y := ensure(l.be, &l.y, s[0], s[1], oh, ow)
	l.be.MaxPool2dForward(x, y, l.p)
	l.x = x
	return y
}

func (l *maxPool) backward(dy *backend.Tensor) *backend.Tensor {
	dx := l.pool.get(l.x.Shape())
	l.be.MaxPool2dBackward(l.x, l.y, dy, dx, l.p, l.reluInput)
	return dx
}

// avgPool is AdaptiveAvgPool2d(1) followed by flattening: (N,C,H,W) → (N,C).
type avgPool struct {
	be   backend.Backend
	x    *backend.Tensor
	y    *backend.Tensor
	pool *gradPool
}

func (l *avgPool) forward(x *backend.Tensor) *backend.Tensor {
	s := x.Shape()
	y := ensure(l.be, &l.y, s[0], s[1])
	l.be.GlobalAvgPoolForward(x, y)
	l.x = x
	return y
}

func (l *avgPool) backward(dy *backend.Tensor) *backend.Tensor {
	dx := l.pool.get(l.x.Shape())
	l.be.GlobalAvgPoolBackward(dy, dx)
	return dx
}

// gradPool recycles gradient buffers: backward passes run one layer at a
// time, so input gradients need not live beyond their consumer. A layer's
// backward takes its dx from the pool; whoever has consumed a gradient puts
// it back. Memory for gradients is then a few buffers per shape instead of
// one per layer.
type gradPool struct {
	be   backend.Backend
	free map[shapeKey][]*backend.Tensor
}

type shapeKey [5]int // rank, then up to four extents

func keyOf(s backend.Shape) shapeKey {
	k := shapeKey{len(s)}
	copy(k[1:], s)
	return k
}

func newGradPool(be backend.Backend) *gradPool {
	return &gradPool{be: be, free: map[shapeKey][]*backend.Tensor{}}
}

// get returns a buffer of the given shape (contents undefined).
func (p *gradPool) get(s backend.Shape) *backend.Tensor {
	k := keyOf(s)
	if l := p.free[k]; len(l) > 0 {
		t := l[len(l)-1]
		p.free[k] = l[:len(l)-1]
		return t
	}
	return p.be.Alloc(s...)
}

// put returns t to the pool; t must not be used afterwards.
func (p *gradPool) put(t *backend.Tensor) {
	if t == nil {
		return
	}
	k := keyOf(t.Shape())
	p.free[k] = append(p.free[k], t)
}

// reset frees every pooled buffer (the batch size changed).
func (p *gradPool) reset() {
	for k, l := range p.free {
		for _, t := range l {
			p.be.Free(t)
		}
		delete(p.free, k)
	}
}
