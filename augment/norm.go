package augment

import (
	"fmt"
	"strings"
)

// Norm is a per-channel normalisation: out = (v/255 − Mean[c]) / Std[c]. The
// constants are given in float64 and used as float32, as torchvision does
// (torch.as_tensor(mean, dtype=float32)).
type Norm struct {
	Name string
	Mean []float64
	Std  []float64
}

// Preset returns the OpenOOD normalisation for a dataset family:
// "cifar10", "cifar100", "imagenet" (alias "imagenet200", "imagenet1k") and
// "mnist" (mean = std = 0.5, OpenOOD's fallback for every other dataset).
// Constants: OpenOOD openood/preprocessors/transform.py.
func Preset(name string) (Norm, error) {
	switch strings.ToLower(name) {
	case "cifar10":
		return Norm{"cifar10", []float64{0.4914, 0.4822, 0.4465}, []float64{0.2470, 0.2435, 0.2616}}, nil
	case "cifar100":
		return Norm{"cifar100", []float64{0.5071, 0.4867, 0.4408}, []float64{0.2675, 0.2565, 0.2761}}, nil
	case "imagenet", "imagenet200", "imagenet1k":
		return Norm{"imagenet", []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225}}, nil
	case "mnist":
		return Norm{"mnist", []float64{0.5, 0.5, 0.5}, []float64{0.5, 0.5, 0.5}}, nil
	}
	return Norm{}, fmt.Errorf("augment: unknown normalisation preset %q (want cifar10, cifar100, imagenet, imagenet200, mnist)", name)
}

// channels returns the (mean, std) of each of c output channels. A norm with
// one value per channel is used as is; a 3-value norm whose values are all
// equal (mnist) also serves a single channel.
func (n Norm) channels(c int) (mean, std []float32, err error) {
	if len(n.Mean) != len(n.Std) {
		return nil, nil, fmt.Errorf("augment: norm %q has %d means and %d stds", n.Name, len(n.Mean), len(n.Std))
	}
	switch {
	case len(n.Mean) == c:
	case c == 1 && len(n.Mean) > 1 && allEqual(n.Mean) && allEqual(n.Std):
	default:
		hint := ""
		if c == 1 {
			hint = " (set Transform.OutChannels to 3 to replicate a grey channel)"
		}
		return nil, nil, fmt.Errorf("augment: norm %q has %d channels, output has %d%s", n.Name, len(n.Mean), c, hint)
	}
	mean = make([]float32, c)
	std = make([]float32, c)
	for i := range c {
		mean[i] = float32(n.Mean[i%len(n.Mean)])
		std[i] = float32(n.Std[i%len(n.Std)])
		if !(std[i] > 0) {
			return nil, nil, fmt.Errorf("augment: norm %q: std[%d] = %v, want > 0", n.Name, i, n.Std[i])
		}
	}
	return mean, std, nil
}

func allEqual(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

// Table returns the 256-entry lookup table of channel c for an output with
// channels channels: Table[v] = (float32(v)/255 − mean) / std in float32,
// the rounding order of torchvision's ToTensor (div(255)) then Normalize
// (sub_(mean).div_(std)).
func (n Norm) Table(c, channels int) (*[256]float32, error) {
	mean, std, err := n.channels(channels)
	if err != nil {
		return nil, err
	}
	if c < 0 || c >= channels {
		return nil, fmt.Errorf("augment: norm %q: channel %d out of range [0, %d)", n.Name, c, channels)
	}
	return lut(mean[c], std[c]), nil
}

func lut(mean, std float32) *[256]float32 {
	var t [256]float32
	for v := range t {
		x := float32(v) / 255
		t[v] = (x - mean) / std
	}
	return &t
}
