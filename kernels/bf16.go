package kernels

import (
	"fmt"
	"math"
)

// Precision is the arithmetic of a Gemm's products.
type Precision uint8

const (
	// FP32: float32 operands, float32 fused multiply-adds (the default).
	FP32 Precision = iota
	// BF16: operands rounded to bfloat16 (BF16Bits), products summed in
	// float32 pairs exactly as the AVX512_BF16 instruction VDPBF16PS does
	// (DotBF16); inputs and output float32.
	BF16
)

// String returns "fp32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// BF16Bits rounds x to bfloat16 as PyTorch's c10::BFloat16 does
// (round_to_nearest_even): the upper 16 bits of x after adding 0x7FFF plus
// the lowest kept bit, so ties go to even and values past the largest
// bfloat16 become ±Inf; every NaN becomes 0x7FC0. Subnormals are kept
// (rounded like normal numbers).
func BF16Bits(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16Float widens a bfloat16 to float32 (exact).
func BF16Float(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 is x rounded to bfloat16 and widened back: BF16Float(BF16Bits(x)).
func RoundBF16(x float32) float32 { return BF16Float(BF16Bits(x)) }

// RoundBF16To writes dst[i] = RoundBF16(src[i]) for every i < len(src)
// (dst must be at least as long; dst and src may be the same slice): each
// value's low 16 bits cleared after rounding, so a product's packing can
// take the upper halves as they are (SamePacker.SetImagesBF16).
func RoundBF16To(dst, src []float32) {
	dst = dst[:len(src)]
	i := 0
	if roundBF16Fast != nil {
		i = len(src) &^ 15
		roundBF16Fast(dst[:i], src[:i])
	}
	for ; i < len(src); i++ {
		dst[i] = RoundBF16(src[i])
	}
}

// bf16Pair packs two bfloat16 roundings into one VDPBF16PS operand: lo
// (the even k index) in the low half, hi in the high half.
func bf16Pair(lo, hi float32) uint32 {
	return uint32(BF16Bits(hi))<<16 | uint32(BF16Bits(lo))
}

// DotBF16 is one float32 lane of VDPBF16PS (Intel SDM, AVX512_BF16): with
// a and b each holding two bfloat16 (element 0 in the low half),
//
//	acc += a[1]·b[1]   then   acc += a[0]·b[0]
//
// each step a float32 fused multiply-add rounded to nearest even, with
// subnormal inputs (acc included) read as zero and a result that is tiny
// after rounding (|r| < 2⁻¹²⁶ with the exponent unbounded) flushed to a zero
// of its sign. The hardware's MXCSR is neither read nor written. This is the
// arithmetic of the BF16 Gemm; it is bit-exact with the instruction except
// for the payload of NaN results.
func DotBF16(acc float32, a, b uint32) float32 {
	acc = dotStep(acc, a>>16, b>>16)
	return dotStep(acc, a&0xffff, b&0xffff)
}

const (
	minNormal32 = 0x1p-126
	expMask32   = 0x7f800000
)

// daz32 reads a subnormal as a zero of its sign.
func daz32(u uint32) float32 {
	if u&expMask32 == 0 {
		u &= 0x80000000
	}
	return math.Float32frombits(u)
}

// dotStep is acc + x·y for bfloat16 bits x, y with VDPBF16PS's rounding.
func dotStep(acc float32, x, y uint32) float32 {
	acc = daz32(math.Float32bits(acc))
	xf, yf := daz32(x<<16), daz32(y<<16)
	p := float64(xf) * float64(yf) // exact: 8-bit significands, exponents in float64 range
	ap := math.Abs(p)
	var r float32
	if p == 0 || ap >= minNormal32 && ap <= math.MaxFloat32 || math.IsNaN(p) || math.IsInf(p, 0) {
		// The product is a float32 (or zero, Inf, NaN): one float32 add is
		// the fused result; a tiny sum of these is exact, so the flush
		// below sees the unbounded-exponent rounding too.
		r = acc + float32(p)
	} else {
		r = fmaExact(p, acc)
	}
	if math.Float32bits(r)&expMask32 == 0 {
		r = math.Float32frombits(math.Float32bits(r) & 0x80000000)
	}
	return r
}

// fmaExact rounds p + c to float32 once (p exact in float64, finite), with a
// result that is tiny after rounding with an unbounded exponent returned as
// a subnormal or zero (dotStep flushes it).
func fmaExact(p float64, c float32) float32 {
	s, e := twoSum(p, float64(c))
	if math.IsInf(s, 0) {
		return float32(s)
	}
	// Round at 2⁶⁴ times the scale, where float32 has its full precision
	// for every tiny value: that decides tininess as the hardware does.
	const up = 0x1p64
	rs := round32(s*up, e*up)
	if math.Abs(float64(rs)) < minNormal32*up {
		return float32(math.Copysign(0, float64(rs)))
	}
	return round32(s, e)
}

// twoSum returns s = fl(a+b) and the exact error e = a + b − s.
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// round32 rounds the exact value s + e (|e| ≤ half an ulp of s in float64)
// to float32, nearest even: float32(s) except where s lies exactly halfway
// between two float32 values and e decides the side.
func round32(s, e float64) float32 {
	r := float32(s)
	if e == 0 || float64(r) == s {
		return r
	}
	if math.IsInf(float64(r), 0) {
		// s between the largest float32 and the overflow threshold.
		mid := math.MaxFloat32 + 0x1p103
		if math.Abs(s) == mid && (e < 0) == (s > 0) {
			return float32(math.Copysign(math.MaxFloat32, s))
		}
		return r
	}
	var r2 float32
	if float64(r) < s {
		r2 = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		r2 = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if (float64(r)+float64(r2))/2 != s {
		return r
	}
	if (e > 0) == (r2 > r) {
		return r2
	}
	return r
}

// fma32 returns a·b + c rounded once to float32 (nearest even, subnormals
// kept): VFMADD231PS, which the micro-kernels' stores use.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	if math.IsNaN(p) || math.IsInf(p, 0) || math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
		return float32(p + float64(c))
	}
	s, e := twoSum(p, float64(c))
	if math.IsInf(s, 0) {
		return float32(s)
	}
	return round32(s, e)
}
