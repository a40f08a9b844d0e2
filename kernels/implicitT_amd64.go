//go:build !noasm

package kernels

import "unsafe"

// packSameT16AVX512 packs blocks of 16 pixels × 16 lowered rows of one
// image, transposed, into a 32-wide sliver (implicitT_amd64.s).
//
//go:noescape
func packSameT16AVX512(dst, x *float32, q0 int, rowOff, rowKK *int32, mtab *uint16, kk1, blocks int)

// packSameT32 is SameTPacker.PackB for 32-wide slivers with AVX-512: runs of
// whole 16-pixel blocks inside one image go straight to dst; the rest
// (block tails, blocks straddling two images) is packed a block at a time
// into scratch and the rows that belong to the run copied.
func packSameT32(t *SameTPacker, dst []float32, pc, jc, kc, nc int) bool {
	if !packSame32Fast {
		return false
	}
	g := t.s.g
	k, kk, p, img := g.C*g.KH*g.KW, g.KH*g.KW, g.H*g.W, g.C*g.H*g.W
	var off, khw [32]int32
	var tmp [16 * 32]float32
	mt := unsafe.SliceData(t.mtab)
	_ = t.mtab[(p-1)*(kk+1)+kk]
	for sl := 0; sl*32 < nc; sl++ {
		r0 := jc + sl*32
		for i := range 32 {
			off[i], khw[i] = 0, int32(kk)
			if r := r0 + i; r < min(k, jc+nc) {
				off[i], khw[i] = t.s.rowOff[r], t.s.rowKK[r]
			}
		}
		d := dst[sl*32*kc : (sl+1)*32*kc]
		for q := 0; q < kc; {
			j, qi := (pc+q)/p, (pc+q)%p
			x := unsafe.SliceData(t.s.x[j*img:])
			if nb := min(kc-q, p-qi) / 16; nb > 0 {
				_ = d[(q+16*nb)*32-1]
				packSameT16AVX512(&d[q*32], x, qi, &off[0], &khw[0], mt, kk+1, nb)
				packSameT16AVX512(&d[q*32+16], x, qi, &off[16], &khw[16], mt, kk+1, nb)
				q += 16 * nb
				continue
			}
			// Fewer than 16 pixels left in this image or in the block: pack
			// the 16 pixels from qi (lanes past the image are masked off)
			// and keep the first n.
			n := min(kc-q, p-qi)
			packSameT16AVX512(&tmp[0], x, qi, &off[0], &khw[0], mt, kk+1, 1)
			packSameT16AVX512(&tmp[16], x, qi, &off[16], &khw[16], mt, kk+1, 1)
			copy(d[q*32:(q+n)*32], tmp[:n*32])
			q += n
		}
	}
	return true
}
