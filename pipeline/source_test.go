package pipeline

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestFromImageYCbCr checks the fast chroma indexing against image's own
// At() conversion for every subsample ratio and an odd-origin sub-image.
func TestFromImageYCbCr(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		full := image.NewYCbCr(image.Rect(0, 0, 19, 13), ratio)
		for _, p := range [][]uint8{full.Y, full.Cb, full.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
		for _, img := range []*image.YCbCr{full, full.SubImage(image.Rect(3, 1, 18, 12)).(*image.YCbCr)} {
			got := fromImage(img)
			b := img.Bounds()
			if got.W != b.Dx() || got.H != b.Dy() || got.C != 3 {
				t.Fatalf("%v: %dx%dx%d", ratio, got.W, got.H, got.C)
			}
			for y := 0; y < b.Dy(); y++ {
				for x := 0; x < b.Dx(); x++ {
					c := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
					o := got.Pix[(y*got.W+x)*3:]
					if o[0] != c.R || o[1] != c.G || o[2] != c.B {
						t.Fatalf("%v %v: (%d,%d) = %v, At gives %v", ratio, b, x, y, o[:3], c)
					}
				}
			}
		}
	}
}
