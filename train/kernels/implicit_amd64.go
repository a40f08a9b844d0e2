//go:build !noasm

package kernels

import "unsafe"

// packSame32AVX512 packs one 32-wide sliver of a SamePacker's lowered
// matrix: for p < kc, dst[32p : 32p+32] = the 32 values at x[q0 +
// rowOff[p] + i] under masks[rowKK[p]] (zeros elsewhere). implicit_amd64.s.
//
//go:noescape
func packSame32AVX512(dst, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kc int)

// packSame32Fast: the AVX-512 packing is available.
var packSame32Fast = vecLevel >= 2

// packSame32 runs the AVX-512 packing when the CPU has it (the only kernel
// with 32-wide slivers is the AVX-512 one) and reports whether it did.
func packSame32(s *SamePacker, dst []float32, pc, jc, kc, nc int) bool {
	if vecLevel < 2 || kc == 0 {
		return vecLevel >= 2
	}
	kk := s.g.KH * s.g.KW
	_ = s.rowOff[pc+kc-1]
	_ = s.rowKK[pc+kc-1]
	for sl := 0; sl*32 < nc; sl++ {
		q0 := jc + sl*32
		m := s.masks[(q0/32)*kk : (q0/32+1)*kk]
		d := dst[sl*32*kc : (sl+1)*32*kc]
		packSame32AVX512(unsafe.SliceData(d), unsafe.SliceData(s.x), q0, &s.rowOff[pc], &s.rowKK[pc], unsafe.SliceData(m), kc)
	}
	return true
}
