package nn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/t2f/t2f/train/backend"
)

// Tap is one activation that OpenOOD's GRAM post-processor reads: the output
// of an nn.Conv2d or nn.ReLU module of OpenOOD's network class, in the order
// the modules run (its FeatureExtractor registers a forward hook on every
// Conv2d and ReLU module; a module called twice fires twice, a functional
// F.relu never fires).
//
// Per architecture (OpenOOD's classes):
//
//	lenet             block1.0 conv, block1.1 ReLU, block2.0, block2.1, block3.0, block3.1,
//	                  relu (the 84-d feature, shape (84, 1, 1)): 7 taps
//	resnet18_32x32    conv1, then per BasicBlock conv1, conv2 and the shortcut's conv when
//	                  there is one; its ReLUs are F.relu, not modules: 20 taps
//	small_resnet      as resnet18_32x32 (its blocks are the same BasicBlock): 9 taps
//	resnet18_224x224  conv1, relu (the stem, before the max-pool), then per BasicBlock conv1,
//	                  relu, conv2, downsample.0 when there is one, relu (after the residual
//	                  sum): 37 taps
//	resnet50          conv1, relu, then per Bottleneck conv1, relu, conv2, relu, conv3,
//	                  downsample.0 when there is one, relu: 102 taps
type Tap struct {
	// Name is the module's name in the state_dict ("layer1.0.conv1",
	// "layer2.0.shortcut.0", "block1.1"); a ReLU module called several times
	// in a block is listed once per call under the same name.
	Name string
	// Kind is "conv" or "relu".
	Kind string
	// Shape is the output of one image: (C, H, W); (84, 1, 1) for LeNet's
	// feature, which OpenOOD's Gram matrix sees as 84 channels of one value.
	Shape backend.Shape
}

// Tap kinds.
const (
	TapConv = "conv"
	TapReLU = "relu"
)

// tapRef is a tap and the tensor holding it after a forward.
type tapRef struct {
	tap Tap
	t   func() *backend.Tensor
}

func convTap(c *conv2d, in backend.Shape) tapRef {
	s := c.outShape(in)
	return tapRef{Tap{strings.TrimSuffix(c.w.Name, ".weight"), TapConv, s[1:]}, func() *backend.Tensor { return c.y }}
}

// plan lists the taps of m's architecture with the tensors that hold them
// after ForwardTaps's forward.
func (m *Model) plan() []tapRef {
	prefix := ""
	if m.cfg.Head == HeadT2FNorm {
		prefix = BackbonePrefix
	}
	in := m.InputShape(1)
	var out []tapRef
	relu := func(name string, s backend.Shape, t func() *backend.Tensor) {
		out = append(out, tapRef{Tap{prefix + name, TapReLU, s}, t})
	}
	switch bb := m.bb.(type) {
	case *lenet:
		s := in
		for i, c := range []*conv2d{bb.c1, bb.c2, bb.c3} {
			r := convTap(c, s)
			out = append(out, r)
			relu(fmt.Sprintf("block%d.1", i+1), r.tap.Shape, func() *backend.Tensor { return bb.relus[i] })
			s = append(backend.Shape{1}, r.tap.Shape...)
			if i < 2 {
				oh, ow := bb.p1.p.OutSize(s[2], s[3])
				s = backend.Shape{1, s[1], oh, ow}
			}
		}
		relu("relu", backend.Shape{84, 1, 1}, func() *backend.Tensor { return bb.fc1.y })
	case *resnet:
		r := convTap(bb.stem, in)
		out = append(out, r)
		s := append(backend.Shape{1}, r.tap.Shape...)
		if bb.tv {
			relu("relu", r.tap.Shape, func() *backend.Tensor { return bb.bn1.y })
			oh, ow := bb.pool.p.OutSize(s[2], s[3])
			s = backend.Shape{1, s[1], oh, ow}
		}
		for bi, b := range bb.blocks {
			blockName := strings.TrimSuffix(b.convs[0].w.Name, ".conv1.weight")
			h := s
			for i, c := range b.convs {
				r := convTap(c, h)
				out = append(out, r)
				h = append(backend.Shape{1}, r.tap.Shape...)
				if bb.tv && i < len(b.convs)-1 { // torchvision: self.relu after bn1 (and bn2 of a Bottleneck)
					bn := b.bns[i]
					relu(strings.TrimPrefix(blockName, prefix)+".relu", r.tap.Shape, func() *backend.Tensor { return bn.y })
				}
			}
			if b.scCv != nil {
				out = append(out, convTap(b.scCv, s))
			}
			if bb.tv {
				blk := bb.blocks[bi]
				relu(strings.TrimPrefix(blockName, prefix)+".relu", h[1:], func() *backend.Tensor { return blk.y })
			}
			s = h
		}
	}
	return out
}

// Taps lists the activations ForwardTaps visits, in OpenOOD's hook order
// (see Tap).
func (m *Model) Taps() []Tap {
	p := m.plan()
	out := make([]Tap, len(p))
	for i, r := range p {
		out[i] = r.tap
	}
	return out
}

// ForwardTaps runs x (N, C, S, S) in eval mode, as Forward(x, false) does,
// keeping the output of every tap for VisitTaps. The outputs are those of
// the unfused modules: LeNet's convolutions, whose ReLU the ordinary
// forward fuses, run without it and the ReLU follows as its own operation.
func (m *Model) ForwardTaps(x *backend.Tensor) (out Output, err error) {
	if l, ok := m.bb.(*lenet); ok {
		l.taps = true
		defer func() { l.taps = false }()
	}
	if out, err = m.Forward(x, false); err != nil {
		return Output{}, err
	}
	m.tapped = true
	return out, nil
}

// VisitTaps calls visit(i, t) for every tap i of Taps in order with its
// output t of the last ForwardTaps (N, C_i, H_i, W_i; LeNet's feature
// (N, 84)). t belongs to the model and is valid during the call only. A
// visit error stops the walk and is returned; so does a Forward or
// ForwardFrom run since the last ForwardTaps.
func (m *Model) VisitTaps(visit func(i int, t *backend.Tensor) error) error {
	if !m.tapped {
		return errors.New("nn: visit taps: the last forward was not ForwardTaps")
	}
	n := m.x.Shape()[0]
	for i, r := range m.plan() {
		t := r.t()
		if t == nil || t.Numel() != n*r.tap.Shape.Numel() {
			return fmt.Errorf("nn: visit taps: tap %d (%s) holds no output of %d images of %v", i, r.tap.Name, n, r.tap.Shape)
		}
		if err := visit(i, t); err != nil {
			return err
		}
	}
	return nil
}
