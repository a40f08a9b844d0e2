package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
	"github.com/t2f/t2f/train/backend/cpu"
)

// TestInputGradientFloat64 checks Model.InputGradient, the eval-mode
// gradient of L = Σ c⊙OODLogits with respect to the image, against float64
// central differences on the reference backend, for every architecture and
// both heads. Two training forwards first move BatchNorm's running
// statistics away from (0, 1), so the eval BatchNorm is a real affine map.
func TestInputGradientFloat64(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		n    int
	}{
		{"lenet-t2fnorm", Config{Arch: ArchLeNet, InChannels: 1, Classes: 5, Head: HeadT2FNorm}, 2},
		{"resnet18_32x32-linear", Config{Arch: ArchResNet18_32, Width: 1.0 / 32, InChannels: 2, ImageSize: 8, Classes: 3}, 3},
		{"resnet18_32x32-t2fnorm", Config{Arch: ArchResNet18_32, Width: 1.0 / 32, ImageSize: 8, Classes: 3, Head: HeadT2FNorm}, 2},
		{"resnet50-linear", Config{Arch: ArchResNet50, Width: 1.0 / 32, ImageSize: 48, Classes: 3}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := backendtest.NewReference()
			m, err := New(be, tc.cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			x := m.be.Alloc(m.InputShape(tc.n)...)
			xv := backendtest.Float64s(x)
			for i := range xv {
				xv[i] = r.NormFloat64()
			}
			for range 2 {
				if _, err := m.Forward(x, true); err != nil {
					t.Fatal(err)
				}
			}
			c := m.be.Alloc(tc.n, tc.cfg.Classes)
			cv := backendtest.Float64s(c)
			for i := range cv {
				cv[i] = r.NormFloat64()
			}
			loss := func() float64 {
				out, err := m.Forward(x, false)
				if err != nil {
					t.Fatal(err)
				}
				l := 0.0
				for i, v := range backendtest.Float64s(out.OODLogits) {
					l += cv[i] * v
				}
				return l
			}
			loss()
			dx, err := m.InputGradient(c)
			if err != nil {
				t.Fatal(err)
			}
			g := append([]float64(nil), backendtest.Float64s(dx)...)
			const h = 1e-6
			cd := func(i int, h float64) float64 {
				old := xv[i]
				xv[i] = old + h
				lp := loss()
				xv[i] = old - h
				lm := loss()
				xv[i] = old
				return (lp - lm) / (2 * h)
			}
			checked, sampled := 0, 0
			for range 12 {
				i := r.IntN(len(xv))
				sampled++
				fd := cd(i, h)
				if math.Abs(fd-cd(i, h/4)) > 1e-6*math.Max(1, math.Abs(fd)) {
					continue // a kink within reach of the perturbation
				}
				checked++
				if math.Abs(fd-g[i]) > 1e-6+1e-5*math.Abs(fd) {
					t.Errorf("x[%d]: gradient %.9g, central difference %.9g", i, g[i], fd)
				}
			}
			if checked < sampled*3/4 {
				t.Errorf("only %d of %d sampled coordinates were away from kinks", checked, sampled)
			}
		})
	}
}

// TestInputGradientNeedsEvalForward: a training forward, or none, is an
// error, not a silent training-mode gradient.
func TestInputGradientNeedsEvalForward(t *testing.T) {
	m, err := New(cpu.New(1), Config{Arch: ArchLeNet, InChannels: 1, Classes: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := m.be.Alloc(2, 3)
	if _, err := m.InputGradient(d); err == nil {
		t.Error("InputGradient without a forward: no error")
	}
	if _, err := m.ForwardHost(make([]float32, m.InputShape(2).Numel()), true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InputGradient(d); err == nil {
		t.Error("InputGradient after a training forward: no error")
	}
}

// TestForwardFromStage: ForwardFrom(s, StageOutput(s)) reproduces the full
// forward's outputs for every stage.
func TestForwardFromStage(t *testing.T) {
	be := cpu.New(1)
	m, err := New(be, Config{Arch: ArchResNet18_32, Width: 1.0 / 16, ImageSize: 16, Classes: 4, Head: HeadT2FNorm}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.Stages() != 4 {
		t.Fatalf("Stages() = %d, want 4", m.Stages())
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, m.InputShape(3).Numel())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out, err := m.ForwardHost(x, false)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, out.OODLogits.Numel())
	be.Download(want, out.OODLogits)
	var maps []*backendTensorCopy
	for s := 1; s <= 4; s++ {
		h, err := m.StageOutput(s)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := m.StageShape(s)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Shape()[1:].Equal(sh) {
			t.Fatalf("StageShape(%d) = %v, stage output %v", s, sh, h.Shape())
		}
		maps = append(maps, copyTensor(be, h))
	}
	for s := 1; s <= 4; s++ {
		h := be.Alloc(maps[s-1].shape...)
		be.Upload(h, maps[s-1].data)
		got, err := m.ForwardFrom(s, h)
		if err != nil {
			t.Fatal(err)
		}
		g := make([]float32, got.OODLogits.Numel())
		be.Download(g, got.OODLogits)
		for i := range g {
			if math.Abs(float64(g[i]-want[i])) > 1e-5*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("stage %d: OOD logit %d = %v, full forward %v", s, i, g[i], want[i])
			}
		}
	}
	if _, err := m.ForwardFrom(5, be.Alloc(1)); err == nil {
		t.Error("ForwardFrom(5): no error")
	}
	if _, err := m.ForwardFrom(2, be.Alloc(3, 7, 4, 4)); err == nil {
		t.Error("ForwardFrom with a wrong shape: no error")
	}
}

type backendTensorCopy struct {
	shape []int
	data  []float32
}

func copyTensor(be backend.Backend, t *backend.Tensor) *backendTensorCopy {
	c := &backendTensorCopy{shape: t.Shape().Clone(), data: make([]float32, t.Numel())}
	be.Download(c.data, t)
	return c
}

// TestStageInputGradientFloat64 checks Model.StageInputGradient, the
// eval-mode gradient of L = Σ c⊙(output of stage s) with respect to the
// image, against float64 central differences on the reference backend: the
// stem (s = 0, before the max-pool of the torchvision stem) and later stages.
func TestStageInputGradientFloat64(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		stages []int
	}{
		{"resnet18_32x32", Config{Arch: ArchResNet18_32, Width: 1.0 / 32, InChannels: 2, ImageSize: 8, Classes: 3, Head: HeadT2FNorm}, []int{0, 1, 4}},
		{"resnet50", Config{Arch: ArchResNet50, Width: 1.0 / 32, ImageSize: 48, Classes: 3}, []int{0, 2}},
	}
	for _, tc := range cases {
		for _, s := range tc.stages {
			t.Run(tc.name+"-stage"+itoa(s), func(t *testing.T) {
				be := backendtest.NewReference()
				m, err := New(be, tc.cfg, 7)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(5, 6))
				const n = 2
				x := m.be.Alloc(m.InputShape(n)...)
				xv := backendtest.Float64s(x)
				for i := range xv {
					xv[i] = r.NormFloat64()
				}
				for range 2 {
					if _, err := m.Forward(x, true); err != nil {
						t.Fatal(err)
					}
				}
				out := func() *backend.Tensor {
					if _, err := m.Forward(x, false); err != nil {
						t.Fatal(err)
					}
					y, err := m.StageOutput(s)
					if err != nil {
						t.Fatal(err)
					}
					sh, err := m.StageShape(s)
					if err != nil {
						t.Fatal(err)
					}
					if want := append(backend.Shape{n}, sh...); !y.Shape().Equal(want) {
						t.Fatalf("stage %d output %v, StageShape %v", s, y.Shape(), sh)
					}
					return y
				}
				y := out()
				c := m.be.Alloc(y.Shape()...)
				cv := backendtest.Float64s(c)
				for i := range cv {
					cv[i] = r.NormFloat64()
				}
				loss := func() float64 {
					l := 0.0
					for i, v := range backendtest.Float64s(out()) {
						l += cv[i] * v
					}
					return l
				}
				loss()
				dx, err := m.StageInputGradient(s, c)
				if err != nil {
					t.Fatal(err)
				}
				g := append([]float64(nil), backendtest.Float64s(dx)...)
				cd := func(i int, h float64) float64 {
					old := xv[i]
					xv[i] = old + h
					lp := loss()
					xv[i] = old - h
					lm := loss()
					xv[i] = old
					return (lp - lm) / (2 * h)
				}
				checked, sampled := 0, 0
				for range 12 {
					i := r.IntN(len(xv))
					sampled++
					fd := cd(i, 1e-6)
					if math.Abs(fd-cd(i, 1e-6/4)) > 1e-6*math.Max(1, math.Abs(fd)) {
						continue // a kink within reach of the perturbation
					}
					checked++
					if math.Abs(fd-g[i]) > 1e-6+1e-5*math.Abs(fd) {
						t.Errorf("x[%d]: gradient %.9g, central difference %.9g", i, g[i], fd)
					}
				}
				if checked < sampled*3/4 {
					t.Errorf("only %d of %d sampled coordinates were away from kinks", checked, sampled)
				}
			})
		}
	}
}
