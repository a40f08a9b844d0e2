package nn

import (
	"fmt"

	"github.com/t2f/t2f/train/backend"
)

// Inference (Infer, InferHost) is the eval-mode forward of feature
// extraction: the same arithmetic as Forward(x, false), bit for bit, but
// nothing is kept for a backward pass. Activations come from an actPool and
// go back to it as soon as their consumer has run, so memory is a few
// activations of the largest layer (about four for a ResNet block: its
// input, two main-path maps and the shortcut), not one per layer as a
// forward that InputGradient could differentiate needs. Where the backend
// fuses conv+BatchNorm(+residual)+ReLU (backend.ConvBatchNormEvaler) each
// pair is one pass over memory.

// InferHost uploads a host batch (NCHW, len = n·C·S·S) into a reused input
// tensor and runs Infer on it.
func (m *Model) InferHost(x []float32) (Output, error) {
	per := m.InputShape(1).Numel()
	if len(x) == 0 || len(x)%per != 0 {
		return Output{}, fmt.Errorf("nn: infer: %d input values is not a whole number of %v images", len(x), m.InputShape(1)[1:])
	}
	in := ensure(m.be, &m.hostIn, m.InputShape(len(x)/per)...)
	m.be.Upload(in, x)
	return m.Infer(in)
}

// Infer runs the network on x (N, C, S, S) in eval mode (BatchNorm with its
// running statistics), as Forward(x, false) does and with the same results,
// keeping no activations: InputGradient, StageOutput and StemOutput are not
// available after it, nor VisitTaps. Memory is bounded by a few activations of the largest
// layer and reused from call to call (see InferPeak).
func (m *Model) Infer(x *backend.Tensor) (out Output, err error) {
	defer guard("infer", &err)
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || !s[1:].Equal(m.InputShape(1)[1:]) {
		return Output{}, fmt.Errorf("nn: infer: input %v, want [N %d %d %d] for %s", s, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize, m.cfg.Arch)
	}
	m.ready, m.evalGrad, m.tapped = false, false, false
	if m.acts == nil {
		m.acts = newActPool(m.be)
	}
	if m.actsN != s[0] {
		m.acts.reset() // buffers of the old batch size would only linger
		m.actsN = s[0]
	}
	m.x, m.train = nil, false // no activations of this forward are kept
	f := m.bb.infer(x, m.acts)
	out, err = m.head(f)
	if err != nil {
		if m.be.NonFinite(x) {
			return Output{}, fmt.Errorf("nn: infer: input %v contains NaN or Inf", s)
		}
		return Output{}, fmt.Errorf("nn: infer: %v batch: %w", s, err)
	}
	return out, nil
}

// InferPeak is the most float32 elements of activation buffers the
// inference forward has held at once, and the elements it holds now (all
// returned to its pool between calls); 0, 0 before the first Infer.
func (m *Model) InferPeak() (peak, held int) {
	if m.acts == nil {
		return 0, 0
	}
	return m.acts.peak, m.acts.held
}

// actPool lends activation buffers to the inference forward, keyed by
// element count (a buffer serves any shape of its size, as a reshaped
// handle over the same storage). held counts the elements of every buffer
// it has allocated, peak the most of them in use at once.
type actPool struct {
	be                backend.Backend
	free              map[int][]*backend.Tensor
	held, inUse, peak int
}

func newActPool(be backend.Backend) *actPool {
	return &actPool{be: be, free: map[int][]*backend.Tensor{}}
}

// get returns a buffer of the given shape (contents undefined).
func (p *actPool) get(shape ...int) *backend.Tensor {
	s := backend.Shape(shape)
	n := s.Numel()
	p.inUse += n
	p.peak = max(p.peak, p.inUse)
	if l := p.free[n]; len(l) > 0 {
		t := l[len(l)-1]
		p.free[n] = l[:len(l)-1]
		if t.Shape().Equal(s) {
			return t
		}
		v, err := t.Reshape(shape...)
		if err != nil {
			panic(err) // same element count: cannot happen
		}
		return v
	}
	p.held += n
	return p.be.Alloc(shape...)
}

// put returns t (a buffer from get) to the pool.
func (p *actPool) put(t *backend.Tensor) {
	n := t.Numel()
	p.inUse -= n
	p.free[n] = append(p.free[n], t)
}

// reset frees every buffer; none may be in use.
func (p *actPool) reset() {
	for k, l := range p.free {
		for _, t := range l {
			p.be.Free(t)
		}
		delete(p.free, k)
	}
	p.held, p.inUse, p.peak = 0, 0, 0
}

// infer runs l on x into a pool buffer (conv, bias, fused ReLU).
func (l *conv2d) infer(x *backend.Tensor, a *actPool) *backend.Tensor {
	y := a.get(l.outShape(x.Shape())...)
	var b *backend.Tensor
	if l.b != nil {
		b = l.b.Value
	}
	l.be.Conv2dForward(x, l.w.Value, b, y, l.p, l.relu)
	return y
}

// convBN is bn(conv(x)) (+ res) (then ReLU when bn.relu or, with res, when
// relu) into a pool buffer: one fused call where the backend has it, else
// the separate ops of Forward. The conv has no bias and no ReLU of its own.
func convBN(c *conv2d, bn *batchNorm, x, res *backend.Tensor, relu bool, a *actPool) *backend.Tensor {
	if res == nil {
		relu = bn.relu
	}
	y := a.get(c.outShape(x.Shape())...)
	if f, ok := c.be.(backend.ConvBatchNormEvaler); ok && c.b == nil && !c.relu {
		f.Conv2dBatchNormEval(x, c.w.Value, y, c.p, bn.gamma.Value, bn.beta.Value, bn.runMean, bn.runVar, bnEps, res, relu)
		return y
	}
	t := c.infer(x, a)
	c.be.BatchNormEval(t, bn.gamma.Value, bn.beta.Value, y, bn.runMean, bn.runVar, bnEps, bn.relu && res == nil)
	a.put(t)
	if res != nil {
		if relu {
			c.be.AddReLU(y, res, y)
		} else {
			c.be.Add(y, res, y)
		}
	}
	return y
}

// infer is forward(x, false) with pool buffers; the caller keeps x.
func (r *residual) infer(x *backend.Tensor, a *actPool) *backend.Tensor {
	s := x
	if r.scCv != nil {
		s = convBN(r.scCv, r.scBN, x, nil, false, a)
	}
	h := x
	last := len(r.convs) - 1
	for i, c := range r.convs[:last] {
		t := convBN(c, r.bns[i], h, nil, false, a)
		if h != x {
			a.put(h)
		}
		h = t
	}
	y := convBN(r.convs[last], r.bns[last], h, s, true, a)
	if h != x {
		a.put(h)
	}
	if s != x {
		a.put(s)
	}
	return y
}

func (l *maxPool) infer(x *backend.Tensor, a *actPool) *backend.Tensor {
	s := x.Shape()
	oh, ow := l.p.OutSize(s[2], s[3])
	y := a.get(s[0], s[1], oh, ow)
	l.be.MaxPool2dForward(x, y, l.p)
	return y
}

func (r *resnet) infer(x *backend.Tensor, a *actPool) *backend.Tensor {
	h := convBN(r.stem, r.bn1, x, nil, false, a)
	if r.pool != nil {
		t := r.pool.infer(h, a)
		a.put(h)
		h = t
	}
	for _, b := range r.blocks {
		t := b.infer(h, a)
		a.put(h)
		h = t
	}
	f := r.gap.forward(h) // (N, C): the model's own, small
	a.put(h)
	return f
}

func (l *lenet) infer(x *backend.Tensor, a *actPool) *backend.Tensor {
	h := l.c1.infer(x, a)
	for _, step := range []func(*backend.Tensor, *actPool) *backend.Tensor{l.p1.infer, l.c2.infer, l.p2.infer, l.c3.infer} {
		t := step(h, a)
		a.put(h)
		h = t
	}
	flat, err := h.Reshape(h.Shape()[0], 120)
	if err != nil {
		panic(err)
	}
	f := l.fc1.forward(flat) // (N, 84): the layer's own, small
	a.put(h)
	return f
}
