package kernels

// SamePacker is the BPacker of a stride-1 "same" convolution (2·PadH =
// KH−1, 2·PadW = KW−1; output H×W) of one image: B is the image's lowered
// matrix Im2col(g, x), (C·KH·KW) × (H·W), packed straight from x, so the
// product never writes or reads the lowered matrix (implicit GEMM). Row
// (c,kh,kw) of B is plane c shifted by (kh−PadH, kw−PadW) with zeros where
// the shift leaves the image: with the AVX-512 micro-kernel every packed
// sliver row is two masked 16-lane loads at a constant offset.
//
// Reset sets the geometry (tables are rebuilt only when it changes), then
// SetImage the image before each product. The zero value is ready for Reset.
type SamePacker struct {
	g      ConvGeom
	x      []float32
	rowOff []int32  // per lowered row (c,kh,kw): c·H·W + (kh−PadH)·W + (kw−PadW)
	rowKK  []int32  // per lowered row: kh·KW + kw
	masks  []uint32 // per 32-pixel sliver s and kk: bit i set when pixel 32s+i reads inside the image
}

// SameConv reports whether g is a stride-1 same convolution (SamePacker's
// geometry).
func SameConv(g ConvGeom) bool {
	return g.StrideH == 1 && g.StrideW == 1 && 2*g.PadH == g.KH-1 && 2*g.PadW == g.KW-1 &&
		g.C >= 1 && g.H >= 1 && g.W >= 1
}

// Reset sets the convolution geometry. It panics unless SameConv(g).
func (s *SamePacker) Reset(g ConvGeom) {
	if !SameConv(g) {
		panic("kernels: SamePacker: not a stride-1 same convolution")
	}
	if g == s.g && s.rowOff != nil {
		return
	}
	s.g = g
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
	slivers := (p + 31) / 32
	s.masks = make([]uint32, slivers*kk)
	for sl := range slivers {
		for khw := range kk {
			dy, dx := khw/g.KW-g.PadH, khw%g.KW-g.PadW
			var m uint32
			for i := range 32 {
				q := sl*32 + i
				if q < p && inImage(g, q, dy, dx) {
					m |= 1 << i
				}
			}
			s.masks[sl*kk+khw] = m
		}
	}
}

// inImage reports whether output pixel q shifted by (dy, dx) lies inside the
// H×W image.
func inImage(g ConvGeom, q, dy, dx int) bool {
	y, x := q/g.W+dy, q%g.W+dx
	return y >= 0 && y < g.H && x >= 0 && x < g.W
}

// SetImage sets the image (C, H, W) the next products read. It panics when
// x is too short for the geometry.
func (s *SamePacker) SetImage(x []float32) {
	if len(x) < s.g.C*s.g.H*s.g.W || s.rowOff == nil {
		panic("kernels: SamePacker: image too short for the geometry (or no Reset)")
	}
	s.x = x
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

// packGo is the pure-Go PackB for any nr: the lowered matrix's definition,
// lane by lane.
func (s *SamePacker) packGo(dst []float32, pc, jc, kc, nc, nr int) {
	g := s.g
	kk := g.KH * g.KW
	for sl := 0; sl*nr < nc; sl++ {
		d := dst[sl*nr*kc : (sl+1)*nr*kc]
		for p := range kc {
			r := pc + p
			khw := r % kk
			dy, dx := khw/g.KW-g.PadH, khw%g.KW-g.PadW
			off := int(s.rowOff[r])
			row := d[p*nr : (p+1)*nr]
			for i := range row {
				q := jc + sl*nr + i
				var v float32
				if q < jc+nc && inImage(g, q, dy, dx) {
					v = s.x[off+q]
				}
				row[i] = v
			}
		}
	}
}
