package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
)

// Reading a network off a bare state_dict: which of t2f's architectures,
// at which width, with which head, for how many classes — from the tensor
// names and shapes alone, for files (torch.save of OpenOOD's networks,
// torchvision's ResNets) that carry no description of their own.

// Description is what a state_dict's names and shapes say about the network
// that wrote it.
type Description struct {
	Arch       string  // one of Archs
	Width      float64 // the width multiplier that gives the file's stage widths (1 for LeNet, small_resnet)
	InChannels int     // input channels of the first convolution
	Classes    int     // rows of fc.weight
	Dim        int     // columns of fc.weight: the feature size
	// Tau is the file's "tau" (OpenOOD's T2FNormNet stores it as a buffer):
	// the file is a T2FNorm checkpoint. 0 when the file has none.
	Tau float32
	// Backbone says the names were under "backbone." (T2FNormNet's wrapper):
	// without Tau the head is T2FNorm with an unstored τ, or a plain
	// network under some other wrapper; the caller must say which.
	Backbone bool
	// Prefixes lists the wrapper prefixes removed ("module.", "net.",
	// "backbone."), in the order first met.
	Prefixes []string
}

// Wrapper prefixes removed from state_dict names: DataParallel's "module.",
// OpenOOD's T2FNormNet "backbone.", and "net." of training-script wrappers.
const prefixNet = "net."

// StripPrefixes removes every leading wrapper prefix from name and returns
// the bare name with the prefixes removed, outermost first.
func StripPrefixes(name string) (string, []string) {
	var got []string
	for {
		switch {
		case strings.HasPrefix(name, prefixModule):
			name, got = name[len(prefixModule):], append(got, prefixModule)
		case strings.HasPrefix(name, prefixNet):
			name, got = name[len(prefixNet):], append(got, prefixNet)
		case strings.HasPrefix(name, BackbonePrefix):
			name, got = name[len(BackbonePrefix):], append(got, BackbonePrefix)
		default:
			return name, got
		}
	}
}

// Describe reads the network off a state_dict's names and shapes. Names
// may carry the wrapper prefixes "module.", "net." and "backbone."; the
// recognised layouts are OpenOOD's LeNet (block1.0, classifier1),
// ResNet18_32x32 (3×3 stem, layer1–4, "shortcut"), torchvision's ResNet-18
// and ResNet-50 (7×7 stem, "downsample"; OpenOOD's ResNet18_224x224 and
// ResNet50 are torchvision's), and the 16-32-64 small_resnet. Anything else
// is an error listing the names found.
func Describe(ts []safetensors.Tensor) (Description, error) {
	var d Description
	shape := map[string][]int{}
	var names []string
	for i := range ts {
		name, pre := StripPrefixes(ts[i].Name)
		for _, p := range pre {
			if !slices.Contains(d.Prefixes, p) {
				d.Prefixes = append(d.Prefixes, p)
			}
			if p == BackbonePrefix {
				d.Backbone = true
			}
		}
		shape[name] = ts[i].Shape
		names = append(names, ts[i].Name)
		if name == TauBuffer {
			v, err := pth.Float32s(&ts[i])
			if err != nil || len(v) != 1 || !(v[0] > 0) || math.IsInf(float64(v[0]), 0) {
				return d, fmt.Errorf("nn: the state_dict's tau is %v (shape %v), want one positive number", v, ts[i].Shape)
			}
			d.Tau = v[0]
		}
	}
	unknown := func(why string) (Description, error) {
		return d, fmt.Errorf("nn: %s; the state_dict holds %d tensors: %s. t2f runs OpenOOD's lenet, resnet18_32x32, resnet18_224x224 "+
			"and resnet50 (torchvision names) and small_resnet, saved as a state_dict (optionally under module., net. or backbone.); "+
			"for another network dump its features with PyTorch and use t2f features import",
			why, len(names), firstFew(names))
	}
	has := func(n string) bool { _, ok := shape[n]; return ok }
	fc, ok := shape[FCWeight]
	if !ok || !has(FCBias) {
		return unknown(fmt.Sprintf("no %s and %s (the classifier)", FCWeight, FCBias))
	}
	if len(fc) != 2 || !slices.Equal(shape[FCBias], fc[:1]) {
		return unknown(fmt.Sprintf("%s is %v and %s %v, want [classes features] and [classes]", FCWeight, fc, FCBias, shape[FCBias]))
	}
	d.Classes, d.Dim = fc[0], fc[1]
	conv1 := shape["conv1.weight"]
	switch {
	case has("block1.0.weight") && has("classifier1.weight"):
		d.Arch, d.Width = ArchLeNet, 1
		if s := shape["block1.0.weight"]; len(s) == 4 {
			d.InChannels = s[1]
		}
		return d, nil
	case len(conv1) != 4:
		return unknown("neither LeNet's block1.0.weight nor a ResNet's 4-D conv1.weight")
	}
	d.InChannels = conv1[1]
	expansion := 1
	var bases []int // stage widths at width 1
	switch {
	case conv1[2] == 7 && has("layer1.0.conv3.weight"):
		d.Arch, expansion, bases = ArchResNet50, 4, []int{64, 128, 256, 512}
	case conv1[2] == 7:
		d.Arch, bases = ArchResNet18_224, []int{64, 128, 256, 512}
	case conv1[2] == 3 && has("layer4.0.conv1.weight"):
		d.Arch, bases = ArchResNet18_32, []int{64, 128, 256, 512}
	case conv1[2] == 3 && has("layer3.0.conv1.weight") && !has("layer1.1.conv1.weight"):
		d.Arch, d.Width = ArchSmallResNet, 1
		return d, nil
	default:
		return unknown(fmt.Sprintf("conv1.weight is %v, and the layers match no ResNet t2f builds", conv1))
	}
	// The observed stage widths: stem, layer1..4 (first block's conv1 out).
	obs := []int{conv1[0]}
	for s := range 4 {
		w, ok := shape[fmt.Sprintf("layer%d.0.conv1.weight", s+1)]
		if !ok || len(w) != 4 {
			return unknown(fmt.Sprintf("no 4-D layer%d.0.conv1.weight", s+1))
		}
		obs = append(obs, w[0])
	}
	base := append([]int{64}, bases...)
	w, err := widthFor(base, obs)
	if err != nil {
		return d, fmt.Errorf("nn: a %s state_dict with %w", d.Arch, err)
	}
	if want := scaled(512, w) * expansion; want != d.Dim {
		return d, fmt.Errorf("nn: a %s state_dict of width %g has fc.weight %v, want %d columns", d.Arch, w, fc, want)
	}
	d.Width = w
	return d, nil
}

// widthFor returns a width multiplier w with scaled(base[i], w) == obs[i]
// for every stage: the simplest candidate obs[i]/base[i] that fits all of
// them, else the middle of the interval they allow.
func widthFor(base, obs []int) (float64, error) {
	lo, hi := 0.0, math.Inf(1)
	for i := range base {
		b, o := float64(base[i]), float64(obs[i])
		l, h := (o-0.5)/b, (o+0.5)/b
		if obs[i] == 1 {
			l = 0
		}
		lo, hi = max(lo, l), min(hi, h)
	}
	fits := func(w float64) bool {
		for i := range base {
			if scaled(base[i], w) != obs[i] {
				return false
			}
		}
		return w > 0
	}
	for i := len(base) - 1; i >= 0; i-- {
		if w := float64(obs[i]) / float64(base[i]); fits(w) {
			return w, nil
		}
	}
	if lo < hi && fits((lo+hi)/2) {
		return (lo + hi) / 2, nil
	}
	return 0, fmt.Errorf("stage widths %v, which no width multiplier gives (t2f's widths are max(1, round(base·w)) of %v): give the width or check the file", obs, base)
}
