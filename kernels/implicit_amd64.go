//go:build !noasm

package kernels

import "unsafe"

// packSame32AVX512 packs one 32-wide sliver of a SamePacker's lowered
// matrix: for p < kc, dst[32p : 32p+32] = the 32 values at x[q0 +
// rowOff[p] + i] under masks[2·rowKK[p]], and, when two != 0, merged with
// the values delta bytes further under masks[2·rowKK[p]+1] (the next
// image's columns); zeros elsewhere. implicit_amd64.s.
//
//go:noescape
func packSame32AVX512(dst, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kc, two, delta int)

// packSame32Fast: the AVX-512 packing is available.
var packSame32Fast = vecLevel >= 2

// packSame32 runs the AVX-512 packing when the CPU has it (the only kernel
// with 32-wide slivers is the AVX-512 one) and reports whether it did.
func packSame32(s *SamePacker, dst []float32, pc, jc, kc, nc int) bool {
	if vecLevel < 2 || kc == 0 {
		return vecLevel >= 2
	}
	g := s.g
	kk, p, img := g.KH*g.KW, g.H*g.W, g.C*g.H*g.W
	_ = s.rowOff[pc+kc-1]
	_ = s.rowKK[pc+kc-1]
	for sl := 0; sl*32 < nc; sl++ {
		q := jc + sl*32
		j0, m, two := s.sliver32(q, kk, p)
		// Lane i of image j0 reads x[j0·img + rowOff + (q − j0·p) + i]; of the
		// next image, (img − p) floats further.
		d := dst[sl*32*kc : (sl+1)*32*kc]
		packSame32AVX512(unsafe.SliceData(d), unsafe.SliceData(s.x), j0*img+q-j0*p, &s.rowOff[pc], &s.rowKK[pc], unsafe.SliceData(m), kc, two, 4*(img-p))
	}
	return true
}

// packSame32PairsAVX512 is packSame32AVX512 for 2·kq rows, rounded to
// bfloat16 pairs as it packs: dst[32q+i] = bf16Pair(row 2q lane i, row 2q+1
// lane i). implicit_amd64.s.
//
//go:noescape
func packSame32PairsAVX512(dst *uint32, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kq, two, delta int)

// packSame32PairsRoundedAVX512 is packSame32PairsAVX512 for images whose
// values are already rounded to bfloat16 (RoundBF16To): the same pairs,
// without rounding again. implicit_amd64.s.
//
//go:noescape
func packSame32PairsRoundedAVX512(dst *uint32, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kq, two, delta int)

// packSame32Pairs is PackBPairs's AVX-512 path (packSame32, then packPairs,
// in one pass); it reports whether it ran.
func packSame32Pairs(s *SamePacker, dst []uint32, pc, jc, kc, nc int) bool {
	if vecLevel < 2 || kc == 0 {
		return vecLevel >= 2
	}
	g := s.g
	kk, p, img := g.KH*g.KW, g.H*g.W, g.C*g.H*g.W
	kc2 := (kc + 1) / 2
	_ = s.rowOff[pc+kc-1]
	_ = s.rowKK[pc+kc-1]
	pairs := packSame32PairsAVX512
	if s.rounded {
		pairs = packSame32PairsRoundedAVX512
	}
	var tail [32]float32
	for sl := 0; sl*32 < nc; sl++ {
		q := jc + sl*32
		j0, m, two := s.sliver32(q, kk, p)
		d := dst[sl*32*kc2 : (sl+1)*32*kc2]
		q0 := j0*img + q - j0*p
		if kc >= 2 {
			pairs(unsafe.SliceData(d), unsafe.SliceData(s.x), q0, &s.rowOff[pc], &s.rowKK[pc], unsafe.SliceData(m), kc/2, two, 4*(img-p))
		}
		if kc%2 == 1 {
			// The last row pairs with a zero.
			packSame32AVX512(&tail[0], unsafe.SliceData(s.x), q0, &s.rowOff[pc+kc-1], &s.rowKK[pc+kc-1], unsafe.SliceData(m), 1, two, 4*(img-p))
			last := d[(kc2-1)*32 : kc2*32]
			for i, v := range tail {
				last[i] = uint32(BF16Bits(v))
			}
		}
	}
	return true
}

// sliver32 is the geometry of the 32 packed columns from q (a multiple of
// 32): the first image j0 they read, their padding masks m and whether they
// run into the next image (two = 1), for packSame32AVX512 and its pairs twin.
func (s *SamePacker) sliver32(q, kk, p int) (j0 int, m []uint32, two int) {
	si := q / 32
	j0 = int(s.first[si])
	m = s.masks[2*si*kk : 2*(si+1)*kk]
	if j0+1 < s.images && (j0+1)*p < q+32 {
		two = 1
	}
	return j0, m, two
}
