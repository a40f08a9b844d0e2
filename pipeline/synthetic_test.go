package pipeline

import (
	"bytes"
	"math"
	"testing"
)

func TestSyntheticStatistics(t *testing.T) {
	stats := func(kind string, seed uint64) (mean, std, at0, at255 float64, first []uint8) {
		s, err := NewSynthetic(kind, 200, 32, 3, seed)
		if err != nil {
			t.Fatal(err)
		}
		var n, sum, sq float64
		for i := range s.Len() {
			img, _ := s.Load(i)
			if i == 0 {
				first = img.Pix
			}
			if it := s.Item(i); it.Label != -1 {
				t.Fatalf("%s label %d", kind, it.Label)
			}
			for _, v := range img.Pix {
				f := float64(v)
				n++
				sum += f
				sq += f * f
				if v == 0 {
					at0++
				}
				if v == 255 {
					at255++
				}
			}
		}
		mean = sum / n
		return mean, math.Sqrt(sq/n - mean*mean), at0 / n, at255 / n, first
	}
	// Gaussian: N(0, 0.5²) clipped to [−1, 1] = ±2σ, so P(255) = P(Z > 2) = 0.02275.
	m, sd, _, top, g1 := stats(SynthGaussian, 1)
	if math.Abs(m-127.5) > 1 || sd < 50 || sd > 64 || math.Abs(top-0.02275) > 0.003 {
		t.Errorf("gaussian: mean %.2f std %.2f P(255) %.4f", m, sd, top)
	}
	// Uniform on 0..255: mean 127.5, std sqrt((256²−1)/12) = 73.90.
	m, sd, _, _, _ = stats(SynthUniform, 1)
	if math.Abs(m-127.5) > 1 || math.Abs(sd-73.9) > 1 {
		t.Errorf("uniform: mean %.2f std %.2f", m, sd)
	}
	// Blobs: thresholded, so many exact zeros and values ≥ 0.75·255 otherwise.
	_, _, zero, _, b1 := stats(SynthBlobs, 1)
	if zero < 0.2 || zero > 0.8 {
		t.Errorf("blobs: %.2f of pixels are 0", zero)
	}
	for _, v := range b1 {
		if v != 0 && v < 191 {
			t.Fatalf("blobs pixel %d between 0 and 0.75·255", v)
		}
	}
	_, _, _, _, g1again := stats(SynthGaussian, 1)
	_, _, _, _, g2 := stats(SynthGaussian, 2)
	if !bytes.Equal(g1, g1again) || bytes.Equal(g1, g2) {
		t.Error("synthetic images not determined by (seed, index)")
	}
	if _, err := NewSynthetic("perlin", 1, 32, 3, 0); err == nil {
		t.Error("unknown kind accepted")
	}
}
