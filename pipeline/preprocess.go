package pipeline

import (
	"fmt"
	"sync"

	"github.com/disintegration/imaging"
)

// Resample filters for --resample.
var resampleFilters = map[string]imaging.ResampleFilter{
	"bilinear": imaging.Linear,     // PIL BILINEAR (antialiased when shrinking), OpenOOD's/torchvision's default
	"box":      pilBox,             // PIL BOX: plain area averaging
	"bicubic":  imaging.CatmullRom, // PIL BICUBIC (a = −0.5)
	"lanczos":  imaging.Lanczos,    // PIL LANCZOS (3 lobes)
}

// pilBox is PIL's box filter: weight 1 on the half-open window (−½, ½]
// (imaging.Box uses the closed window [−½, ½], which double-counts boundary
// pixels at non-integer scales and differs from PIL by up to 59 levels).
var pilBox = imaging.ResampleFilter{Support: 0.5, Kernel: func(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}}

// ResampleNames lists the accepted --resample values.
func ResampleNames() []string { return []string{"bilinear", "box", "bicubic", "lanczos"} }

// Preprocessor applies OpenOOD's test transform to decoded images:
// Resize(Resize) → CenterCrop(Size), e.g. 256 → 224 for ImageNet.
type Preprocessor struct {
	Resize   int    // the shorter side before the crop (≥ Size)
	Size     int    // output is Size×Size
	Channels int    // 1 or 3
	Resample string // a ResampleNames value; "" = bilinear
	filter   imaging.ResampleFilter
	weights  sync.Map // [2]int{dst, src} → [][]tap, shared by all workers
}

// NewPreprocessor checks its arguments and returns a Preprocessor that
// resizes the shorter side to resize (0 = size) and centre-crops size×size.
func NewPreprocessor(resize, size, channels int, resample string) (*Preprocessor, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pipeline: size %d must be positive", size)
	}
	if resize == 0 {
		resize = size
	}
	if resize < size {
		return nil, fmt.Errorf("pipeline: resize %d is smaller than the crop size %d", resize, size)
	}
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("pipeline: channels %d, want 1 or 3", channels)
	}
	if resample == "" {
		resample = "bilinear"
	}
	f, ok := resampleFilters[resample]
	if !ok {
		return nil, fmt.Errorf("pipeline: resample filter %q, want one of %v", resample, ResampleNames())
	}
	return &Preprocessor{Resize: resize, Size: size, Channels: channels, Resample: resample, filter: f}, nil
}

// OutLen is the byte length of one output image.
func (p *Preprocessor) OutLen() int { return p.Size * p.Size * p.Channels }

// Apply converts img to p.Channels channels, resizes its shorter side to
// p.Resize (skipped when it already is p.Resize, so such images are
// bit-exact), centre-crops to p.Size×p.Size and writes the HWC bytes to dst
// (len p.OutLen()).
func (p *Preprocessor) Apply(img Image, dst []uint8) error {
	if len(dst) != p.OutLen() {
		panic("pipeline: Apply: dst length does not match the output size")
	}
	if img.W <= 0 || img.H <= 0 || (img.C != 1 && img.C != 3) || len(img.Pix) != img.W*img.H*img.C {
		return fmt.Errorf("pipeline: image %dx%dx%d with %d bytes", img.W, img.H, img.C, len(img.Pix))
	}
	if img.C == 3 && p.Channels == 1 {
		img = toGrey(img)
	}
	// Shorter side to Resize, the other int(Resize·long/short) (torchvision).
	if r := p.Resize; min(img.W, img.H) != r {
		w, h := r, int(int64(r)*int64(img.H)/int64(img.W))
		if img.H < img.W {
			w, h = int(int64(r)*int64(img.W)/int64(img.H)), r
		}
		img = p.resize(img, max(w, 1), max(h, 1))
	}
	s := p.Size
	top, left := cropOffset(img.H, s), cropOffset(img.W, s)
	if img.H < s || img.W < s {
		return fmt.Errorf("pipeline: image %dx%d smaller than %d after resize", img.W, img.H, s)
	}
	c := p.Channels
	for y := 0; y < s; y++ {
		row := img.Pix[((top+y)*img.W+left)*img.C:]
		out := dst[y*s*c : (y+1)*s*c]
		switch {
		case img.C == c:
			copy(out, row[:s*c])
		default: // grey → RGB: replicate
			for x := 0; x < s; x++ {
				v := row[x]
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	}
	return nil
}

// cropOffset is torchvision's center_crop offset int(round((n − s) / 2.0))
// with Python's round-half-to-even.
func cropOffset(n, s int) int {
	d := n - s
	q := d / 2
	if d%2 == 1 && q%2 == 1 {
		q++
	}
	return q
}

// toGrey is PIL's convert("L"): L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16.
func toGrey(img Image) Image {
	out := Image{W: img.W, H: img.H, C: 1, Pix: make([]uint8, img.W*img.H)}
	for i := range out.Pix {
		r, g, b := uint32(img.Pix[3*i]), uint32(img.Pix[3*i+1]), uint32(img.Pix[3*i+2])
		out.Pix[i] = uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
	}
	return out
}

func (p *Preprocessor) resize(img Image, w, h int) Image {
	return resizeWith(img, w, h, p.cachedWeights)
}

// cachedWeights returns the resampling taps for src → dst samples, computed
// once per size pair (datasets mostly repeat a few sizes).
func (p *Preprocessor) cachedWeights(dst, src int) [][]tap {
	key := [2]int{dst, src}
	if w, ok := p.weights.Load(key); ok {
		return w.([][]tap)
	}
	w, _ := p.weights.LoadOrStore(key, resampleWeights(dst, src, p.filter))
	return w.([][]tap)
}
