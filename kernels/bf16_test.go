package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestBF16Bits checks the rounding against c10::BFloat16's
// round_to_nearest_even on hand-picked bit patterns.
func TestBF16Bits(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81}, // just above the tie
		{0x3f807fff, 0x3f80}, // just below
		{0xbf818000, 0xbf82}, // negative tie
		{0x7f7fffff, 0x7f80}, // largest float32 rounds to +Inf
		{0x7f7f7fff, 0x7f7f}, // stays finite
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00000, 0x7fc0}, // NaN
		{0xffc00001, 0x7fc0}, // negative NaN with payload
		{0x7f800001, 0x7fc0}, // signalling NaN
		{0x00008000, 0x0000}, // subnormal tie to even (zero)
		{0x00018000, 0x0002}, // subnormal tie to even
		{0x00000001, 0x0000}, // smallest subnormal
		{0x80000000, 0x8000}, // -0
	} {
		if got := BF16Bits(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("BF16Bits(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	if got := RoundBF16(1.00390625); got != 1 { // 1 + 2⁻⁸: a tie, to even
		t.Errorf("RoundBF16(1+2⁻⁸) = %v, want 1", got)
	}
}

// dotRefBig is Intel's definition of one VDPBF16PS lane with math/big:
// two fused multiply-adds, inputs read with subnormals as zero, each result
// rounded to 24 bits with an unbounded exponent (big.Float), flushed to
// zero when that is below 2⁻¹²⁶, else rounded again to float32 (which then
// changes nothing).
func dotRefBig(acc float32, a, b uint32) (float32, bool) {
	step := func(acc float32, x, y uint32) (float32, bool) {
		xf, yf, af := daz32(x<<16), daz32(y<<16), daz32(math.Float32bits(acc))
		for _, v := range []float32{xf, yf, af} {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, false
			}
		}
		bf := func(v float32) *big.Float { return new(big.Float).SetFloat64(float64(v)) }
		s := new(big.Float).SetPrec(1000).Mul(bf(xf), bf(yf))
		s.Add(s, bf(af))
		r := new(big.Float).SetPrec(24).SetMode(big.ToNearestEven).Set(s)
		if r.Sign() == 0 {
			// An exact zero sum is +0 (round to nearest) unless both terms are −0.
			if math.Signbit(float64(af)) && math.Signbit(float64(xf)) != math.Signbit(float64(yf)) {
				return float32(math.Copysign(0, -1)), true
			}
			return 0, true
		}
		if f, _ := r.Float64(); math.Abs(f) < minNormal32 {
			return float32(math.Copysign(0, f)), true
		}
		f, _ := r.Float32()
		if math.IsInf(float64(f), 0) {
			return 0, false // overflow: left to the instruction test
		}
		return f, true
	}
	r, ok := step(acc, a>>16, b>>16)
	if !ok {
		return 0, false
	}
	return step(r, a&0xffff, b&0xffff)
}

// randBF16 draws bfloat16 bit patterns rich in edge cases: zeros and
// subnormals, tiny normals, huge values, Inf and NaN, and ordinary values.
func randBF16(rng *rand.Rand) uint32 {
	s := uint32(rng.IntN(2)) << 15
	switch rng.IntN(10) {
	case 0:
		return s | uint32(rng.IntN(128))
	case 1:
		return s | uint32(0x0080+rng.IntN(0x200))
	case 2:
		return s | uint32(0x7f00+rng.IntN(0x100))
	}
	return s | uint32(0x3c00+rng.IntN(0x800))
}

func randAcc(rng *rand.Rand) uint32 {
	s := uint32(rng.IntN(2)) << 31
	switch rng.IntN(6) {
	case 0:
		return s | uint32(rng.IntN(1<<23))
	case 1:
		return s | uint32(0x00800000+rng.IntN(1<<25))
	case 2:
		return rng.Uint32()
	}
	return s | uint32(0x3c000000+rng.IntN(0x8000000))
}

// tinyDots are lanes whose result lands at the edge of the normal range,
// where the flush depends on rounding with an unbounded exponent.
var tinyDots = [][3]uint32{
	{0x00800000, 0x1a000000, 0x99800000}, // 2⁻¹²⁶ − 2⁻¹⁵¹: rounds to 2⁻¹²⁶, kept
	{0x00800000, 0x1a000000, 0x99c00000}, // 2⁻¹²⁶ − 1.5·2⁻¹⁵¹: rounds below, flushed
	{0x00800000, 0x1a000000, 0x9a800000}, // 2⁻¹²⁶ − 2⁻¹⁴⁹: subnormal, flushed
	{0x00000000, 0x20000000, 0x20000000}, // exactly 2⁻¹²⁶ from a product
	{0x80800000, 0x20000000, 0x20400000}, // −2⁻¹²⁶ + 1.5·2⁻¹²⁶
	{0x00400000, 0x3f800000, 0x3f800000}, // subnormal acc read as zero
	{0x3f800000, 0x00403f80, 0x3f803f80}, // subnormal operand read as zero
}

// TestDotBF16 checks the emulation against Intel's definition computed with
// math/big, on random lanes rich in edge cases and the tiny cases above.
func TestDotBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	check := func(acc, a, b uint32) {
		want, ok := dotRefBig(math.Float32frombits(acc), a, b)
		if !ok {
			return
		}
		got := DotBF16(math.Float32frombits(acc), a, b)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("DotBF16(%#08x, %#08x, %#08x) = %#08x, want %#08x", acc, a, b, math.Float32bits(got), math.Float32bits(want))
		}
	}
	for _, c := range tinyDots {
		check(c[0], c[1], c[2])
	}
	for range 100000 {
		check(randAcc(rng), randBF16(rng)<<16|randBF16(rng), randBF16(rng)<<16|randBF16(rng))
		if t.Failed() {
			return
		}
	}
}

// TestDotBF16Instruction checks the emulation against VDPBF16PS itself (on
// CPUs with AVX512_BF16), bit for bit except NaN payloads.
func TestDotBF16Instruction(t *testing.T) {
	if !hasDotBF16 {
		t.Skip("no AVX512_BF16 on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(16, 2))
	var acc, a, b [16]uint32
	for it := range 40000 {
		for i := range 16 {
			acc[i], a[i], b[i] = randAcc(rng), randBF16(rng)<<16|randBF16(rng), randBF16(rng)<<16|randBF16(rng)
			if it == 0 && i < len(tinyDots) {
				acc[i], a[i], b[i] = tinyDots[i][0], tinyDots[i][1], tinyDots[i][2]
			}
		}
		in := acc
		dotBF16x16(&acc[0], &a[0], &b[0])
		for i := range 16 {
			want := DotBF16(math.Float32frombits(in[i]), a[i], b[i])
			got := math.Float32frombits(acc[i])
			if math.IsNaN(float64(got)) && math.IsNaN(float64(want)) {
				continue
			}
			if acc[i] != math.Float32bits(want) {
				t.Fatalf("VDPBF16PS(%#08x, %#08x, %#08x) = %#08x, DotBF16 %#08x", in[i], a[i], b[i], acc[i], math.Float32bits(want))
			}
		}
	}
}

// bf16Kernels are the BF16 kernels to test: the one NewGemmPrecision picks
// for every float32 kernel, and the pure-Go emulation of each.
func bf16Kernels() []*microKernel {
	var ks []*microKernel
	for _, k := range availableKernels() {
		ks = append(ks, emulatedBF16(k))
		if b := bf16Kernel(k); b.dot != nil && b.name != k.name+"-bf16emu" {
			ks = append(ks, b)
		}
	}
	return ks
}

// runBF16Case checks one product of g against SgemmBF16Ref bit for bit, with
// NaN guards around C and in the gaps of A, B and C.
func runBF16Case(t *testing.T, g *Gemm, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	ar, ac := stored(tc.transA, tc.m, tc.k)
	br, bc := stored(tc.transB, tc.k, tc.n)
	lda, ldb, ldc := max(ac+tc.pad, 1), max(bc+tc.pad, 1), max(tc.n+tc.pad, 1)
	a := randMatrix(rng, ar, ac, lda)
	b := randMatrix(rng, br, bc, ldb)
	c0 := randMatrix(rng, tc.m, tc.n, ldc)
	if tc.beta == 0 {
		for i := range c0 {
			c0[i] = guard
		}
	}
	buf := make([]float32, guardLen+len(c0)+guardLen)
	for i := range buf {
		buf[i] = guard
	}
	c := buf[guardLen : guardLen+len(c0)]
	copy(c, c0)
	want := append([]float32(nil), c0...)
	SgemmBF16Ref(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	g.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	for i := range buf {
		idx := i - guardLen
		inside := idx >= 0 && idx < len(c) && idx/ldc < tc.m && idx%ldc < tc.n
		w := guard
		if inside {
			w = want[idx]
		}
		if math.Float32bits(buf[i]) != math.Float32bits(w) {
			t.Fatalf("%s %v: buffer offset %d (C index %d, inside %v) = %v, want %v", g.Kernel(), tc, i, idx, inside, buf[i], w)
		}
	}
}

// TestSgemmBF16 checks every BF16 kernel (the instruction and the
// emulations) on one and two goroutines against SgemmBF16Ref, bit for bit.
func TestSgemmBF16(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {1, 33, 5}, {9, 1, 4}, {5, 7, 3}, {8, 32, 16},
		{9, 33, 17}, {13, 31, 5}, {17, 64, 31}, {31, 47, 63}, {33, 65, 257}, {20, 40, 515},
		{150, 40, 30}, {2, 3100, 3},
	}
	ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.3}, {0, 0.7}, {2, 0}}
	for _, kern := range bf16Kernels() {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads%d", kern.name, threads), func(t *testing.T) {
				g := newGemmKernel(threads, kern)
				rng := rand.New(rand.NewPCG(7, 8))
				for si, s := range shapes {
					for tr := range 4 {
						p := ab[(si+tr)%len(ab)]
						runBF16Case(t, g, rng, gemmCase{tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], p[0], p[1], (si + tr) % 2 * 3})
					}
				}
				if threads == 2 {
					runBF16Case(t, g, rng, gemmCase{false, true, 64, 300, 60, 1, 1, 1})
					runBF16Case(t, g, rng, gemmCase{true, false, 600, 40, 64, 1, 0, 0})
				}
			})
		}
	}
}

// TestSgemmBF16Bound checks the derived error bound against float64 products.
func TestSgemmBF16Bound(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	g := NewGemmPrecision(1, BF16)
	if g.Precision() != BF16 {
		t.Fatalf("Precision() = %v, want bf16", g.Precision())
	}
	for _, s := range [][3]int{{7, 9, 11}, {16, 40, 300}, {3, 5, 1000}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(rng, m*k), randSlice(rng, k*n)
		c := make([]float32, m*n)
		g.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		worst := 0.0
		for i := range m {
			for j := range n {
				var exact, mag float64
				for p := range k {
					exact += float64(a[i*k+p]) * float64(b[p*n+j])
					mag += math.Abs(float64(a[i*k+p]) * float64(b[p*n+j]))
				}
				r := math.Abs(float64(c[i*n+j])-exact) / mag
				if r > BF16RelBound(k) {
					t.Fatalf("%v: C[%d,%d] = %v, exact %v: relative error %g > bound %g", s, i, j, c[i*n+j], exact, r, BF16RelBound(k))
				}
				worst = max(worst, r)
			}
		}
		t.Logf("%v: worst error %.3g of Σ|ab|, bound %.3g", s, worst, BF16RelBound(k))
	}
}

// TestSgemmPackedBF16 checks the implicit operand under BF16: bit for bit the
// product with the reference lowered matrix.
func TestSgemmPackedBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for _, kern := range bf16Kernels() {
		gm := newGemmKernel(1, kern)
		for _, g := range sameGeoms {
			images := packerImages(g)[len(packerImages(g))-1]
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			m := 5 + rng.IntN(12)
			x := randSlice(rng, images*g.C*g.H*g.W)
			a := randSlice(rng, m*k)
			col := lowered(g, x, images)
			var s SamePacker
			s.Reset(g, images)
			s.SetImages(x)
			for _, beta := range []float32{0, 1} {
				c0 := randSlice(rng, m*p)
				want := append([]float32(nil), c0...)
				SgemmBF16Ref(false, false, m, p, k, 1, a, k, col, p, beta, want, p)
				got := append([]float32(nil), c0...)
				gm.SgemmPacked(false, m, p, k, 1, a, k, &s, beta, got, p)
				checkSame(t, fmt.Sprintf("%s %+v beta %v", kern.name, g, beta), got, want)
			}
		}
	}
}

// TestPackPairs checks the pair packing (AVX-512 where available) against
// its definition on every sliver width, odd and even depths, and values
// that exercise the rounding: ties, NaN, ±Inf, overflow, subnormals.
func TestPackPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	special := []uint32{0x3f808000, 0x3f818000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000,
		0x7f7fffff, 0x00008000, 0x00018000, 0x80000000, 0x00000001}
	for _, w := range []int{4, 6, 8, 16, 32} {
		for _, kc := range []int{1, 2, 3, 16, 33} {
			slivers := 3
			src := make([]float32, slivers*w*kc)
			for i := range src {
				if rng.IntN(4) == 0 {
					src[i] = math.Float32frombits(special[rng.IntN(len(special))])
				} else {
					src[i] = math.Float32frombits(rng.Uint32())
				}
			}
			kc2 := (kc + 1) / 2
			dst := make([]uint32, slivers*w*kc2+1)
			dst[len(dst)-1] = 0xdeadbeef
			packPairs(dst, src, w, kc, slivers)
			for s := range slivers {
				for q := range kc2 {
					for j := range w {
						lo := src[s*w*kc+2*q*w+j]
						want := uint32(BF16Bits(lo))
						if 2*q+1 < kc {
							want |= uint32(BF16Bits(src[s*w*kc+(2*q+1)*w+j])) << 16
						}
						if got := dst[s*w*kc2+q*w+j]; got != want {
							t.Fatalf("w %d kc %d sliver %d row %d col %d: %#08x, want %#08x", w, kc, s, q, j, got, want)
						}
					}
				}
			}
			if dst[len(dst)-1] != 0xdeadbeef {
				t.Fatalf("w %d kc %d: wrote past the packed slivers", w, kc)
			}
		}
	}
}

// TestRoundBF16To checks the slice rounding (AVX-512 where the CPU has it,
// and the Go tail) against RoundBF16 bit for bit, in place and not, with a
// guard past the end.
func TestRoundBF16To(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	special := []uint32{0x3f808000, 0x3f818000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000,
		0x7f7fffff, 0x00008000, 0x00018000, 0x80000000, 0x00000001, 0x007fffff, 0x807fffff}
	for _, n := range []int{0, 1, 15, 16, 17, 48, 100} {
		src := make([]float32, n)
		for i := range src {
			if rng.IntN(3) == 0 {
				src[i] = math.Float32frombits(special[rng.IntN(len(special))])
			} else {
				src[i] = math.Float32frombits(rng.Uint32())
			}
		}
		dst := make([]float32, n+1)
		dst[n] = guard
		RoundBF16To(dst, src)
		inPlace := append([]float32(nil), src...)
		RoundBF16To(inPlace, inPlace)
		for i, v := range src {
			want := math.Float32bits(RoundBF16(v))
			if got := math.Float32bits(dst[i]); got != want {
				t.Fatalf("n %d: RoundBF16To[%d] of %#08x = %#08x, want %#08x", n, i, math.Float32bits(v), got, want)
			}
			if got := math.Float32bits(inPlace[i]); got != want {
				t.Fatalf("n %d, in place: [%d] of %#08x = %#08x, want %#08x", n, i, math.Float32bits(v), got, want)
			}
		}
		if math.Float32bits(dst[n]) != math.Float32bits(guard) {
			t.Fatalf("n %d: wrote past the end", n)
		}
	}
}

// TestPackPairsRows checks the one-pass pairing of a plain B's full sliver
// against packB then packPairs (the two-pass packing it replaces), bit for
// bit, with special values, odd depths and the Go path alone.
func TestPackPairsRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	special := []uint32{0x3f808000, 0x3f818000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000,
		0x7f7fffff, 0x00008000, 0x00018000, 0x80000000, 0x00000001}
	fast := packPairsRowsFast
	defer func() { packPairsRowsFast = fast }()
	kern := &microKernel{name: "ref32", mr: 8, nr: 32} // packB's Go loops, 32-wide slivers
	for _, withFast := range []bool{true, false} {
		if !withFast {
			packPairsRowsFast = nil
		}
		for _, kc := range []int{1, 2, 3, 16, 33} {
			ldb := 32 + 7
			b := make([]float32, (kc+1)*ldb)
			for i := range b {
				if rng.IntN(4) == 0 {
					b[i] = math.Float32frombits(special[rng.IntN(len(special))])
				} else {
					b[i] = math.Float32frombits(rng.Uint32())
				}
			}
			pc, jc := 1, 5
			f := make([]float32, 32*kc)
			packB(kern, f, nil, false, b, ldb, pc, jc, kc, 32)
			kc2 := (kc + 1) / 2
			want := make([]uint32, 32*kc2)
			packPairs(want, f, 32, kc, 1)
			got := make([]uint32, 32*kc2+1)
			got[len(got)-1] = 0xdeadbeef
			packPairsRows(got, b[pc*ldb+jc:], ldb, kc)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("fast %v kc %d: pair %d = %#08x, want %#08x", withFast, kc, i, got[i], want[i])
				}
			}
			if got[len(got)-1] != 0xdeadbeef {
				t.Fatalf("fast %v kc %d: wrote past the sliver", withFast, kc)
			}
		}
	}
}
