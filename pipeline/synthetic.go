package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/t2f/t2f/shards"
)

// Synthetic kinds.
const (
	SynthGaussian = "gaussian" // pixel = clip(N(127.5, 63.75²)) — N(0, 0.5²) clipped to [−1, 1] as in Hendrycks et al.'s outlier-exposure noise sets
	SynthUniform  = "uniform"  // pixel = U{0..255}
	SynthBlobs    = "blobs"    // per channel: Bernoulli(0.7) per pixel, Gaussian blur σ=1.5, values < 0.75 set to 0 (Hendrycks et al.'s "Blobs")
)

// Synthetic generates seeded noise images (all labelled −1, OOD). Image i
// depends only on (seed, i), never on the order or the worker that makes it.
type Synthetic struct {
	kind                  string
	count, size, channels int
	seed                  uint64
}

// MaxCount bounds the images a generated source (synthetic, letters) makes.
const MaxCount = 10_000_000

// NewSynthetic returns count size×size images of the given kind with
// channels channels.
func NewSynthetic(kind string, count, size, channels int, seed uint64) (*Synthetic, error) {
	switch kind {
	case SynthGaussian, SynthUniform, SynthBlobs:
	default:
		return nil, fmt.Errorf("pipeline: synthetic kind %q, want gaussian, uniform or blobs", kind)
	}
	if count <= 0 || count > MaxCount {
		return nil, fmt.Errorf("pipeline: synthetic count %d must lie in [1, %d]", count, MaxCount)
	}
	if size <= 0 || size > shards.MaxSide || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("pipeline: synthetic size %d channels %d: want size > 0 and 1 or 3 channels", size, channels)
	}
	return &Synthetic{kind: kind, count: count, size: size, channels: channels, seed: seed}, nil
}

func (s *Synthetic) Classes() []string { return nil }
func (s *Synthetic) Len() int          { return s.count }
func (s *Synthetic) Inputs() []string  { return nil }
func (s *Synthetic) Item(i int) Item {
	return Item{Source: s.kind + "#" + strconv.Itoa(i), Label: -1}
}

func (s *Synthetic) Load(i int) (Image, error) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(i)))
	n := s.size * s.size * s.channels
	img := Image{W: s.size, H: s.size, C: s.channels, Pix: make([]uint8, n)}
	switch s.kind {
	case SynthGaussian:
		for j := range img.Pix {
			v := math.Max(-1, math.Min(1, rng.NormFloat64()*0.5))
			img.Pix[j] = uint8(math.Round((v + 1) / 2 * 255))
		}
	case SynthUniform:
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.Uint32() >> 24)
		}
	case SynthBlobs:
		plane := make([]float64, s.size*s.size)
		tmp := make([]float64, len(plane))
		for c := 0; c < s.channels; c++ {
			for j := range plane {
				if rng.Float64() < 0.7 {
					plane[j] = 1
				} else {
					plane[j] = 0
				}
			}
			gaussBlur(plane, tmp, s.size, 1.5)
			for j, v := range plane {
				if v < 0.75 {
					v = 0
				}
				img.Pix[j*s.channels+c] = uint8(math.Round(v * 255))
			}
		}
	}
	return img, nil
}

// gaussBlur blurs a side×side plane in place with a Gaussian of the given
// sigma truncated at 4σ, edges extended (scipy's mode "nearest").
func gaussBlur(p, tmp []float64, side int, sigma float64) {
	r := int(math.Ceil(4 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	clamp := func(v int) int { return min(max(v, 0), side-1) }
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			var a float64
			for i, w := range k {
				a += w * p[y*side+clamp(x+i-r)]
			}
			tmp[y*side+x] = a
		}
	}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			var a float64
			for i, w := range k {
				a += w * tmp[clamp(y+i-r)*side+x]
			}
			p[y*side+x] = a
		}
	}
}
