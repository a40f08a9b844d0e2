package nn

import (
	"errors"
	"fmt"

	"github.com/t2f/t2f/train/backend"
)

// InputGradient back-propagates dood (N, classes), the gradient of a scalar
// with respect to the OOD-inference logits of the last eval Forward
// (Output.OODLogits: W·f/τ + b for T2FNorm, W·f + b for the linear head),
// down to the input image, and returns ∂scalar/∂x (N, C, S, S). It is what
// ODIN's input preprocessing and AdaScale's perturbation differentiate:
// OpenOOD's `data.requires_grad = True; net(data)` in eval mode, so
// BatchNorm is the affine map of its running statistics. The returned
// tensor belongs to the model and is valid until the next Forward. The
// parameters' Grad tensors are overwritten as scratch.
func (m *Model) InputGradient(dood *backend.Tensor) (dx *backend.Tensor, err error) {
	defer guard("input gradient", &err)
	if !m.evalGrad {
		return nil, errors.New("nn: input gradient: no eval forward pass to differentiate (call Forward with train=false first)")
	}
	want := m.logits.Shape()
	if !dood.Shape().Equal(want) {
		return nil, fmt.Errorf("nn: input gradient: dlogits %v, want %v", dood.Shape(), want)
	}
	if m.be.NonFinite(dood) {
		return nil, errors.New("nn: input gradient: dlogits contains NaN or Inf")
	}
	f := m.feat
	df := ensure(m.be, &m.df, f.Shape()...)
	switch {
	case m.cfg.Head == HeadLinear:
		m.be.LinearBackward(f, m.fcW.Value, dood, df, m.fcW.Grad, m.fcB.Grad)
	case m.cfg.Classes == 1000: // OOD logits = W·f + b (see Forward)
		m.be.LinearBackward(f, m.fcW.Value, dood, df, m.fcW.Grad, m.fcB.Grad)
	default: // OOD logits = W·(f/τ) + b
		dh := ensure(m.be, &m.dg, f.Shape()...)
		m.be.LinearBackward(m.h, m.fcW.Value, dood, dh, m.fcW.Grad, m.fcB.Grad)
		m.be.DivScalar(dh, df, m.tau)
	}
	d := m.bb.backward(df, true)
	if d == nil {
		return nil, errors.New("nn: input gradient: the backbone made no input gradient")
	}
	if m.dx != nil && m.dx != d {
		m.grads.put(m.dx)
	}
	m.dx = d
	return d, nil
}

// Stages is the number of stages whose outputs StageOutput returns: 4 for
// the ResNet-18/50 (layer1..layer4), 3 for small_resnet, 0 for LeNet.
func (m *Model) Stages() int {
	if r, ok := m.bb.(*resnet); ok {
		return len(r.ends)
	}
	return 0
}

// StageOutput is the output of stage s (1-based: OpenOOD's
// intermediate_forward(x, layer_index=s); 0: the stem, StemOutput),
// (N, C_s, H_s, W_s), of the last Forward. It belongs to the model and is
// overwritten by the next Forward or ForwardFrom.
func (m *Model) StageOutput(s int) (*backend.Tensor, error) {
	if s == 0 {
		return m.StemOutput()
	}
	r, ok := m.bb.(*resnet)
	if !ok || s < 1 || s > len(r.ends) {
		return nil, fmt.Errorf("nn: stage output: %s has %d stages, asked for stage %d", m.cfg.Arch, m.Stages(), s)
	}
	y := r.blocks[r.ends[s-1]].y
	if y == nil || m.x == nil {
		return nil, errors.New("nn: stage output: no forward pass yet")
	}
	return y, nil
}

// ForwardFrom runs the network in eval mode from the output h of stage s
// (the shape StageOutput(s) has) to the head: the stages after s, global
// pooling and the classifier. With s = Stages() only pooling and the
// classifier run. It is RankFeat's "layer4(feat3)" and "fc(avgpool(feat4))".
func (m *Model) ForwardFrom(s int, h *backend.Tensor) (out Output, err error) {
	defer guard("forward from stage", &err)
	r, ok := m.bb.(*resnet)
	if !ok || s < 1 || s > len(r.ends) {
		return Output{}, fmt.Errorf("nn: forward from stage: %s has %d stages, asked for stage %d", m.cfg.Arch, m.Stages(), s)
	}
	if y := r.blocks[r.ends[s-1]].y; y == nil || !y.Shape()[1:].Equal(h.Shape()[1:]) || len(h.Shape()) != 4 {
		return Output{}, fmt.Errorf("nn: forward from stage %d: input %v does not match the stage's output (run Forward first)", s, h.Shape())
	}
	m.ready, m.evalGrad, m.tapped = false, false, false
	for _, b := range r.blocks[r.ends[s-1]+1:] {
		h = b.forward(h, false)
	}
	out, err = m.head(r.gap.forward(h))
	if err != nil {
		return Output{}, fmt.Errorf("nn: forward from stage %d: %w", s, err)
	}
	return out, nil
}

// StageShape is the shape (C, H, W) of stage s's output for one image
// (s = 0: the stem's, before any max-pool).
func (m *Model) StageShape(s int) (backend.Shape, error) {
	r, ok := m.bb.(*resnet)
	if !ok || s < 0 || s > len(r.ends) {
		return nil, fmt.Errorf("nn: stage shape: %s has %d stages, asked for stage %d", m.cfg.Arch, m.Stages(), s)
	}
	down := func(v, k, st, p int) int { return (v+2*p-k)/st + 1 }
	size := m.cfg.ImageSize
	if s == 0 {
		if r.tv {
			size = down(size, 7, 2, 3)
		}
		return backend.Shape{r.bn1.gamma.Value.Shape()[0], size, size}, nil
	}
	if r.tv {
		size = down(down(size, 7, 2, 3), 3, 2, 1)
	}
	last := r.blocks[r.ends[s-1]]
	for _, b := range r.blocks[:r.ends[s-1]+1] {
		for _, c := range b.convs {
			if c.p.StrideH == 2 {
				size = down(size, 3, 2, 1)
			}
		}
	}
	bn := last.bns[len(last.bns)-1]
	return backend.Shape{bn.gamma.Value.Shape()[0], size, size}, nil
}

// StemOutput is the output of the stem, relu(bn1(conv1(x))) before any
// max-pool, (N, C, H, W), of the last Forward: OpenOOD's feature_list[0] of
// ResNet18_32x32, the layer mds_ensemble's default configuration reads. It
// belongs to the model and is overwritten by the next Forward.
func (m *Model) StemOutput() (*backend.Tensor, error) {
	r, ok := m.bb.(*resnet)
	if !ok {
		return nil, fmt.Errorf("nn: stem output: %s has no ResNet stem", m.cfg.Arch)
	}
	if r.bn1.y == nil || m.x == nil {
		return nil, errors.New("nn: stem output: no forward pass yet")
	}
	return r.bn1.y, nil
}

// StageInputGradient back-propagates dh, the gradient of a scalar with
// respect to the output of stage s of the last eval Forward (s = 0: the
// stem, StemOutput; s ≥ 1: StageOutput(s)), down to the input image, and
// returns ∂scalar/∂x (N, C, S, S). It is Mahalanobis input preprocessing
// (OpenOOD's mds_ensemble), whose loss reads an intermediate layer, not the
// logits. The eval-mode conditions of InputGradient apply; dh is not
// modified; the returned tensor belongs to the model and is valid until
// the next Forward.
func (m *Model) StageInputGradient(s int, dh *backend.Tensor) (dx *backend.Tensor, err error) {
	defer guard("stage input gradient", &err)
	if !m.evalGrad {
		return nil, errors.New("nn: stage input gradient: no eval forward pass to differentiate (call Forward with train=false first)")
	}
	r, ok := m.bb.(*resnet)
	if !ok || s < 0 || s > len(r.ends) {
		return nil, fmt.Errorf("nn: stage input gradient: %s has %d stages, asked for stage %d", m.cfg.Arch, m.Stages(), s)
	}
	y, last := r.bn1.y, -1
	if s > 0 {
		last = r.ends[s-1]
		y = r.blocks[last].y
	}
	if !dh.Shape().Equal(y.Shape()) {
		return nil, fmt.Errorf("nn: stage input gradient: d%d %v, want %v", s, dh.Shape(), y.Shape())
	}
	if m.be.NonFinite(dh) {
		return nil, errors.New("nn: stage input gradient: the gradient contains NaN or Inf")
	}
	d := r.grads.get(dh.Shape())
	m.be.Copy(d, dh)
	d = r.backwardFrom(d, last, true)
	if d == nil {
		return nil, errors.New("nn: stage input gradient: the backbone made no input gradient")
	}
	if m.dx != nil && m.dx != d {
		m.grads.put(m.dx)
	}
	m.dx = d
	return d, nil
}
