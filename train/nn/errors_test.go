package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/train/backend/cpu"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Arch: "vgg", Classes: 10}, `unknown architecture "vgg"`},
		{Config{Arch: ArchLeNet, Classes: 0}, "0 classes"},
		{Config{Arch: ArchLeNet, Classes: 10, Width: 0.5}, "lenet has no width multiplier"},
		{Config{Arch: ArchLeNet, Classes: 10, ImageSize: 32}, "lenet needs 28×28 input"},
		{Config{Arch: ArchResNet18_32, Classes: 10, Width: -1}, "width multiplier -1"},
		{Config{Arch: ArchResNet18_32, Classes: 10, Head: "cosine"}, `unknown head "cosine"`},
		{Config{Arch: ArchResNet18_32, Classes: 10, Head: HeadT2FNorm, Tau: float32(math.NaN())}, "tau NaN"},
		{Config{Arch: ArchResNet18_32, Classes: 10, InChannels: -3}, "-3 input channels"},
	} {
		_, err := New(cpu.New(1), tc.cfg, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestInputErrors(t *testing.T) {
	be := cpu.New(1)
	m, err := New(be, Config{Arch: ArchResNet18_32, Width: 1.0 / 16, InChannels: 1, ImageSize: 8, Classes: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", what, err, want)
		}
	}
	_, err = m.Forward(be.Alloc(2, 3, 8, 8), true)
	check("wrong channels", err, "input [2 3 8 8], want [N 1 8 8]")
	_, err = m.Forward(be.Alloc(2, 1, 9, 9), true)
	check("wrong size", err, "input [2 1 9 9], want [N 1 8 8]")
	_, err = m.Forward(be.Alloc(64), true)
	check("not 4-D", err, "input [64]")
	_, err = m.ForwardHost(make([]float32, 100), true)
	check("partial image", err, "100 input values")
	_, err = m.ForwardHost(make([]float32, 64), true)
	check("one image in training", err, "use a batch of at least 2")
	err = m.Backward(be.Alloc(2, 3))
	check("backward first", err, "no training forward pass")

	x := make([]float32, 2*64)
	x[5] = float32(math.NaN())
	_, err = m.ForwardHost(x, false)
	check("NaN input", err, "contains NaN or Inf")
	x[5] = 0
	if _, err := m.ForwardHost(x, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = m.CrossEntropy([]int32{0})
	check("label count", err, "1 labels for logits [2 3]")
	_, _, err = m.CrossEntropy([]int32{0, 3})
	check("label range", err, "label 3 of image 1 outside [0, 3)")
	err = m.Backward(be.Alloc(2, 4))
	check("dlogits shape", err, "dlogits [2 4], want [2 3]")
	_, dl, err := m.CrossEntropy([]int32{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	err = m.Backward(dl)
	check("second backward", err, "no training forward pass")

	// diverged weights: NaN activations are reported, not returned
	p := m.Params()[0]
	v := download(be, p.Value)
	v[0] = float32(math.Inf(1))
	be.Upload(p.Value, v)
	_, err = m.ForwardHost(x, false)
	check("diverged", err, "non-finite activations")

	opt, _ := NewSGD(m, SGDConfig{Momentum: 0.9})
	check("bad lr", opt.Step(float32(math.NaN())), "learning rate NaN")
	_, err = NewSGD(m, SGDConfig{Nesterov: true})
	check("nesterov without momentum", err, "Nesterov momentum requires")
}
