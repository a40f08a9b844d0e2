package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend/backendtest"
)

// TestGradientsFloat64 runs every architecture (hence every layer: Conv2d
// with and without bias, strides and paddings, BatchNorm2d in training,
// ReLU, MaxPool2d 2/2 and 3/2 pad 1, global average pool, Linear, BasicBlock
// with identity, "shortcut" and "downsample" branches, Bottleneck) and both
// heads on the float64 reference backend, and checks Model.Backward against
// float64 central differences of the loss, (L(θ+h) − L(θ−h)) / 2h with
// h = 1e-6, for sampled elements of every parameter tensor. This is the
// nn code's own gradient check, independent of PyTorch.
//
// A coordinate whose central difference changes between h and h/4 (by more
// than 1e-6 relative) sits near a kink — a ReLU input or a max-pool tie
// crossed by the perturbation, common for the stem weights of the deep
// networks, which move every activation — and is skipped; at least 80% of
// the sampled coordinates of each network must be smooth and checked.
func TestGradientsFloat64(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		n       int
		samples int // per parameter tensor; 0 means 2
	}{
		{"lenet-t2fnorm", Config{Arch: ArchLeNet, InChannels: 1, Classes: 5, Head: HeadT2FNorm}, 2, 0},
		{"lenet-linear", Config{Arch: ArchLeNet, Classes: 4}, 2, 0},
		{"resnet18_32x32-linear", Config{Arch: ArchResNet18_32, Width: 1.0 / 32, InChannels: 2, ImageSize: 8, Classes: 3}, 3, 0},
		{"small_resnet-t2fnorm", Config{Arch: ArchSmallResNet, InChannels: 1, ImageSize: 6, Classes: 3, Head: HeadT2FNorm}, 2, 0},
		{"resnet18_224x224-t2fnorm", Config{Arch: ArchResNet18_224, Width: 1.0 / 32, ImageSize: 24, Classes: 3, Head: HeadT2FNorm}, 3, 0},
		{"resnet50-linear", Config{Arch: ArchResNet50, Width: 1.0 / 32, ImageSize: 48, Classes: 3}, 4, 1},
	}
	if testing.Short() {
		cases = cases[:2]
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
			for i, xv := 0, backendtest.Float64s(x); i < len(xv); i++ {
				xv[i] = r.NormFloat64()
			}
			labels := make([]int32, tc.n)
			for i := range labels {
				labels[i] = int32(r.IntN(m.Config().Classes))
			}
			loss := func() float64 {
				if _, err := m.Forward(x, true); err != nil {
					t.Fatal(err)
				}
				l, _, err := m.CrossEntropy(labels)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			loss()
			_, dl, _ := m.CrossEntropy(labels)
			if err := m.Backward(dl); err != nil {
				t.Fatal(err)
			}
			const h = 1e-6
			samples := tc.samples
			if samples == 0 {
				samples = 2
			}
			checked, sampled := 0, 0
			for _, p := range m.Params() {
				v := backendtest.Float64s(p.Value)
				g := append([]float64(nil), backendtest.Float64s(p.Grad)...)
				cd := func(i int, h float64) float64 {
					old := v[i]
					v[i] = old + h
					lp := loss()
					v[i] = old - h
					lm := loss()
					v[i] = old
					return (lp - lm) / (2 * h)
				}
				for range samples {
					i := r.IntN(len(v))
					sampled++
					fd := cd(i, h)
					if math.Abs(fd-cd(i, h/4)) > 1e-6*math.Max(1, math.Abs(fd)) {
						continue // a kink within reach of the perturbation
					}
					checked++
					if math.Abs(fd-g[i]) > 1e-6+1e-5*math.Abs(fd) {
						t.Errorf("%s[%d]: gradient %.9g, central difference %.9g", p.Name, i, g[i], fd)
					}
				}
			}
			if checked < sampled*4/5 {
				t.Errorf("only %d of %d sampled coordinates were away from kinks", checked, sampled)
			}
		})
	}
}
