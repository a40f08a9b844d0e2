package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/t2f/t2f/train/backend"
)

// SGDConfig is torch.optim.SGD's configuration (dampening 0). OpenOOD:
// momentum 0.9, weight decay 5e-4 on every parameter, Nesterov.
type SGDConfig struct {
	Momentum    float32
	WeightDecay float32
	Nesterov    bool
}

// SGD is torch.optim.SGD over a model's parameters. The learning rate is
// given per step, so any schedule (OpenOOD: per-step cosine) lives in the
// caller.
type SGD struct {
	be     backend.Backend
	cfg    SGDConfig
	params []*Param
	bufs   []*backend.Tensor // momentum buffers, parallel to params
	steps  int64
}

// NewSGD returns an optimiser for m's parameters.
func NewSGD(m *Model, cfg SGDConfig) (*SGD, error) {
	switch {
	case !(cfg.Momentum >= 0) || cfg.Momentum >= 1:
		return nil, fmt.Errorf("nn: sgd: momentum %v, want 0 ≤ momentum < 1", cfg.Momentum)
	case !(cfg.WeightDecay >= 0) || math.IsInf(float64(cfg.WeightDecay), 0):
		return nil, fmt.Errorf("nn: sgd: weight decay %v, want a finite number ≥ 0", cfg.WeightDecay)
	case cfg.Nesterov && cfg.Momentum == 0:
		return nil, errors.New("nn: sgd: Nesterov momentum requires a momentum > 0")
	}
	o := &SGD{be: m.be, cfg: cfg, params: m.params}
	if cfg.Momentum != 0 {
		o.bufs = make([]*backend.Tensor, len(m.params))
		for i, p := range m.params {
			o.bufs[i] = m.be.Alloc(p.Value.Shape()...)
		}
	}
	return o, nil
}

// Steps is the number of steps taken (restored by LoadState).
func (o *SGD) Steps() int64 { return o.steps }

// Config returns the optimiser's configuration.
func (o *SGD) Config() SGDConfig { return o.cfg }

// Step updates every parameter from its Grad with learning rate lr, exactly
// as torch.optim.SGD.step: d = g + wd·p; buf = d (first step) or
// momentum·buf + d; d = d + momentum·buf (Nesterov) or buf; p = p − lr·d.
func (o *SGD) Step(lr float32) (err error) {
	defer guard("sgd step", &err)
	if !(lr >= 0) || math.IsInf(float64(lr), 0) {
		return fmt.Errorf("nn: sgd: learning rate %v, want a finite number ≥ 0", lr)
	}
	p := backend.SGDParams{LR: lr, Momentum: o.cfg.Momentum, WeightDecay: o.cfg.WeightDecay, Nesterov: o.cfg.Nesterov}
	for i, prm := range o.params {
		var buf *backend.Tensor
		if o.bufs != nil {
			buf = o.bufs[i]
		}
		o.be.SGDStep(prm.Value, prm.Grad, buf, p, o.steps == 0)
	}
	o.steps++
	return nil
}
