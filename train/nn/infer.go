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
//
// Where the backend has row views (backend.RowViewer), a batch runs through
// the backbone a chunk of images at a time (inferChunk), each chunk writing
// its rows of the feature: the activations are then those of a chunk, not
// of the batch. A batch of 200 ResNet-50 images at 224×224 would hold about
// 3 GB of activations, first-touched again on every batch-size change; in
// chunks of 16 it holds about 200 MB, allocated once, and each layer's
// output is read back soon after it was written. Every image's arithmetic
// is independent of the others', so the results do not change.

// inferChunkBudget is the activation memory (float32 elements) a chunk of
// the inference forward aims for: about 4 × the largest activation of each
// of its images (inferImageFloats).
const inferChunkBudget = 1 << 26

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
// layer (of a chunk of images, see inferChunk) and reused from call to call (see InferPeak).
func (m *Model) Infer(x *backend.Tensor) (out Output, err error) {
	defer guard("infer", &err)
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || !s[1:].Equal(m.InputShape(1)[1:]) {
		return Output{}, fmt.Errorf("nn: infer: input %v, want [N %d %d %d] for %s", s, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize, m.cfg.Arch)
	}
	m.ready, m.evalGrad, m.tapped = false, false, false
	n := s[0]
	rv, _ := m.be.(backend.RowViewer)
	chunk := n
	if rv != nil {
		chunk = min(n, m.inferChunk())
	}
	if m.acts == nil {
		m.acts = newActPool(m.be, rv)
	}
	m.acts.setImages(chunk)
	m.x, m.train = nil, false // no activations of this forward are kept
	f := ensure(m.be, &m.inferFeat, n, m.bb.featureSize())
	if chunk == n {
		m.bb.infer(x, m.acts, f)
	} else {
		for lo := 0; lo < n; lo += chunk {
			hi := min(n, lo+chunk)
			m.bb.infer(rv.RowView(x, lo, hi), m.acts, rv.RowView(f, lo, hi))
		}
	}
	out, err = m.head(f)
	if err != nil {
		if m.be.NonFinite(x) {
			return Output{}, fmt.Errorf("nn: infer: input %v contains NaN or Inf", s)
		}
		return Output{}, fmt.Errorf("nn: infer: %v batch: %w", s, err)
	}
	return out, nil
}

// inferChunk is the number of images Infer runs through the backbone at
// once (on a backend with row views): inferChunkBudget over the
// activation elements one image holds at once, rounded down to a multiple
// of the backend's thread count (its convolutions split the images of a
// chunk over the threads), and at least that.
func (m *Model) inferChunk() int {
	threads := 1
	if t, ok := m.be.(interface{ Threads() int }); ok {
		threads = max(1, t.Threads())
	}
	budget := inferChunkBudget
	if m.inferBudget > 0 {
		budget = m.inferBudget
	}
	c := budget / max(1, m.inferImageFloats())
	return max(threads, c/threads*threads)
}

// inferImageFloats estimates the activation elements the inference forward
// holds at once per image: four of its largest activation (a ResNet
// block's input, two main-path maps and its shortcut; LeNet's first conv
// output).
func (m *Model) inferImageFloats() int {
	if _, ok := m.bb.(*resnet); !ok {
		return 4 * 6 * 28 * 28
	}
	largest := 0
	for s := 0; s <= m.Stages(); s++ {
		sh, err := m.StageShape(s)
		if err != nil {
			panic(err) // every stage of a ResNet has a shape
		}
		largest = max(largest, sh.Numel())
	}
	return 4 * largest
}

// InferPeak is the most float32 elements of activations the inference
// forward has held at once, and the elements of the buffers it holds now
// (all returned to its pool between calls); 0, 0 before the first Infer.
func (m *Model) InferPeak() (peak, held int) {
	if m.acts == nil {
		return 0, 0
	}
	return m.acts.peak, m.acts.held
}

// actPool lends activation buffers to the inference forward, keyed by
// elements per image (a buffer serves any shape of its size, as a reshaped
// handle over the same storage). Each buffer is allocated for images
// images; with row views (rv) a smaller batch gets a view of its first
// rows, without them every buffer has exactly images images. held counts
// the elements of every buffer it has allocated, inUse and peak the
// elements of the activations lent out now and at most.
type actPool struct {
	be                backend.Backend
	rv                backend.RowViewer // nil: buffers of the exact batch only
	images            int
	free              map[int][]*backend.Tensor
	base              map[*backend.Tensor]*backend.Tensor // a lent view → its buffer
	held, inUse, peak int
}

func newActPool(be backend.Backend, rv backend.RowViewer) *actPool {
	return &actPool{be: be, rv: rv, free: map[int][]*backend.Tensor{}, base: map[*backend.Tensor]*backend.Tensor{}}
}

// setImages sets the batch size of the next forward: buffers are
// allocated for it from now on. Without row views, buffers of another
// batch size would only linger and are freed; with them, buffers for more
// images serve it (the pool keeps its largest size).
func (p *actPool) setImages(n int) {
	switch {
	case p.rv == nil && n != p.images:
		p.reset()
		p.images = n
	case n > p.images:
		p.images = n
	}
}

// get returns a buffer of the given shape (N, …) (contents undefined).
func (p *actPool) get(shape ...int) *backend.Tensor {
	s := backend.Shape(shape)
	n := s.Numel()
	per := n / shape[0]
	p.inUse += n
	p.peak = max(p.peak, p.inUse)
	var t *backend.Tensor
	if l := p.free[per]; len(l) > 0 {
		t = l[len(l)-1]
		p.free[per] = l[:len(l)-1]
		if c := t.Shape()[0]; c < shape[0] || p.rv == nil && c != shape[0] {
			p.held -= t.Numel()
			p.be.Free(t)
			t = nil
		}
	}
	if t == nil {
		rows := shape[0]
		if p.rv != nil {
			rows = max(rows, p.images)
		}
		t = p.be.Alloc(append([]int{rows}, shape[1:]...)...)
		p.held += t.Numel()
	}
	v := t
	if t.Shape()[0] != shape[0] {
		v = p.rv.RowView(t, 0, shape[0])
	}
	if !v.Shape().Equal(s) {
		var err error
		if v, err = v.Reshape(shape...); err != nil {
			panic(err) // same element count: cannot happen
		}
	}
	if v != t {
		p.base[v] = t
	}
	return v
}

// put returns v (a buffer from get) to the pool.
func (p *actPool) put(v *backend.Tensor) {
	p.inUse -= v.Numel()
	t := v
	if b, ok := p.base[v]; ok {
		t = b
		delete(p.base, v)
	}
	per := t.Numel() / t.Shape()[0]
	p.free[per] = append(p.free[per], t)
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

func (r *resnet) infer(x *backend.Tensor, a *actPool, f *backend.Tensor) {
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
	r.be.GlobalAvgPoolForward(h, f)
	a.put(h)
}

func (l *lenet) infer(x *backend.Tensor, a *actPool, f *backend.Tensor) {
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
	l.be.LinearForward(flat, l.fc1.w.Value, l.fc1.b.Value, f, l.fc1.relu)
	a.put(h)
}
