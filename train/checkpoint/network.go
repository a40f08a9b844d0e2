package checkpoint

import (
	"fmt"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/nn"
)

// Network is the one place where the training engine meets feature
// extraction (features.Network and features.ExtraNetwork): an nn.Model run in eval mode (BatchNorm running statistics) as
// a features.Network. An nn.Model is not safe for concurrent use; with
// --workers > 1 each worker gets its own model (same weights, own backend)
// behind a features.Pool.
type Network struct{ Model *nn.Model }

func (n Network) InputShape() (c, h, w int) {
	s := n.Model.InputShape(1)
	return s[1], s[2], s[3]
}
func (n Network) Dim() int        { return n.Model.FeatureSize() }
func (n Network) NumClasses() int { return n.Model.Config().Classes }

// Forward is the inference forward (nn.Model.InferHost): nothing is kept
// for a gradient, so memory stays a few activations of the largest layer.
func (n Network) Forward(x []float32, k int, feature, logits, logitsOOD []float32) error {
	out, err := n.Model.InferHost(x)
	if err != nil {
		return err
	}
	if s := out.Feature.Shape(); len(s) != 2 || s[0] != k || s[1]*k != len(feature) {
		return fmt.Errorf("engine returned features %v for %d images of dim %d", s, k, n.Dim())
	}
	be := n.Model.Backend()
	be.Download(feature, out.Feature)
	be.Download(logits, out.Logits)
	be.Download(logitsOOD, out.OODLogits)
	return nil
}

// InputGradients implements features.ExtraNetwork with nn.Model.GradForward
// (fused, keeping only the ReLU outputs) and GradInput (input gradients
// only), one forward for the k gradients.
func (n Network) InputGradients(x []float32, k int, logitsOOD []float32, grads int, grad func(j int, logitsOOD, g []float32), use func(j int, dx []float32) error) error {
	out, err := n.Model.GradForwardHost(x, -1)
	if err != nil {
		return err
	}
	be := n.Model.Backend()
	be.Download(logitsOOD, out.OODLogits)
	g := make([]float32, len(logitsOOD))
	d := be.Alloc(out.OODLogits.Shape()...)
	defer be.Free(d)
	dx := make([]float32, len(x))
	for j := range grads {
		clear(g)
		grad(j, logitsOOD, g)
		be.Upload(d, g)
		t, err := n.Model.GradInput(d)
		if err != nil {
			return err
		}
		be.Download(dx, t)
		if err := use(j, dx); err != nil {
			return err
		}
	}
	return nil
}

// GradBatch implements features.GradBatcher: nn.Model.GradBatch, the
// images of a gradient pass of about 1 GiB.
func (n Network) GradBatch() int { return n.Model.GradBatch() }

// StageGradient implements features.ExtraNetwork with nn.Model.GradForward
// up to stage s and GradStageInput.
func (n Network) StageGradient(x []float32, k, s int, maps []float32, grad func(maps, g []float32), dx []float32) error {
	if _, err := n.Model.GradForwardHost(x, s); err != nil {
		return err
	}
	t, err := n.Model.GradStage()
	if err != nil {
		return err
	}
	if t.Numel() != len(maps) {
		return fmt.Errorf("stage %d output %v, destination holds %d values", s, t.Shape(), len(maps))
	}
	be := n.Model.Backend()
	be.Download(maps, t)
	g := make([]float32, len(maps))
	grad(maps, g)
	d := be.Alloc(t.Shape()...)
	defer be.Free(d)
	be.Upload(d, g)
	dt, err := n.Model.GradStageInput(d)
	if err != nil {
		return err
	}
	be.Download(dx, dt)
	return nil
}

// StageShape implements features.ExtraNetwork (s = 0: the stem).
func (n Network) StageShape(s int) (c, h, w int, err error) {
	if s < 0 || s > n.Model.Stages() || (s == 0 && n.Model.Stages() == 0) {
		return 0, 0, 0, fmt.Errorf("%s has %d stages, the method needs stage %d", n.Model.Config().Arch, n.Model.Stages(), s)
	}
	sh, err := n.Model.StageShape(s)
	if err != nil {
		return 0, 0, 0, err
	}
	return sh[0], sh[1], sh[2], nil
}

// StageMaps implements features.ExtraNetwork with nn.Model.InferStages
// (fused, nothing kept, no stage after the last asked for).
func (n Network) StageMaps(x []float32, k int, stages []int, dst [][]float32) error {
	if len(stages) != len(dst) {
		return fmt.Errorf("%d stages, %d destinations", len(stages), len(dst))
	}
	if per := n.Model.InputShape(1).Numel(); len(x) != k*per {
		return fmt.Errorf("%d input values for %d images of %d", len(x), k, per)
	}
	be := n.Model.Backend()
	return n.Model.InferStagesHost(x, stages, func(s int, t *backend.Tensor) error {
		for i, st := range stages {
			if st != s {
				continue
			}
			if t.Numel() != len(dst[i]) {
				return fmt.Errorf("stage %d output %v, destination holds %d values", s, t.Shape(), len(dst[i]))
			}
			be.Download(dst[i], t)
		}
		return nil
	})
}

// ForwardFromStage implements features.ExtraNetwork with nn.Model.InferFrom.
func (n Network) ForwardFromStage(s int, h []float32, k int, logitsOOD []float32) error {
	c, hh, w, err := n.StageShape(s)
	if err != nil {
		return err
	}
	if len(h) != k*c*hh*w {
		return fmt.Errorf("%d values for %d maps of stage %d [%d %d %d]", len(h), k, s, c, hh, w)
	}
	be := n.Model.Backend()
	t := be.Alloc(k, c, hh, w)
	defer be.Free(t)
	be.Upload(t, h)
	out, err := n.Model.InferFrom(s, t)
	if err != nil {
		return err
	}
	be.Download(logitsOOD, out.OODLogits)
	return nil
}

// Taps implements features.ExtraNetwork: nn.Model.Taps.
func (n Network) Taps() []features.Tap {
	taps := n.Model.Taps()
	out := make([]features.Tap, len(taps))
	for i, t := range taps {
		out[i] = features.Tap{Name: t.Name, C: t.Shape[0], H: t.Shape[1], W: t.Shape[2]}
	}
	return out
}

// TapMaps implements features.ExtraNetwork with nn.Model.ForwardTaps and
// VisitTaps, downloading each tap's output into one reused host buffer.
func (n Network) TapMaps(x []float32, k int, logitsOOD []float32, visit func(l int, maps []float32) error) error {
	per := n.Model.InputShape(1).Numel()
	if len(x) != k*per {
		return fmt.Errorf("%d input values for %d images of %d", len(x), k, per)
	}
	be := n.Model.Backend()
	in := be.Alloc(n.Model.InputShape(k)...)
	defer be.Free(in)
	be.Upload(in, x)
	out, err := n.Model.ForwardTaps(in)
	if err != nil {
		return err
	}
	be.Download(logitsOOD, out.OODLogits)
	var buf []float32
	return n.Model.VisitTaps(func(l int, t *backend.Tensor) error {
		if cap(buf) < t.Numel() {
			buf = make([]float32, t.Numel())
		}
		buf = buf[:t.Numel()]
		be.Download(buf, t)
		return visit(l, buf)
	})
}
