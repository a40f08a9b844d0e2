package augment

import "math"

// PIL's bilinear resampling of 8-bit images (Pillow libImaging/Resample.c),
// reproduced bit for bit: a separable two-pass convolution, horizontal pass
// first, with a triangle filter whose support grows with the downscale factor
// (antialiasing), coefficients normalised in float64 and then rounded to
// fixed point with 22 fraction bits, and each pass rounded and clipped to
// uint8.

const precisionBits = 32 - 8 - 2

// coeffs is the filter of one axis: for output position o, the input taps
// start at bounds[2o], there are bounds[2o+1] of them, with weights
// k[o*ksize : o*ksize+bounds[2o+1]].
type coeffs struct {
	ksize  int
	bounds []int
	k      []int32
	pre    []float64 // float64 scratch of the same size as k
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// compute fills c for resampling inSize input samples (the whole box [0,
// inSize)) to outSize outputs: precompute_coeffs followed by
// normalize_coeffs_8bpc.
func (c *coeffs) compute(inSize, outSize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1 * filterscale // the bilinear filter's support is 1
	ksize := int(math.Ceil(support))*2 + 1
	c.ksize = ksize
	c.bounds = grow(c.bounds, 2*outSize)
	c.k = grow(c.k, outSize*ksize)
	c.pre = grow(c.pre, outSize*ksize)
	ss := 1 / filterscale
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5) // C cast truncates toward zero
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		k := c.pre[xx*ksize : (xx+1)*ksize]
		ww := 0.0
		for x := range xmax {
			w := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			k[x] = w
			ww += w
		}
		for x := range xmax {
			if ww != 0 {
				k[x] /= ww
			}
		}
		for x := xmax; x < ksize; x++ {
			k[x] = 0
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
	for i, w := range c.pre[:outSize*ksize] {
		if w < 0 {
			c.k[i] = int32(-0.5 + w*(1<<precisionBits))
		} else {
			c.k[i] = int32(0.5 + w*(1<<precisionBits))
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizer holds the scratch of one goroutine's resizes.
type resizer struct {
	h, v coeffs
	tmp  []uint8
	out  []uint8
	acc  []int32 // one output row of the vertical pass
}

// resize resamples the box (top, left, bh, bw) of the HWC image src (width w,
// c channels) to oh×ow with PIL's bilinear filter and returns the oh·ow·c
// HWC result, valid until the next call. The box is treated as a separate
// image, as torchvision crops before resizing: taps never leave it.
func (r *resizer) resize(src []uint8, w, c, top, left, bh, bw, oh, ow int) []uint8 {
	r.h.compute(bw, ow)
	r.v.compute(bh, oh)
	r.out = grow(r.out, oh*ow*c)

	// The image the vertical pass reads: box row y is in[(y-rowOff)*stride:].
	in, stride, rowOff := src[(top*w+left)*c:], w*c, 0
	if ow != bw { // PIL's need_horizontal
		yFirst := r.v.bounds[0]
		yLast := r.v.bounds[2*oh-2] + r.v.bounds[2*oh-1]
		rows := yLast - yFirst
		r.tmp = grow(r.tmp, rows*ow*c)
		ks := r.h.ksize
		for y := range rows {
			srow := src[((top+yFirst+y)*w+left)*c:]
			drow := r.tmp[y*ow*c : (y+1)*ow*c]
			for xx := range ow {
				xmin, n := r.h.bounds[2*xx], r.h.bounds[2*xx+1]
				k := r.h.k[xx*ks : xx*ks+n]
				if c == 3 { // all three channels in one pass over the taps
					s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
					px := srow[xmin*3 : (xmin+n)*3]
					for i, kv := range k {
						p := px[3*i : 3*i+3 : 3*i+3]
						s0 += int32(p[0]) * kv
						s1 += int32(p[1]) * kv
						s2 += int32(p[2]) * kv
					}
					drow[xx*3], drow[xx*3+1], drow[xx*3+2] = clip8(s0), clip8(s1), clip8(s2)
					continue
				}
				for ch := range c {
					s := int32(1 << (precisionBits - 1))
					p := xmin*c + ch
					for _, kv := range k {
						s += int32(srow[p]) * kv
						p += c
					}
					drow[xx*c+ch] = clip8(s)
				}
			}
		}
		in, stride, rowOff = r.tmp, ow*c, yFirst
	}
	if oh == bh { // no vertical pass (its filter would be the identity)
		for y := range oh {
			copy(r.out[y*ow*c:(y+1)*ow*c], in[(y-rowOff)*stride:])
		}
		return r.out
	}
	ks := r.v.ksize
	r.acc = grow(r.acc, ow*c)
	for yy := range oh {
		ymin, n := r.v.bounds[2*yy]-rowOff, r.v.bounds[2*yy+1]
		k := r.v.k[yy*ks : yy*ks+n]
		drow := r.out[yy*ow*c : (yy+1)*ow*c]
		// Accumulate tap by tap over whole rows (sequential reads); the
		// integer sums are the same as PIL's per-pixel loop.
		acc := r.acc[:len(drow)]
		for x := range acc {
			acc[x] = 1 << (precisionBits - 1)
		}
		for i, kv := range k {
			src := in[(ymin+i)*stride:]
			src = src[:len(acc)]
			for x, v := range src {
				acc[x] += int32(v) * kv
			}
		}
		for x, v := range acc {
			drow[x] = clip8(v)
		}
	}
	return r.out
}
