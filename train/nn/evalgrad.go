package nn

import (
	"errors"
	"fmt"

	"github.com/t2f/t2f/train/backend"
)

// Eval-mode input gradients without a training forward (GradForward,
// GradInput, GradStageInput) and partial inference (InferStages, InferFrom):
// what the network-dependent post-hoc methods of `t2f features --extra`
// run. They compute what Forward(x, false) followed by InputGradient or
// StageInputGradient computes, bit for bit, with less work and memory:
//
//   - The forward is Infer's: conv+BatchNorm(+residual)(+ReLU) fused where
//     the backend has it. It keeps only the fused outputs, which in a ResNet
//     are the inputs of its convolutions: the ReLU masks the backward needs
//     (an eval BatchNorm's backward is its scale, a convolution's input
//     gradient reads its weights only). Forward(x, false) keeps the
//     convolutions' and BatchNorms' own outputs as well, about three times
//     as much.
//   - The backward computes input gradients only: no convolution's weight
//     gradient, which is half a convolution backward's arithmetic.
//   - GradForward may stop at a stage: mds_ensemble's gradient starts at
//     the stem's output and needs nothing after it.
//   - The forward is kept until the next GradForward: several gradients of
//     one forward (ODIN's temperatures) share it, and Infer, Forward and
//     the other forwards may run in between.
//
// LeNet has no fused path: its GradForward keeps a copy of the input and
// GradInput runs Forward(x, false) and InputGradient on it (LeNet is small).

// gradTape is what GradForward keeps.
type gradTape struct {
	acts   *actPool        // the kept activations (its own pool: Infer's is unaffected)
	grads  *gradPool       // the gradients of its backward passes
	in     *backend.Tensor // GradForwardHost's input (the tape's own)
	x      *backend.Tensor // the input of the forward
	stem   *backend.Tensor // relu(bn1(conv1(x)))
	pooled *backend.Tensor // the max-pool of stem (torchvision ResNets)
	blocks [][]*backend.Tensor
	last   int             // index of the last block run, -1: the stem only
	whole  bool            // the whole network and the head ran
	f      *backend.Tensor // the feature (N, F) of a whole forward
	df     *backend.Tensor // its gradient
	dx     *backend.Tensor // the last gradient returned (a gradPool buffer)
	valid  bool
}

// release returns every kept activation to the tape's pool.
func (t *gradTape) release() {
	if t.stem != nil {
		t.acts.put(t.stem)
	}
	if t.pooled != nil {
		t.acts.put(t.pooled)
	}
	for _, b := range t.blocks {
		for _, y := range b {
			t.acts.put(y)
		}
	}
	t.stem, t.pooled, t.blocks, t.valid = nil, nil, t.blocks[:0], false
}

// GradForwardHost uploads a host batch (NCHW) into a tensor of its own and
// runs GradForward on it.
func (m *Model) GradForwardHost(x []float32, stage int) (Output, error) {
	per := m.InputShape(1).Numel()
	if len(x) == 0 || len(x)%per != 0 {
		return Output{}, fmt.Errorf("nn: grad forward: %d input values is not a whole number of %v images", len(x), m.InputShape(1)[1:])
	}
	t := m.tape()
	in := ensure(m.be, &t.in, m.InputShape(len(x)/per)...)
	m.be.Upload(in, x)
	return m.GradForward(in, stage)
}

func (m *Model) tape() *gradTape {
	if m.gt == nil {
		m.gt = &gradTape{acts: newActPool(m.be, nil), grads: newGradPool(m.be)}
	}
	return m.gt
}

// GradForward runs x (N, C, S, S) in eval mode, keeping what GradInput and
// GradStageInput need (see above), up to and including stage (0: the stem,
// relu(bn1(conv1(x))) before any max-pool; 1..Stages(): that stage's last
// block), or through the whole network and its head when stage is
// Stages()+1 or more, or negative; its Output (valid until the next
// forward of any kind) is then what Forward(x, false) returns, otherwise
// empty. LeNet (no stages) always runs whole. x must stay unchanged until
// the gradients are taken.
func (m *Model) GradForward(x *backend.Tensor, stage int) (out Output, err error) {
	defer guard("grad forward", &err)
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || !s[1:].Equal(m.InputShape(1)[1:]) {
		return Output{}, fmt.Errorf("nn: grad forward: input %v, want [N %d %d %d] for %s", s, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize, m.cfg.Arch)
	}
	t := m.tape()
	t.release()
	if t.x != nil && t.x.Shape()[0] != s[0] {
		t.grads.reset() // buffers of the old batch size would only linger
		t.dx = nil
	}
	t.acts.setImages(s[0]) // frees the buffers of another batch size
	t.x = x
	r, ok := m.bb.(*resnet)
	if !ok {
		// LeNet: an ordinary eval forward, repeated by GradInput when
		// another forward ran in between.
		if out, err = m.Forward(x, false); err != nil {
			return Output{}, err
		}
		t.whole, t.valid = true, true
		return out, nil
	}
	if stage < 0 || stage > len(r.ends) {
		stage = len(r.ends) + 1
	}
	a := t.acts
	t.stem = convBN(r.stem, r.bn1, x, nil, false, a)
	h := t.stem
	t.last, t.whole = -1, stage > len(r.ends)
	if stage > 0 {
		if r.pool != nil {
			t.pooled = r.pool.infer(h, a)
			h = t.pooled
		}
		last := len(r.blocks) - 1
		if !t.whole {
			last = r.ends[stage-1]
		}
		for i, b := range r.blocks[:last+1] {
			kept := b.gradForward(h, a)
			t.blocks = append(t.blocks, kept)
			h = kept[len(kept)-1]
			t.last = i
		}
	}
	t.valid = true
	if !t.whole {
		return Output{}, nil
	}
	t.f = ensure(m.be, &t.f, s[0], r.feat)
	m.be.GlobalAvgPoolForward(h, t.f)
	m.ready, m.evalGrad, m.tapped = false, false, false
	out, err = m.head(t.f)
	if err != nil {
		t.valid = false
		if m.be.NonFinite(x) {
			return Output{}, fmt.Errorf("nn: grad forward: input %v contains NaN or Inf", s)
		}
		return Output{}, fmt.Errorf("nn: grad forward: %v batch: %w", s, err)
	}
	return out, nil
}

// gradForward is infer keeping the fused outputs: the ReLU'd BatchNorm
// outputs of the main path, then the block's output (last).
func (r *residual) gradForward(x *backend.Tensor, a *actPool) []*backend.Tensor {
	s := x
	if r.scCv != nil {
		s = convBN(r.scCv, r.scBN, x, nil, false, a)
	}
	kept := make([]*backend.Tensor, 0, len(r.convs))
	h := x
	last := len(r.convs) - 1
	for i, c := range r.convs[:last] {
		h = convBN(c, r.bns[i], h, nil, false, a)
		kept = append(kept, h)
	}
	kept = append(kept, convBN(r.convs[last], r.bns[last], h, s, true, a))
	if s != x {
		a.put(s)
	}
	return kept
}

// GradStage is the output of the stage the last GradForward stopped at
// (N, C, H, W); it belongs to the model and is valid until the next
// GradForward.
func (m *Model) GradStage() (*backend.Tensor, error) {
	t := m.gt
	if t == nil || !t.valid {
		return nil, errors.New("nn: grad stage: no grad forward")
	}
	if _, ok := m.bb.(*resnet); !ok || t.whole {
		return nil, errors.New("nn: grad stage: the last grad forward ran the whole network")
	}
	if t.last < 0 {
		return t.stem, nil
	}
	b := t.blocks[t.last]
	return b[len(b)-1], nil
}

// GradInput back-propagates dood (N, classes), the gradient of a scalar with
// respect to the OOD logits of the last GradForward (which must have run
// the whole network), to the input, as InputGradient does after
// Forward(x, false), and returns ∂scalar/∂x (N, C, S, S), valid until the
// next GradInput, GradStageInput or GradForward. It may be called several
// times for one GradForward.
func (m *Model) GradInput(dood *backend.Tensor) (dx *backend.Tensor, err error) {
	defer guard("grad input", &err)
	t := m.gt
	if t == nil || !t.valid || !t.whole {
		return nil, errors.New("nn: grad input: no grad forward of the whole network")
	}
	r, ok := m.bb.(*resnet)
	if !ok {
		if !m.evalGrad || m.x != t.x {
			if _, err := m.Forward(t.x, false); err != nil {
				return nil, err
			}
		}
		return m.InputGradient(dood)
	}
	if want := (backend.Shape{t.x.Shape()[0], m.cfg.Classes}); !dood.Shape().Equal(want) {
		return nil, fmt.Errorf("nn: grad input: dlogits %v, want %v", dood.Shape(), want)
	}
	if m.be.NonFinite(dood) {
		return nil, errors.New("nn: grad input: dlogits contains NaN or Inf")
	}
	// The head's input gradient: dood·W, divided by τ where the OOD
	// logits read f/τ (the weight gradient, scratch, is not used).
	df := ensure(m.be, &t.df, t.f.Shape()...)
	if m.cfg.Head == HeadLinear || m.cfg.Classes == 1000 {
		m.be.LinearBackward(t.f, m.fcW.Value, dood, df, m.fcW.Grad, m.fcB.Grad)
	} else {
		dh := t.grads.get(t.f.Shape())
		m.be.LinearBackward(t.f, m.fcW.Value, dood, dh, m.fcW.Grad, m.fcB.Grad)
		m.be.DivScalar(dh, df, m.tau)
		t.grads.put(dh)
	}
	last := t.blocks[len(t.blocks)-1]
	d := t.grads.get(last[len(last)-1].Shape())
	m.be.GlobalAvgPoolBackward(df, d)
	return m.gradFrom(r, t, d), nil
}

// GradStageInput back-propagates dh, the gradient of a scalar with respect
// to GradStage's output, to the input, as StageInputGradient does after
// Forward(x, false), and returns ∂scalar/∂x, valid until the next
// GradInput, GradStageInput or GradForward. dh is not modified.
func (m *Model) GradStageInput(dh *backend.Tensor) (dx *backend.Tensor, err error) {
	defer guard("grad stage input", &err)
	y, err := m.GradStage()
	if err != nil {
		return nil, err
	}
	if !dh.Shape().Equal(y.Shape()) {
		return nil, fmt.Errorf("nn: grad stage input: gradient %v, want %v", dh.Shape(), y.Shape())
	}
	if m.be.NonFinite(dh) {
		return nil, errors.New("nn: grad stage input: the gradient contains NaN or Inf")
	}
	r := m.bb.(*resnet)
	d := m.gt.grads.get(dh.Shape())
	m.be.Copy(d, dh)
	return m.gradFrom(r, m.gt, d), nil
}

// gradFrom back-propagates d (a gradPool buffer, consumed), the gradient of
// the tape's last output, to the input.
func (m *Model) gradFrom(r *resnet, t *gradTape, d *backend.Tensor) *backend.Tensor {
	if t.dx != nil { // the previous gradient is no longer valid
		t.grads.put(t.dx)
		t.dx = nil
	}
	for i := t.last; i >= 0; i-- {
		in := t.stem
		switch {
		case i > 0:
			in = t.blocks[i-1][len(t.blocks[i-1])-1]
		case t.pooled != nil:
			in = t.pooled
		}
		d = r.blocks[i].gradBackward(in, t.blocks[i], d, t.grads)
	}
	if t.pooled != nil && t.last >= 0 {
		u := t.grads.get(t.stem.Shape())
		m.be.MaxPool2dBackward(t.stem, t.pooled, d, u, r.pool.p, false)
		t.grads.put(d)
		d = u
	}
	u := bnGradEval(r.bn1, d, t.stem, t.grads)
	t.grads.put(d)
	dx := t.grads.get(t.x.Shape())
	m.be.Conv2dBackward(t.x, r.stem.w.Value, u, dx, nil, nil, r.stem.p)
	t.grads.put(u)
	t.dx = dx
	return dx
}

// gradBackward is residual.backward after gradForward (in its input, kept
// its fused outputs), input gradients only: it consumes dy and returns dx.
func (r *residual) gradBackward(in *backend.Tensor, kept []*backend.Tensor, dy *backend.Tensor, pool *gradPool) *backend.Tensor {
	last := len(r.convs) - 1
	dz := pool.get(dy.Shape())
	r.be.ReLUBackward(kept[last], dy, dz)
	pool.put(dy)
	d := dz
	for i := last; i >= 0; i-- {
		var mask *backend.Tensor
		if i < last {
			mask = kept[i]
		}
		t := bnGradEval(r.bns[i], d, mask, pool)
		if d != dz {
			pool.put(d)
		}
		x := in
		if i > 0 {
			x = kept[i-1]
		}
		d = pool.get(x.Shape())
		r.be.Conv2dBackward(x, r.convs[i].w.Value, t, d, nil, nil, r.convs[i].p)
		pool.put(t)
	}
	if r.scCv != nil {
		t := bnGradEval(r.scBN, dz, nil, pool)
		ds := pool.get(in.Shape())
		r.be.Conv2dBackward(in, r.scCv.w.Value, t, ds, nil, nil, r.scCv.p)
		pool.put(t)
		r.be.Add(d, ds, d)
		pool.put(ds)
	} else {
		r.be.Add(d, dz, d)
	}
	pool.put(dz)
	return d
}

// bnGradEval is batchNorm.evalBackward with the fused ReLU's output mask
// given (nil: no ReLU): γ·dy/√(σ²_run+eps), dy masked by mask > 0 first.
func bnGradEval(l *batchNorm, dy, mask *backend.Tensor, pool *gradPool) *backend.Tensor {
	if l.zeros == nil {
		l.zeros = l.be.Alloc(l.gamma.Value.Shape()[0])
	}
	src := dy
	if mask != nil {
		src = pool.get(dy.Shape())
		l.be.ReLUBackward(mask, dy, src)
	}
	dx := pool.get(dy.Shape())
	l.be.BatchNormEval(src, l.gamma.Value, l.zeros, dx, l.zeros, l.runVar, bnEps, false)
	if src != dy {
		pool.put(src)
	}
	return dx
}

// InferStagesHost uploads a host batch (NCHW) into a reused input tensor
// and runs InferStages on it.
func (m *Model) InferStagesHost(x []float32, stages []int, visit func(s int, y *backend.Tensor) error) error {
	per := m.InputShape(1).Numel()
	if len(x) == 0 || len(x)%per != 0 {
		return fmt.Errorf("nn: infer stages: %d input values is not a whole number of %v images", len(x), m.InputShape(1)[1:])
	}
	in := ensure(m.be, &m.hostIn, m.InputShape(len(x)/per)...)
	m.be.Upload(in, x)
	return m.InferStages(in, stages, visit)
}

// InferStages runs x (N, C, S, S) in eval mode through the stem and the
// stages up to the largest of stages, as Infer does (fused, nothing kept),
// and calls visit(s, y) with the output of every stage s of stages, in
// stage order (0: the stem, before any max-pool). y is valid during the call
// only; a visit error stops the forward and is returned. No head runs.
func (m *Model) InferStages(x *backend.Tensor, stages []int, visit func(s int, y *backend.Tensor) error) (err error) {
	defer guard("infer stages", &err)
	r, ok := m.bb.(*resnet)
	if !ok {
		return fmt.Errorf("nn: infer stages: %s has no stages", m.cfg.Arch)
	}
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || !s[1:].Equal(m.InputShape(1)[1:]) {
		return fmt.Errorf("nn: infer stages: input %v, want [N %d %d %d] for %s", s, m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ImageSize, m.cfg.Arch)
	}
	want := make([]bool, len(r.ends)+1)
	top := -1
	for _, st := range stages {
		if st < 0 || st > len(r.ends) {
			return fmt.Errorf("nn: infer stages: %s has %d stages, asked for stage %d", m.cfg.Arch, len(r.ends), st)
		}
		want[st], top = true, max(top, st)
	}
	if top < 0 {
		return nil
	}
	a := m.inferPool(s[0])
	h := convBN(r.stem, r.bn1, x, nil, false, a)
	defer func() { a.put(h) }()
	if want[0] {
		if err := visit(0, h); err != nil {
			return err
		}
	}
	if top == 0 {
		return nil
	}
	if r.pool != nil {
		t := r.pool.infer(h, a)
		a.put(h)
		h = t
	}
	for i, b := range r.blocks[:r.ends[top-1]+1] {
		t := b.infer(h, a)
		a.put(h)
		h = t
		for st, e := range r.ends {
			if e == i && want[st+1] {
				if err := visit(st+1, h); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// InferFrom runs the network in eval mode from h, an output of stage s
// (N, C_s, H_s, W_s), through the later stages, pooling and the head, as
// ForwardFrom does, keeping nothing (Infer's path). With s = Stages() only
// pooling and the head run.
func (m *Model) InferFrom(s int, h *backend.Tensor) (out Output, err error) {
	defer guard("infer from stage", &err)
	r, ok := m.bb.(*resnet)
	if !ok || s < 1 || s > len(r.ends) {
		return Output{}, fmt.Errorf("nn: infer from stage: %s has %d stages, asked for stage %d", m.cfg.Arch, m.Stages(), s)
	}
	want, err := m.StageShape(s)
	if err != nil {
		return Output{}, err
	}
	if sh := h.Shape(); len(sh) != 4 || sh[0] < 1 || !sh[1:].Equal(want) {
		return Output{}, fmt.Errorf("nn: infer from stage %d: input %v, want [N %d %d %d]", s, sh, want[0], want[1], want[2])
	}
	a := m.inferPool(h.Shape()[0])
	m.ready, m.evalGrad, m.tapped = false, false, false
	x := h
	for _, b := range r.blocks[r.ends[s-1]+1:] {
		t := b.infer(h, a)
		if h != x {
			a.put(h)
		}
		h = t
	}
	f := ensure(m.be, &m.inferFeat, h.Shape()[0], r.feat)
	m.be.GlobalAvgPoolForward(h, f)
	if h != x {
		a.put(h)
	}
	out, err = m.head(f)
	if err != nil {
		return Output{}, fmt.Errorf("nn: infer from stage %d: %w", s, err)
	}
	return out, nil
}

// inferPool is Infer's activation pool, set for a batch of n images
// (InferStages and InferFrom run the batch whole).
func (m *Model) inferPool(n int) *actPool {
	if m.acts == nil {
		rv, _ := m.be.(backend.RowViewer)
		m.acts = newActPool(m.be, rv)
	}
	m.acts.setImages(n)
	return m.acts
}

// gradBudget is the memory (float32 elements) GradBatch aims a gradient
// pass at: 1 GiB.
const gradBudget = 1 << 28

// GradBatch is the most images a GradForward and its gradients should run
// at once for their activations to stay within about 1 GiB: the kept fused
// outputs of an image and a few gradient buffers of its largest activation.
// 0 (no limit) for LeNet, whose eval Forward is small.
func (m *Model) GradBatch() int {
	r, ok := m.bb.(*resnet)
	if !ok {
		return 0
	}
	s := r.stem.outShape(m.InputShape(1))
	kept, largest := s.Numel(), s.Numel()
	if r.pool != nil {
		oh, ow := r.pool.p.OutSize(s[2], s[3])
		s = backend.Shape{1, s[1], oh, ow}
		kept += s.Numel()
	}
	for _, b := range r.blocks {
		h := s
		for _, c := range b.convs {
			h = c.outShape(h)
			kept += h.Numel()
			largest = max(largest, h.Numel())
		}
		s = h
	}
	return max(1, gradBudget/(kept+6*largest))
}

// GradPeak is the most float32 elements of activations GradForward has
// kept at once, and the elements its pool holds now; 0, 0 before the first
// GradForward of a ResNet.
func (m *Model) GradPeak() (peak, held int) {
	if m.gt == nil {
		return 0, 0
	}
	return m.gt.acts.peak, m.gt.acts.held
}
