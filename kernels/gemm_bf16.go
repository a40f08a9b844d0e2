package kernels

import "fmt"

// BF16 products (Precision BF16). The operands are packed exactly as for
// float32 (packA, packB or a BPacker), then each packed block is rounded to
// bfloat16 pairs (packPairs): sliver s of width w and depth kc becomes
// kc2 = ⌈kc/2⌉ rows of w uint32, row q holding for column j the pair
// (op(X)(2q, j), op(X)(2q+1, j)) — element 2q in the low half, a zero when
// 2q+1 = kc. The micro-kernel then runs VDPBF16PS (or its emulation,
// DotBF16) over the pairs. C is stored as for float32: alpha·acc with
// beta == 0, else fma(alpha, acc, beta·C); K blocks after the first add to
// C with beta = 1. SgemmBF16Ref is the same arithmetic as a plain loop.

// dotKernel computes an mr×nr tile from pair-packed slivers (a: kc2 rows of
// MR, b: kc2 rows of NR) with the store of microKernel.run.
type dotKernel func(kc2 int, a, b []uint32, c []float32, ldc, mr, nr int, alpha, beta float32)

// withDot returns a copy of k (same tile, same packers) whose products are
// BF16, computed by dot.
func withDot(k *microKernel, name string, dot dotKernel) *microKernel {
	c := *k
	c.name, c.dot = name, dot
	return &c
}

// emulatedBF16 is k with the pure-Go BF16 tile (DotBF16 per pair).
func emulatedBF16(k *microKernel) *microKernel {
	mr, nr := k.mr, k.nr
	return withDot(k, k.name+"-bf16emu", func(kc2 int, a, b []uint32, c []float32, ldc, rows, cols int, alpha, beta float32) {
		dotTileGo(mr, nr, kc2, a, b, c, ldc, rows, cols, alpha, beta)
	})
}

// maxTile bounds mr·nr of every micro-kernel (8×32).
const maxTile = 256

// dotTileGo is the emulated BF16 micro-kernel for MR×NR slivers.
func dotTileGo(mr, nr, kc2 int, a, b []uint32, c []float32, ldc, rows, cols int, alpha, beta float32) {
	var acc [maxTile]float32
	a = a[:kc2*mr]
	b = b[:kc2*nr]
	for q := range kc2 {
		ar, br := a[q*mr:q*mr+rows], b[q*nr:q*nr+cols]
		for i, av := range ar {
			t := acc[i*nr : i*nr+cols]
			for j, bv := range br {
				t[j] = DotBF16(t[j], av, bv)
			}
		}
	}
	storeTile(acc[:], nr, rows, c, ldc, cols, alpha, beta, true)
}

// packPairs rounds packed slivers of width w (kc rows each, as packA/packB
// write them) to bfloat16 pairs: for every sliver, dst row q, column j is
// bf16Pair(src[2q·w+j], src[(2q+1)·w+j]) with a zero high half when 2q+1 = kc.
func packPairs(dst []uint32, src []float32, w, kc, slivers int) {
	kc2 := (kc + 1) / 2
	for s := range slivers {
		sv := src[s*w*kc : (s+1)*w*kc]
		dv := dst[s*w*kc2 : (s+1)*w*kc2]
		q := 0
		if packPairsFast != nil && kc >= 2 {
			packPairsFast(dv, sv, w, kc/2)
			q = kc / 2
		}
		for ; 2*q+1 < kc; q++ {
			lo, hi, d := sv[2*q*w:(2*q+1)*w], sv[(2*q+1)*w:(2*q+2)*w], dv[q*w:(q+1)*w]
			for j := range d {
				d[j] = bf16Pair(lo[j], hi[j])
			}
		}
		if kc%2 == 1 {
			lo, d := sv[(kc-1)*w:kc*w], dv[(kc2-1)*w:kc2*w]
			for j := range d {
				d[j] = uint32(BF16Bits(lo[j]))
			}
		}
	}
}

// packPairsRows writes the 32-wide sliver of a row-major B (rows ldb floats
// apart, its first column at b[0]) kc rows deep as bfloat16 pairs: what
// packB then packPairs write for a full sliver of an untransposed B, in one
// pass: dst[32q+j] = bf16Pair(b[2q·ldb+j], b[(2q+1)·ldb+j]), a zero high
// half when 2q+1 = kc.
func packPairsRows(dst []uint32, b []float32, ldb, kc int) {
	q := 0
	if packPairsRowsFast != nil && kc >= 2 {
		packPairsRowsFast(dst, b, kc/2, ldb)
		q = kc / 2
	}
	for ; 2*q+1 < kc; q++ {
		lo, hi, d := b[2*q*ldb:2*q*ldb+32], b[(2*q+1)*ldb:(2*q+1)*ldb+32], dst[32*q:32*q+32]
		for j := range d {
			d[j] = bf16Pair(lo[j], hi[j])
		}
	}
	if kc%2 == 1 {
		lo, d := b[(kc-1)*ldb:(kc-1)*ldb+32], dst[32*(kc/2):32*(kc/2)+32]
		for j := range d {
			d[j] = uint32(BF16Bits(lo[j]))
		}
	}
}

// pairBPacker is a BPacker that can also write its block straight as
// bfloat16 pairs (what packPairs makes of PackB's output), saving the
// float32 block's write and read; it reports false where it cannot.
type pairBPacker interface {
	PackBPairs(dst []uint32, pc, jc, kc, nc, nr int) bool
}

// gemmBF16 is gemmB for a kernel with BF16 products (kern.dot != nil).
func (w *gemmWorker) gemmBF16(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, pa *PackedA, b []float32, ldb int, pb BPacker, beta float32, c []float32, ldc int) {
	mr, nr := kern.mr, kern.nr
	if w.packA == nil {
		w.packA = make([]float32, (blockMC+mr)*blockKC)
		w.packB = make([]float32, (blockNC+nr)*blockKC)
		w.edge = make([]float32, max(mr, nr)*blockKC)
	}
	if w.pairsA == nil {
		w.pairsA = make([]uint32, (blockMC+mr)*blockKC/2)
		w.pairsB = make([]uint32, (blockNC+nr)*blockKC/2)
		w.sliver = make([]float32, nr*blockKC)
	}
	bn, bk, bm := evenBlock(n, blockNC, nr), evenBlock(k, blockKC, 4), evenBlock(m, blockMC, mr)
	for jc := 0; jc < n; jc += bn {
		nc := min(bn, n-jc)
		sb := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += bk {
			kc := min(bk, k-pc)
			kc2 := (kc + 1) / 2
			if pp, ok := pb.(pairBPacker); !ok || !pp.PackBPairs(w.pairsB[:sb*nr*kc2], pc, jc, kc, nc, nr) {
				// Sliver by sliver, so the float32 sliver is rounded while
				// it is in L1 (a whole float32 block would go to L3 and
				// back); the result is the block's packPairs.
				for s := range sb {
					j, ncs := jc+s*nr, min(nr, nc-s*nr)
					if pb == nil && !transB && nr == 32 && ncs == nr {
						// A full sliver of a plain B: rows paired as they
						// are read.
						packPairsRows(w.pairsB[s*nr*kc2:(s+1)*nr*kc2], b[pc*ldb+j:], ldb, kc)
						continue
					}
					if pb != nil {
						pb.PackB(w.sliver[:nr*kc], pc, j, kc, ncs, nr)
					} else {
						packB(kern, w.sliver, w.edge, transB, b, ldb, pc, j, kc, ncs)
					}
					packPairs(w.pairsB[s*nr*kc2:(s+1)*nr*kc2], w.sliver, nr, kc, 1)
				}
			}
			bet := blockBeta(beta, pc)
			for ic := 0; ic < m; ic += bm {
				mc := min(bm, m-ic)
				ap := w.pairsA
				if pa != nil {
					ap = pa.pairPanel(pc, ic, kc2)
				} else {
					packA(kern, w.packA, w.edge, transA, a, lda, ic, pc, mc, kc)
					packPairs(ap, w.packA, mr, kc, (mc+mr-1)/mr)
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp := w.pairsB[jr*kc2 : (jr+nr)*kc2]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						off := (ic+ir)*ldc + jc + jr
						kern.dot(kc2, ap[ir*kc2:(ir+mr)*kc2], bp, c[off:off+(mrr-1)*ldc+nrr], ldc, mrr, nrr, alpha, bet)
					}
				}
			}
		}
	}
}

// SgemmBF16Ref is the reference loop of a BF16 Gemm's Sgemm (the same
// arguments and checks as SgemmRef): for each block of K as the Gemm cuts it
// (blockKC at most, equal blocks rounded to 4), every C element accumulates
// from zero over the block's pairs with DotBF16 and is then stored as
// alpha·acc (first block, beta == 0) or fma(alpha, acc, beta·C) (later blocks
// with beta = 1).
func SgemmBF16Ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if trivialGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	at := func(i, p int) float32 {
		if p >= k {
			return 0
		}
		if transA {
			return a[p*lda+i]
		}
		return a[i*lda+p]
	}
	bt := func(p, j int) float32 {
		if p >= k {
			return 0
		}
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	bk := evenBlock(k, blockKC, 4)
	for pc := 0; pc < k; pc += bk {
		kc := min(bk, k-pc)
		bet := beta
		if pc > 0 {
			bet = 1
		}
		for i := range m {
			for j := range n {
				var acc float32
				for p := pc; p < pc+kc; p += 2 {
					hiA, hiB := at(i, p+1), bt(p+1, j)
					if p+1 >= pc+kc {
						hiA, hiB = 0, 0
					}
					acc = DotBF16(acc, bf16Pair(at(i, p), hiA), bf16Pair(bt(p, j), hiB))
				}
				if bet == 0 {
					c[i*ldc+j] = alpha * acc
				} else {
					c[i*ldc+j] = fma32(alpha, acc, bet*c[i*ldc+j])
				}
			}
		}
	}
}

// ParsePrecision reads "fp32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32":
		return FP32, nil
	case "bf16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("kernels: precision %q: want fp32 or bf16", s)
}

// BF16RelBound is the factor c of the error bound of a BF16 product of depth
// k: every element satisfies |C − C_exact| ≤ c·(|alpha|·Σ_p |op(A)(i,p)|·|op(B)(p,j)|)
// for normal operands (subnormal bfloat16 operands and tiny partial sums are
// flushed to zero, an absolute error below 2⁻¹²⁵ per step). Rounding each
// operand to bfloat16 costs a factor (1+u)² with u = 2⁻⁸, the products are
// exact and the float32 sums (k fused steps and one add per later K block)
// at most γ = n·v/(1−n·v) with v = 2⁻²⁴ and n = k+1:
//
//	c = (1+u)²·(1+γ) − 1 ≈ 2⁻⁷ + (k+1)·2⁻²⁴
//
// The store's rounding (beta·C, one float32 rounding) comes on top when
// beta ≠ 0.
func BF16RelBound(k int) float64 {
	const u, v = 1.0 / 256, 1.0 / (1 << 24)
	n := float64(k + 1)
	g := n * v / (1 - n*v)
	return (1+u)*(1+u)*(1+g) - 1
}
