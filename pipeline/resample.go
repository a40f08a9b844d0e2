package pipeline

import (
	"math"

	"github.com/disintegration/imaging"
)

// tap is one source pixel's weight in an output pixel.
type tap struct {
	index  int
	weight float64
}

// resampleWeights returns, for each of dst output positions, the source
// taps of filter when mapping src → dst samples: centre (v+½)·src/dst − ½,
// the kernel widened by the scale when shrinking (antialiasing, as PIL),
// weights normalised to sum 1. (The same weights as imaging.Resize.)
func resampleWeights(dst, src int, filter imaging.ResampleFilter) [][]tap {
	du := float64(src) / float64(dst)
	scale := max(du, 1)
	ru := math.Ceil(scale * filter.Support)
	out := make([][]tap, dst)
	for v := range out {
		fu := (float64(v)+0.5)*du - 0.5
		begin := max(int(math.Ceil(fu-ru)), 0)
		end := min(int(math.Floor(fu+ru)), src-1)
		var taps []tap
		var sum float64
		for u := begin; u <= end; u++ {
			if w := filter.Kernel((float64(u) - fu) / scale); w != 0 {
				sum += w
				taps = append(taps, tap{u, w})
			}
		}
		for i := range taps {
			taps[i].weight /= sum
		}
		out[v] = taps
	}
	return out
}

func clampRound(x float64) uint8 {
	v := int(x + 0.5)
	switch {
	case v > 255:
		return 255
	case v < 0:
		return 0
	}
	return uint8(v)
}

// resizeHWC resamples img to w×h, horizontally then vertically with a uint8
// intermediate (the order and rounding PIL uses), on the calling goroutine.
func resizeHWC(img Image, w, h int, filter imaging.ResampleFilter) Image {
	return resizeWith(img, w, h, func(dst, src int) [][]tap { return resampleWeights(dst, src, filter) })
}

// resizeWith is resizeHWC with the weights supplied (and possibly cached) by
// weights(dst, src).
func resizeWith(img Image, w, h int, weights func(dst, src int) [][]tap) Image {
	c := img.C
	if img.W != w {
		wts := weights(w, img.W)
		out := Image{W: w, H: img.H, C: c, Pix: make([]uint8, w*img.H*c)}
		for y := 0; y < img.H; y++ {
			src := img.Pix[y*img.W*c : (y+1)*img.W*c]
			dst := out.Pix[y*w*c : (y+1)*w*c]
			if c == 3 {
				for x, taps := range wts {
					var r, g, b float64
					for _, t := range taps {
						p := src[t.index*3 : t.index*3+3 : t.index*3+3]
						r += float64(p[0]) * t.weight
						g += float64(p[1]) * t.weight
						b += float64(p[2]) * t.weight
					}
					dst[3*x], dst[3*x+1], dst[3*x+2] = clampRound(r), clampRound(g), clampRound(b)
				}
				continue
			}
			for x, taps := range wts {
				var a float64
				for _, t := range taps {
					a += float64(src[t.index]) * t.weight
				}
				dst[x] = clampRound(a)
			}
		}
		img = out
	}
	if img.H != h {
		wts := weights(h, img.H)
		out := Image{W: img.W, H: h, C: c, Pix: make([]uint8, img.W*h*c)}
		rowLen := img.W * c
		acc := make([]float64, rowLen)
		for y, taps := range wts {
			clear(acc)
			for _, t := range taps {
				src := img.Pix[t.index*rowLen : (t.index+1)*rowLen]
				for i, v := range src {
					acc[i] += float64(v) * t.weight
				}
			}
			dst := out.Pix[y*rowLen : (y+1)*rowLen]
			for i, a := range acc {
				dst[i] = clampRound(a)
			}
		}
		img = out
	}
	return img
}
