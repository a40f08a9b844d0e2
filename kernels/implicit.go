package kernels

// SamePacker is the BPacker of a stride-1 "same" convolution (2·PadH =
// KH−1, 2·PadW = KW−1; output H×W) over a run of consecutive images: B is
// the images' lowered matrices Im2col(g, x_j) side by side, (C·KH·KW) ×
// (images·H·W), packed straight from x, so the product never writes or
// reads a lowered matrix (implicit GEMM). Row (c,kh,kw) of B is plane c
// shifted by (kh−PadH, kw−PadW) with zeros where the shift leaves the
// image: with the AVX-512 micro-kernel every packed sliver row is two masked
// 16-lane loads at a constant offset (four where a sliver straddles two
// images).
//
// Reset sets the geometry and image count (tables are rebuilt only when they
// change), then SetImages the images before each product. The zero value is
// ready for Reset.
type SamePacker struct {
	g      ConvGeom
	images int
	x      []float32
	// rounded: x holds bfloat16 values (SetImagesBF16), so PackBPairs
	// pairs their upper halves without rounding.
	rounded bool
	*sameTables
	cache map[sameKey]*sameTables // every geometry seen (a network has a handful)
}

type sameKey struct {
	g      ConvGeom
	images int
}

// sameTables are the packing tables of one geometry and image count.
type sameTables struct {
	rowOff []int32 // per lowered row (c,kh,kw): c·H·W + (kh−PadH)·W + (kw−PadW)
	rowKK  []int32 // per lowered row: kh·KW + kw
	// Per 32-column sliver s and kk = kh·KW+kw: bit i of masks[2(s·KK+kk)]
	// is set when column 32s+i reads inside its image and that image is the
	// sliver's first, of masks[2(s·KK+kk)+1] when it is the next image.
	masks []uint32
	first []int32 // per sliver: its first image
}

// SameConv reports whether g is a stride-1 same convolution (SamePacker's
// geometry).
func SameConv(g ConvGeom) bool {
	return g.StrideH == 1 && g.StrideW == 1 && 2*g.PadH == g.KH-1 && 2*g.PadW == g.KW-1 &&
		g.C >= 1 && g.H >= 1 && g.W >= 1
}

// SamePackable reports whether SamePacker handles images images of
// geometry g: a same convolution, and no 32-column sliver spans more than
// two images (one image, maps of at least 32 pixels, or e.g. 16 or 24).
func SamePackable(g ConvGeom, images int) bool {
	if !SameConv(g) || images < 1 {
		return false
	}
	p := g.H * g.W
	for q := 0; q < images*p; q += 32 {
		if (min(q+32, images*p)-1)/p-q/p > 1 {
			return false
		}
	}
	return true
}

// Reset sets the convolution geometry and the number of images of the next
// products. It panics unless SamePackable(g, images). Tables are built once
// per geometry and image count and kept.
func (s *SamePacker) Reset(g ConvGeom, images int) {
	if !SamePackable(g, images) {
		panic("kernels: SamePacker: not a stride-1 same convolution, or slivers spanning three images")
	}
	if g == s.g && images == s.images && s.sameTables != nil {
		return
	}
	s.g, s.images = g, images
	key := sameKey{g, images}
	if t := s.cache[key]; t != nil {
		s.sameTables = t
		return
	}
	if s.cache == nil {
		s.cache = map[sameKey]*sameTables{}
	}
	s.sameTables = &sameTables{}
	s.cache[key] = s.sameTables
	k, kk := g.C*g.KH*g.KW, g.KH*g.KW
	s.rowOff = make([]int32, k)
	s.rowKK = make([]int32, k)
	for r := range k {
		c, khw := r/kk, r%kk
		kh, kw := khw/g.KW, khw%g.KW
		s.rowOff[r] = int32(c*g.H*g.W + (kh-g.PadH)*g.W + (kw - g.PadW))
		s.rowKK[r] = int32(khw)
	}
	p := g.H * g.W
	slivers := (images*p + 31) / 32
	s.masks = make([]uint32, 2*slivers*kk)
	s.first = make([]int32, slivers)
	for sl := range slivers {
		j0 := sl * 32 / p
		s.first[sl] = int32(j0)
		for khw := range kk {
			dy, dx := khw/g.KW-g.PadH, khw%g.KW-g.PadW
			var ma, mb uint32
			for i := range 32 {
				q := sl*32 + i
				if q >= images*p || !inImage(g, q%p, dy, dx) {
					continue
				}
				if q/p == j0 {
					ma |= 1 << i
				} else {
					mb |= 1 << i
				}
			}
			s.masks[2*(sl*kk+khw)], s.masks[2*(sl*kk+khw)+1] = ma, mb
		}
	}
}

// inImage reports whether output pixel q shifted by (dy, dx) lies inside the
// H×W image.
func inImage(g ConvGeom, q, dy, dx int) bool {
	y, x := q/g.W+dy, q%g.W+dx
	return y >= 0 && y < g.H && x >= 0 && x < g.W
}

// SetImages sets the images (images × (C, H, W), contiguous) the next
// products read. It panics when x is too short.
func (s *SamePacker) SetImages(x []float32) {
	if s.sameTables == nil || len(x) < s.images*s.g.C*s.g.H*s.g.W {
		panic("kernels: SamePacker: images too short for the geometry (or no Reset)")
	}
	s.x, s.rounded = x, false
}

// SetImagesBF16 is SetImages for images already rounded to bfloat16 as
// RoundBF16To writes them (every value's low 16 bits zero): PackBPairs then
// only pairs the upper halves, a cheaper pass with the same result as
// SetImages on the unrounded images (rounding is idempotent). PackB packs
// the values as they are. Values that are not bfloat16 give undefined pairs.
func (s *SamePacker) SetImagesBF16(x []float32) {
	s.SetImages(x)
	s.rounded = true
}

// Fast reports whether PackB has a vectorised path for slivers nr wide on
// this CPU and build (otherwise it packs lane by lane, slower than lowering
// the image with Im2col and packing that).
func (s *SamePacker) Fast(nr int) bool { return nr == 32 && packSame32Fast }

// PackB packs the (pc, jc) kc×nc block of the lowered matrix (BPacker).
func (s *SamePacker) PackB(dst []float32, pc, jc, kc, nc, nr int) {
	if nr == 32 && packSame32(s, dst, pc, jc, kc, nc) {
		return
	}
	s.packGo(dst, pc, jc, kc, nc, nr)
}

// PackBPairs writes the (pc, jc) kc×nc block of the lowered matrix as
// bfloat16 pairs, exactly what packPairs makes of PackB's output (the layout
// of a BF16 product's B operand), in one pass over the images: the
// bfloat16 rounding fused into the implicit packing (pairBPacker). It
// reports false, writing nothing, where it has no fast path (nr ≠ 32 or no
// AVX-512); the product then packs and rounds in two passes.
func (s *SamePacker) PackBPairs(dst []uint32, pc, jc, kc, nc, nr int) bool {
	if nr != 32 || !packSame32Fast {
		return false
	}
	if len(dst) < (nc+31)/32*32*((kc+1)/2) {
		panic("kernels: SamePacker: PackBPairs destination too short")
	}
	return packSame32Pairs(s, dst, pc, jc, kc, nc)
}

// packGo is the pure-Go PackB for any nr: the lowered matrix's definition,
// lane by lane.
func (s *SamePacker) packGo(dst []float32, pc, jc, kc, nc, nr int) {
	g := s.g
	kk, p, img := g.KH*g.KW, g.H*g.W, g.C*g.H*g.W
	for sl := 0; sl*nr < nc; sl++ {
		d := dst[sl*nr*kc : (sl+1)*nr*kc]
		for pp := range kc {
			r := pc + pp
			khw := r % kk
			dy, dx := khw/g.KW-g.PadH, khw%g.KW-g.PadW
			off := int(s.rowOff[r])
			row := d[pp*nr : (pp+1)*nr]
			for i := range row {
				q := jc + sl*nr + i
				var v float32
				if q < jc+nc && inImage(g, q%p, dy, dx) {
					v = s.x[(q/p)*img+off+q%p]
				}
				row[i] = v
			}
		}
	}
}
