package kernels

// SameTPacker is the BPacker of a stride-1 same convolution's weight
// gradient, dW = dy·colᵀ: B = colᵀ, (images·H·W) × (C·KH·KW), where col is
// the lowered matrix SamePacker packs. A sliver holds 32 lowered rows
// (channel, kernel offset) over a run of pixels: with the AVX-512
// micro-kernel each 16×16 block is 16 masked row loads from the image and an
// in-register transpose, so the weight gradient needs no lowered matrix
// either.
//
// Reset and SetImages as for SamePacker; the zero value is ready for Reset.
type SameTPacker struct {
	s     SamePacker
	mtabs map[ConvGeom][]uint16
	// mtab[q·(KK+1) + kk], q < H·W: bit l set when pixel q+l (< H·W) shifted
	// by kernel offset kk lies inside the image; column KK is zero (the
	// rows past the matrix in a partial sliver).
	mtab []uint16
}

// Reset sets the geometry and image count (SamePacker.Reset).
func (t *SameTPacker) Reset(g ConvGeom, images int) {
	t.s.Reset(g, images)
	if m := t.mtabs[g]; m != nil {
		t.mtab = m
		return
	}
	kk, p := g.KH*g.KW, g.H*g.W
	m := make([]uint16, p*(kk+1))
	for q := range p {
		for k := range kk {
			dy, dx := k/g.KW-g.PadH, k%g.KW-g.PadW
			var bits uint16
			for l := 0; l < 16 && q+l < p; l++ {
				if inImage(g, q+l, dy, dx) {
					bits |= 1 << l
				}
			}
			m[q*(kk+1)+k] = bits
		}
	}
	if t.mtabs == nil {
		t.mtabs = map[ConvGeom][]uint16{}
	}
	t.mtabs[g] = m
	t.mtab = m
}

// SetImages sets the images the next products read (SamePacker.SetImages).
func (t *SameTPacker) SetImages(x []float32) { t.s.SetImages(x) }

// Fast reports whether PackB has a vectorised path for slivers nr wide.
func (t *SameTPacker) Fast(nr int) bool { return t.s.Fast(nr) }

// PackB packs the (pc, jc) kc×nc block of colᵀ (BPacker).
func (t *SameTPacker) PackB(dst []float32, pc, jc, kc, nc, nr int) {
	if nr == 32 && packSameT32(t, dst, pc, jc, kc, nc) {
		return
	}
	for sl := 0; sl*nr < nc; sl++ {
		d := dst[sl*nr*kc : (sl+1)*nr*kc]
		for p := range kc {
			for i := range nr {
				var v float32
				if j := sl*nr + i; j < nc {
					v = t.value(jc+j, pc+p)
				}
				d[p*nr+i] = v
			}
		}
	}
}

// value is colᵀ(q, r) = col[r][q]: lowered row r at column (pixel) q.
func (t *SameTPacker) value(r, q int) float32 {
	g := t.s.g
	kk, p, img := g.KH*g.KW, g.H*g.W, g.C*g.H*g.W
	khw := int(t.s.rowKK[r])
	if !inImage(g, q%p, khw/g.KW-g.PadH, khw%g.KW-g.PadW) {
		return 0
	}
	_ = kk
	return t.s.x[(q/p)*img+int(t.s.rowOff[r])+q%p]
}
