package augment

import (
	"fmt"
	"math"
)

// Shape is the shape of every stored image: H rows, W columns, C channels,
// laid out HWC as H·W·C uint8 bytes.
type Shape struct{ H, W, C int }

func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.H, s.W, s.C) }

// Kind selects one of the OpenOOD transforms.
type Kind int

const (
	// KindTest is ToTensor + Normalize of the stored pixels (the pipeline has
	// already resized and centre-cropped them).
	KindTest Kind = iota
	// KindCrop is RandomHorizontalFlip(0.5) then RandomCrop(size,
	// padding, fill 0), then ToTensor + Normalize: OpenOOD's CIFAR/MNIST
	// training branch.
	KindCrop
	// KindResizedCrop is RandomResizedCrop(size, scale, ratio, bilinear)
	// then RandomHorizontalFlip(0.5), then ToTensor + Normalize: OpenOOD's
	// ImageNet training branch.
	KindResizedCrop
)

func (k Kind) String() string {
	switch k {
	case KindTest:
		return "test"
	case KindCrop:
		return "crop"
	case KindResizedCrop:
		return "resized-crop"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Transform describes a transform; build one with CropTransform,
// ResizedCropTransform or TestTransform and adjust fields as needed.
type Transform struct {
	Kind Kind
	// Size is the output height and width. 0 keeps the stored H×W (KindTest,
	// KindCrop); KindResizedCrop needs it.
	Size int
	// Padding is KindCrop's zero padding on every side (OpenOOD: 4). The
	// padded pixels are value 0 before normalisation, i.e. −mean/std after.
	Padding int
	// Scale and Ratio are KindResizedCrop's ranges of the crop's area fraction
	// and aspect ratio w/h (torchvision defaults (0.08, 1) and (3/4, 4/3)).
	Scale, Ratio [2]float64
	// NoFlip turns off the random horizontal flip. OpenOOD flips every
	// dataset, MNIST digits included, so flipping is the default.
	NoFlip bool
	// Norm is the normalisation applied after ToTensor.
	Norm Norm
	// OutChannels is the number of output channels: 0 keeps the stored
	// channel count; 3 with 1-channel images replicates the grey channel, as
	// PIL's convert('RGB') does in OpenOOD.
	OutChannels int
}

// CropTransform is OpenOOD's small-image training transform:
// RandomHorizontalFlip(0.5), RandomCrop(size, padding 4), ToTensor, Normalize.
// size 0 keeps the stored size.
func CropTransform(size int, norm Norm) Transform {
	return Transform{Kind: KindCrop, Size: size, Padding: 4, Norm: norm}
}

// ResizedCropTransform is OpenOOD's ImageNet training transform:
// RandomResizedCrop(size, scale (0.08, 1), ratio (3/4, 4/3), bilinear),
// RandomHorizontalFlip(0.5), ToTensor, Normalize.
func ResizedCropTransform(size int, norm Norm) Transform {
	return Transform{Kind: KindResizedCrop, Size: size, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, Norm: norm}
}

// TestTransform is OpenOOD's evaluation transform on stored (already resized
// and centre-cropped) pixels: ToTensor, Normalize.
func TestTransform(norm Norm) Transform {
	return Transform{Kind: KindTest, Norm: norm}
}

// Params are the random choices of one sample.
type Params struct {
	Flip bool
	// KindCrop: Top, Left is the crop's corner in the padded image, in
	// [0, H+2·Padding−Size] × [0, W+2·Padding−Size].
	// KindResizedCrop: Top, Left, Height, Width is the box in the stored
	// image that is resized to Size×Size.
	Top, Left, Height, Width int
}

// Augmenter applies one Transform to images of one Shape. It owns resize
// scratch, so one Augmenter must not be used by two goroutines at once; Clone
// gives another goroutine its own.
type Augmenter struct {
	t                Transform
	in               Shape
	outC, outH, outW int
	luts             []*[256]float32 // per output channel
	srcCh            []int           // stored channel of each output channel
	rs               resizer
	r                rng // Draw's generator
}

// NewAugmenter checks t against the stored image shape and precomputes the
// normalisation tables.
func NewAugmenter(t Transform, in Shape) (*Augmenter, error) {
	if in.H <= 0 || in.W <= 0 || (in.C != 1 && in.C != 3) {
		return nil, fmt.Errorf("augment: image shape %v, want H, W > 0 and C 1 or 3", in)
	}
	a := &Augmenter{t: t, in: in, outC: t.OutChannels}
	if a.outC == 0 {
		a.outC = in.C
	}
	if a.outC != in.C && !(in.C == 1 && a.outC == 3) {
		return nil, fmt.Errorf("augment: %d output channels from %d-channel images (only 1 → 3 replication is supported)", a.outC, in.C)
	}
	if t.Size < 0 {
		return nil, fmt.Errorf("augment: output size %d, want ≥ 0", t.Size)
	}
	a.outH, a.outW = in.H, in.W
	if t.Size > 0 {
		a.outH, a.outW = t.Size, t.Size
	}
	switch t.Kind {
	case KindTest:
		if a.outH != in.H || a.outW != in.W {
			return nil, fmt.Errorf("augment: test transform does not resize: output %d×%d, stored images %v", a.outH, a.outW, in)
		}
	case KindCrop:
		if t.Padding < 0 {
			return nil, fmt.Errorf("augment: crop padding %d, want ≥ 0", t.Padding)
		}
		if in.H+2*t.Padding < a.outH || in.W+2*t.Padding < a.outW {
			return nil, fmt.Errorf("augment: crop %d×%d larger than the padded image (%v, padding %d)", a.outH, a.outW, in, t.Padding)
		}
	case KindResizedCrop:
		if t.Size == 0 {
			return nil, fmt.Errorf("augment: resized crop needs an output size")
		}
		if !(0 < t.Scale[0] && t.Scale[0] <= t.Scale[1] && t.Scale[1] <= 1) {
			return nil, fmt.Errorf("augment: resized crop scale %v, want 0 < lo ≤ hi ≤ 1", t.Scale)
		}
		if !(0 < t.Ratio[0] && t.Ratio[0] <= t.Ratio[1]) {
			return nil, fmt.Errorf("augment: resized crop ratio %v, want 0 < lo ≤ hi", t.Ratio)
		}
	default:
		return nil, fmt.Errorf("augment: unknown transform kind %d", int(t.Kind))
	}
	mean, std, err := t.Norm.channels(a.outC)
	if err != nil {
		return nil, err
	}
	a.luts = make([]*[256]float32, a.outC)
	a.srcCh = make([]int, a.outC)
	for k := range a.outC {
		a.luts[k] = lut(mean[k], std[k])
		if in.C > 1 {
			a.srcCh[k] = k
		}
	}
	return a, nil
}

// Clone returns an Augmenter with the same transform and its own scratch.
func (a *Augmenter) Clone() *Augmenter {
	b := *a
	b.rs = resizer{}
	return &b
}

// InShape is the stored image shape.
func (a *Augmenter) InShape() Shape { return a.in }

// OutShape is the shape of one output sample, CHW.
func (a *Augmenter) OutShape() (c, h, w int) { return a.outC, a.outH, a.outW }

// Transform is the transform a applies.
func (a *Augmenter) Transform() Transform { return a.t }

// Draw returns the random choices of dataset row index in epoch epoch. They
// depend only on (seed, epoch, index) and the transform. Draw order: flip
// then crop offsets (KindCrop, as torchvision's flip-then-crop); box then
// flip (KindResizedCrop). The flip coin is drawn even with NoFlip, so turning
// flips off does not move the crops.
func (a *Augmenter) Draw(seed uint64, epoch, index int) Params {
	a.r = sampleRNG(seed, epoch, index)
	r := &a.r // a field, so handing it to resizedCropBox's interface does not allocate
	var p Params
	switch a.t.Kind {
	case KindCrop:
		p.Flip = r.float64() < 0.5
		p.Top = r.intn(a.in.H + 2*a.t.Padding - a.outH + 1)
		p.Left = r.intn(a.in.W + 2*a.t.Padding - a.outW + 1)
	case KindResizedCrop:
		p.Top, p.Left, p.Height, p.Width = resizedCropBox(a.in.H, a.in.W, a.t.Scale, a.t.Ratio, r)
		p.Flip = r.float64() < 0.5
	}
	if a.t.NoFlip {
		p.Flip = false
	}
	return p
}

// boxSource is the randomness resizedCropBox consumes.
type boxSource interface {
	uniform(lo, hi float64) float64
	intn(n int) int
}

// resizedCropBox is torchvision's RandomResizedCrop.get_params: up to 10
// attempts with an area fraction uniform in scale and a log-uniform aspect
// ratio, kept when the box fits; then the centre-crop fallback. Values that
// torch holds in float32 tensors are rounded to float32 here too; Python's
// round() is round-half-even.
func resizedCropBox(h, w int, scale, ratio [2]float64, r boxSource) (top, left, bh, bw int) {
	area := float64(h) * float64(w)
	logLo := float64(float32(math.Log(float64(float32(ratio[0])))))
	logHi := float64(float32(math.Log(float64(float32(ratio[1])))))
	for range 10 {
		target := area * float64(float32(r.uniform(scale[0], scale[1])))
		aspect := float64(float32(math.Exp(float64(float32(r.uniform(logLo, logHi))))))
		cw := roundHalfEven(math.Sqrt(target * aspect))
		ch := roundHalfEven(math.Sqrt(target / aspect))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			top = r.intn(h - ch + 1)
			left = r.intn(w - cw + 1)
			return top, left, ch, cw
		}
	}
	inRatio := float64(w) / float64(h)
	switch {
	case inRatio < ratio[0]:
		bw = w
		bh = roundHalfEven(float64(bw) / ratio[0])
	case inRatio > ratio[1]:
		bh = h
		bw = roundHalfEven(float64(bh) * ratio[1])
	default:
		bw, bh = w, h
	}
	return (h - bh) / 2, (w - bw) / 2, bh, bw
}

// Apply writes the transformed image img (stored shape, HWC uint8) into dst
// (OutShape, CHW float32) with the choices p.
func (a *Augmenter) Apply(dst []float32, img []uint8, p Params) error {
	in := a.in
	if len(img) != in.H*in.W*in.C {
		return fmt.Errorf("augment: image has %d bytes, want %v = %d", len(img), in, in.H*in.W*in.C)
	}
	if n := a.outC * a.outH * a.outW; len(dst) != n {
		return fmt.Errorf("augment: output has %d values, want %d×%d×%d = %d", len(dst), a.outC, a.outH, a.outW, n)
	}
	switch a.t.Kind {
	case KindTest:
		a.normalize(dst, img, a.outH, a.outW, false)
	case KindCrop:
		pad := a.t.Padding
		if p.Top < 0 || p.Top > in.H+2*pad-a.outH || p.Left < 0 || p.Left > in.W+2*pad-a.outW {
			return fmt.Errorf("augment: crop corner (%d, %d) outside [0, %d]×[0, %d]", p.Top, p.Left, in.H+2*pad-a.outH, in.W+2*pad-a.outW)
		}
		a.crop(dst, img, p)
	case KindResizedCrop:
		if p.Height <= 0 || p.Width <= 0 || p.Top < 0 || p.Left < 0 || p.Top+p.Height > in.H || p.Left+p.Width > in.W {
			return fmt.Errorf("augment: resized-crop box (top %d, left %d, %d×%d) outside the %v image", p.Top, p.Left, p.Height, p.Width, in)
		}
		out := a.rs.resize(img, in.W, in.C, p.Top, p.Left, p.Height, p.Width, a.outH, a.outW)
		a.normalize(dst, out, a.outH, a.outW, p.Flip)
	}
	return nil
}

// normalize writes the h×w HWC image src (a.in.C channels) as CHW through the
// lookup tables, mirrored left-right when flip.
func (a *Augmenter) normalize(dst []float32, src []uint8, h, w int, flip bool) {
	c := a.in.C
	plane := h * w
	if c == 3 && a.outC == 3 {
		a.normalize3(dst, src, h, w, flip)
		return
	}
	for k := range a.outC {
		t := a.luts[k]
		out := dst[k*plane : (k+1)*plane]
		for y := range h {
			row := out[y*w : (y+1)*w]
			srow := src[y*w*c : (y+1)*w*c]
			s, step := a.srcCh[k], c
			if flip {
				s, step = (w-1)*c+a.srcCh[k], -c
			}
			for x := range row {
				row[x] = t[srow[s]]
				s += step
			}
		}
	}
}

// normalize3 is normalize for RGB: one pass over the pixels writes all three
// planes.
func (a *Augmenter) normalize3(dst []float32, src []uint8, h, w int, flip bool) {
	plane := h * w
	t0, t1, t2 := a.luts[0], a.luts[1], a.luts[2]
	d0, d1, d2 := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := range h {
		r0, r1, r2 := d0[y*w:(y+1)*w], d1[y*w:(y+1)*w], d2[y*w:(y+1)*w]
		r1, r2 = r1[:len(r0)], r2[:len(r0)]
		srow := src[y*w*3 : (y+1)*w*3]
		if !flip {
			srow = srow[:3*len(r0)]
			for x := range r0 {
				px := srow[3*x : 3*x+3 : 3*x+3]
				r0[x], r1[x], r2[x] = t0[px[0]], t1[px[1]], t2[px[2]]
			}
		} else {
			s := (w - 1) * 3
			for x := range r0 {
				px := srow[s : s+3 : s+3]
				r0[x], r1[x], r2[x] = t0[px[0]], t1[px[1]], t2[px[2]]
				s -= 3
			}
		}
	}
}

// crop is the fused flip + pad + crop + ToTensor + Normalize pass: output
// pixel (y, x) is the flipped image at (Top−pad+y, Left−pad+x), or the zero
// pixel outside it.
func (a *Augmenter) crop(dst []float32, img []uint8, p Params) {
	H, W, C := a.in.H, a.in.W, a.in.C
	oh, ow, pad := a.outH, a.outW, a.t.Padding
	plane := oh * ow
	// Output columns that fall inside the image.
	x0 := min(max(0, pad-p.Left), ow)
	x1 := max(min(ow, W+pad-p.Left), x0)
	if C == 3 && a.outC == 3 {
		a.crop3(dst, img, p, x0, x1)
		return
	}
	for k := range a.outC {
		t := a.luts[k]
		zero := t[0]
		out := dst[k*plane : (k+1)*plane]
		for y := range oh {
			row := out[y*ow : (y+1)*ow]
			sy := p.Top - pad + y
			if sy < 0 || sy >= H {
				fill(row, zero)
				continue
			}
			fill(row[:x0], zero)
			fill(row[x1:], zero)
			srow := img[sy*W*C : (sy+1)*W*C]
			mid := row[x0:x1]
			if !p.Flip {
				s := (p.Left-pad+x0)*C + a.srcCh[k]
				for x := range mid {
					mid[x] = t[srow[s]]
					s += C
				}
			} else {
				s := (W-1-(p.Left-pad+x0))*C + a.srcCh[k]
				for x := range mid {
					mid[x] = t[srow[s]]
					s -= C
				}
			}
		}
	}
}

// crop3 is crop for RGB: one pass over each source row writes all three
// planes.
func (a *Augmenter) crop3(dst []float32, img []uint8, p Params, x0, x1 int) {
	H, W := a.in.H, a.in.W
	oh, ow, pad := a.outH, a.outW, a.t.Padding
	plane := oh * ow
	t0, t1, t2 := a.luts[0], a.luts[1], a.luts[2]
	d0, d1, d2 := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := range oh {
		r0, r1, r2 := d0[y*ow:(y+1)*ow], d1[y*ow:(y+1)*ow], d2[y*ow:(y+1)*ow]
		sy := p.Top - pad + y
		if sy < 0 || sy >= H {
			fill(r0, t0[0])
			fill(r1, t1[0])
			fill(r2, t2[0])
			continue
		}
		fill(r0[:x0], t0[0])
		fill(r1[:x0], t1[0])
		fill(r2[:x0], t2[0])
		fill(r0[x1:], t0[0])
		fill(r1[x1:], t1[0])
		fill(r2[x1:], t2[0])
		srow := img[sy*W*3 : (sy+1)*W*3]
		m0, m1, m2 := r0[x0:x1], r1[x0:x1], r2[x0:x1]
		m1, m2 = m1[:len(m0)], m2[:len(m0)]
		if !p.Flip {
			src := srow[(p.Left-pad+x0)*3:]
			src = src[:3*len(m0)]
			for x := range m0 {
				px := src[3*x : 3*x+3 : 3*x+3]
				m0[x], m1[x], m2[x] = t0[px[0]], t1[px[1]], t2[px[2]]
			}
		} else {
			s := (W - 1 - (p.Left - pad + x0)) * 3
			for x := range m0 {
				px := srow[s : s+3 : s+3]
				m0[x], m1[x], m2[x] = t0[px[0]], t1[px[1]], t2[px[2]]
				s -= 3
			}
		}
	}
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}
