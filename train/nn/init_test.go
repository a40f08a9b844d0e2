package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/train/backend/cpu"
)

// TestInitialisation checks PyTorch's initialisation laws on large tensors:
// U(±1/√fan_in) (kaiming_uniform_(a=√5)) for the OpenOOD 32×32 ResNet and
// Linear layers, N(0, 2/fan_out) for torchvision's convolutions, BatchNorm
// γ=1, β=0, running statistics 0 and 1; and that the seed alone decides the
// weights. (scripts/torch_load_check.py --init-stats compares the same
// against a PyTorch-initialised model.)
func TestInitialisation(t *testing.T) {
	be := cpu.New(2)
	stats := func(v []float32) (mean, std, maxAbs float64) {
		for _, x := range v {
			mean += float64(x)
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v))), maxAbs
	}
	for _, arch := range []string{ArchResNet18_32, ArchResNet18_224} {
		m, err := New(be, Config{Arch: arch, Classes: 100}, 11)
		if err != nil {
			t.Fatal(err)
		}
		sd, _ := m.StateDict()
		for _, e := range sd {
			if e.DType != "F32" {
				continue
			}
			v, _ := e.Float32s()
			mean, std, maxAbs := stats(v)
			switch {
			case strings.HasSuffix(e.Name, "running_var") || strings.HasPrefix(e.Name, "bn") && strings.HasSuffix(e.Name, ".weight") || strings.Contains(e.Name, ".bn") && strings.HasSuffix(e.Name, ".weight") || strings.HasSuffix(e.Name, ".1.weight") && !strings.Contains(e.Name, "conv"):
				if mean != 1 || std != 0 {
					t.Errorf("%s: mean %v std %v, want all ones", e.Name, mean, std)
				}
			case strings.HasSuffix(e.Name, "running_mean") || strings.HasSuffix(e.Name, ".bias") && !strings.HasPrefix(e.Name, "fc"):
				if mean != 0 || std != 0 {
					t.Errorf("%s: mean %v std %v, want all zeros", e.Name, mean, std)
				}
			case len(v) >= 10000:
				fanIn, fanOut := 1, e.Shape[0]
				for _, d := range e.Shape[1:] {
					fanIn *= d
				}
				for _, d := range e.Shape[2:] {
					fanOut *= d
				}
				bound := 1 / math.Sqrt(float64(fanIn))
				wantStd := bound / math.Sqrt(3)
				if arch == ArchResNet18_224 && len(e.Shape) == 4 {
					wantStd = math.Sqrt(2 / float64(fanOut))
				} else if maxAbs > bound {
					t.Errorf("%s: |w| up to %v, bound %v", e.Name, maxAbs, bound)
				}
				se := wantStd / math.Sqrt(float64(len(v)))
				if math.Abs(std-wantStd) > 0.02*wantStd || math.Abs(mean) > 6*se {
					t.Errorf("%s: mean %.3g std %.4g, want 0 and %.4g", e.Name, mean, std, wantStd)
				}
			}
		}
	}
	a, _ := New(be, Config{Arch: ArchLeNet, Classes: 10}, 1)
	b, _ := New(be, Config{Arch: ArchLeNet, Classes: 10}, 1)
	c, _ := New(be, Config{Arch: ArchLeNet, Classes: 10}, 2)
	sa, _ := a.StateDict()
	sb, _ := b.StateDict()
	sc, _ := c.StateDict()
	if string(sa[0].Data) != string(sb[0].Data) {
		t.Error("same seed, different weights")
	}
	if string(sa[0].Data) == string(sc[0].Data) {
		t.Error("different seeds, same weights")
	}
}
