package nn

import (
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
)

// TestDescribeRoundTrip: the state_dict of every architecture, head and a
// few widths (odd ones included) describes the network that wrote it, under
// any wrapper prefix.
func TestDescribeRoundTrip(t *testing.T) {
	for _, c := range []Config{
		{Arch: ArchLeNet, Classes: 3, InChannels: 1},
		{Arch: ArchSmallResNet, Classes: 5, Head: HeadT2FNorm, Tau: 0.25},
		{Arch: ArchResNet18_32, Classes: 10, Width: 0.06},
		{Arch: ArchResNet18_32, Classes: 7, Width: 1.0 / 64, Head: HeadT2FNorm},
		{Arch: ArchResNet18_224, Classes: 4, Width: 0.1, ImageSize: 64},
		{Arch: ArchResNet50, Classes: 6, Width: 1.0 / 32, ImageSize: 64},
	} {
		m, err := New(cpu.New(1), c, 1)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		for i := range sd {
			sd[i].Name = "module." + sd[i].Name
		}
		d, err := Describe(sd)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		c, _ = c.Resolve()
		if d.Arch != c.Arch || d.Classes != c.Classes || d.InChannels != c.InChannels || d.Dim != m.FeatureSize() {
			t.Errorf("%+v: described %+v", c, d)
		}
		for _, base := range []int{64, 128, 256, 512} {
			if c.Arch != ArchLeNet && c.Arch != ArchSmallResNet && scaled(base, d.Width) != scaled(base, c.Width) {
				t.Errorf("%+v: width %g gives %d channels for base %d, want %d", c, d.Width, scaled(base, d.Width), base, scaled(base, c.Width))
			}
		}
		if (c.Head == HeadT2FNorm) != (d.Tau > 0) || (c.Head == HeadT2FNorm) != d.Backbone {
			t.Errorf("%+v: tau %g, backbone %v", c, d.Tau, d.Backbone)
		}
	}
}

func TestDescribeRefuses(t *testing.T) {
	w := func(name string, shape ...int) safetensors.Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		return safetensors.FromFloat32s(name, shape, make([]float32, n))
	}
	fc := []safetensors.Tensor{w("fc.weight", 10, 32), w("fc.bias", 10)}
	for _, tc := range []struct {
		name string
		ts   []safetensors.Tensor
		want string
	}{
		{"no classifier", []safetensors.Tensor{w("conv1.weight", 4, 3, 3, 3)}, "no fc.weight"},
		{"vit", append([]safetensors.Tensor{w("patch_embed.proj.weight", 8, 3, 16, 16)}, fc...), "neither LeNet's"},
		{"odd stages", append([]safetensors.Tensor{w("conv1.weight", 4, 3, 3, 3), w("layer1.0.conv1.weight", 4, 4, 3, 3),
			w("layer2.0.conv1.weight", 5, 4, 3, 3), w("layer3.0.conv1.weight", 16, 5, 3, 3), w("layer4.0.conv1.weight", 32, 16, 3, 3)}, fc...),
			"stage widths [4 4 5 16 32]"},
		{"bad tau", append([]safetensors.Tensor{safetensors.FromFloat32s("tau", []int{}, []float32{-1})}, fc...), "tau"},
	} {
		if _, err := Describe(tc.ts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
