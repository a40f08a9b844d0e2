package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// Taps lists OpenOOD's GRAM hooks per architecture (their order and shapes
// are checked against PyTorch's hooks by evaluate/posthoc's gram oracle);
// ForwardTaps keeps LeNet's pre-ReLU convolution outputs beside their ReLU;
// VisitTaps refuses without a ForwardTaps.
func TestTaps(t *testing.T) {
	for _, c := range []struct {
		cfg         Config
		n           int
		first, last string
	}{
		{Config{Arch: ArchLeNet, InChannels: 1, Classes: 3, Head: HeadT2FNorm}, 7, "backbone.block1.0", "backbone.relu"},
		{Config{Arch: ArchResNet18_32, Width: 0.0625, ImageSize: 8, Classes: 3}, 20, "conv1", "layer4.1.conv2"},
		{Config{Arch: ArchSmallResNet, ImageSize: 8, Classes: 3}, 9, "conv1", "layer3.0.shortcut.0"},
		{Config{Arch: ArchResNet18_224, Width: 0.0625, ImageSize: 16, Classes: 3}, 37, "conv1", "layer4.1.relu"},
		{Config{Arch: ArchResNet50, Width: 0.0625, ImageSize: 16, Classes: 3}, 102, "conv1", "layer4.2.relu"},
	} {
		t.Run(c.cfg.Arch, func(t *testing.T) {
			m, err := New(cpu.New(1), c.cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			taps := m.Taps()
			if len(taps) != c.n || taps[0].Name != c.first || taps[len(taps)-1].Name != c.last {
				t.Fatalf("%d taps %s..%s, want %d %s..%s", len(taps), taps[0].Name, taps[len(taps)-1].Name, c.n, c.first, c.last)
			}
			if err := m.VisitTaps(func(int, *backend.Tensor) error { return nil }); err == nil {
				t.Error("VisitTaps before any ForwardTaps: no error")
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, m.InputShape(2).Numel())
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			in := m.Backend().Alloc(m.InputShape(2)...)
			m.Backend().Upload(in, x)
			if _, err := m.ForwardTaps(in); err != nil {
				t.Fatal(err)
			}
			var outs [][]float32
			if err := m.VisitTaps(func(i int, tt *backend.Tensor) error {
				if tt.Numel() != 2*taps[i].Shape.Numel() {
					t.Errorf("tap %d (%s): %d values, want 2×%v", i, taps[i].Name, tt.Numel(), taps[i].Shape)
				}
				h := make([]float32, tt.Numel())
				m.Backend().Download(h, tt)
				outs = append(outs, h)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i, tp := range taps {
				neg := false
				for _, v := range outs[i] {
					neg = neg || v < 0
				}
				if tp.Kind == TapReLU && neg {
					t.Errorf("ReLU tap %d (%s) has negative values", i, tp.Name)
				}
				if c.cfg.Arch == ArchLeNet && tp.Kind == TapConv {
					if !neg {
						t.Errorf("LeNet conv tap %d (%s) has no negative value: not the pre-ReLU output", i, tp.Name)
					}
					for j, v := range outs[i] {
						if want := max(v, 0); outs[i+1][j] != want {
							t.Fatalf("LeNet tap %d (%s)[%d] = %v, want relu(conv) = %v", i+1, taps[i+1].Name, j, outs[i+1][j], want)
						}
					}
				}
			}
			if _, err := m.Forward(in, false); err != nil {
				t.Fatal(err)
			}
			if err := m.VisitTaps(func(int, *backend.Tensor) error { return nil }); err == nil || !strings.Contains(err.Error(), "not ForwardTaps") {
				t.Errorf("VisitTaps after a plain Forward: %v", err)
			}
		})
	}
}
