package kernels

// Cache blocking of the packed GEMM (BLIS naming). A kc×nc panel of op(B) is
// packed once per (jc, pc) block and stays in L2/L3; an mc×kc block of op(A)
// is packed per (jc, pc, ic) block and stays in L2; the micro-kernel streams
// one MR×kc sliver of A and one kc×NR sliver of B from L1.
const (
	blockMC = 144  // rows of A per packed block (a multiple of every kernel's MR)
	blockKC = 256  // depth of a packed block
	blockNC = 3072 // columns of B per packed block (a multiple of every kernel's NR)
)

// parallelMinWork is the smallest m·n·k for which Sgemm hands half of the
// product to a second goroutine; below it the hand-off costs more than it
// saves (LeNet-sized products run on the calling goroutine only).
const parallelMinWork = 1 << 20

// Gemm is a reusable GEMM engine bound to a thread count. It owns its packing
// scratch, so one Gemm must not be used by two goroutines at once. After the
// first call of a given size, Sgemm does not allocate.
type Gemm struct {
	threads     int
	minParallel int // smallest m·n·k split over threads (parallelMinWork)
	kern        *microKernel
	work        gemmWorker // the calling goroutine's scratch
	helpers     []*helper  // threads-1 goroutines, started by the first split product
}

// gemmWorker is the packing scratch of one goroutine.
type gemmWorker struct {
	packA []float32 // (blockMC rounded up to MR) × blockKC
	packB []float32 // (blockNC rounded up to NR) × blockKC
	edge  []float32 // max(MR, NR) × blockKC: partial slivers before packing
	// pairsA, pairsB: the packed blocks rounded to bfloat16 pairs (BF16 only).
	pairsA, pairsB []uint32
	sliver         []float32 // nr × blockKC: one float32 sliver of B before rounding (BF16 only)
}

// NewGemm returns a GEMM engine that splits work over threads goroutines
// (threads < 1 means 1). It uses the fastest micro-kernel the CPU supports
// (AVX-512, then AVX2+FMA, then pure Go; pure Go only under the noasm tag).
func NewGemm(threads int) *Gemm {
	return newGemmKernel(threads, bestKernel())
}

// NewGemmPrecision is NewGemm with the given product arithmetic. With BF16
// the operands are rounded to bfloat16 (BF16Bits) as they are packed and the
// products accumulate in float32 exactly as VDPBF16PS does (SgemmBF16Ref is
// the reference loop): on the AVX512_BF16 instruction when the CPU has it,
// else on its bit-exact pure-Go emulation (much slower), so results do not
// depend on the machine.
func NewGemmPrecision(threads int, p Precision) *Gemm {
	k := bestKernel()
	if p == BF16 {
		k = bf16Kernel(k)
	}
	return newGemmKernel(threads, k)
}

// Precision reports the arithmetic of the Gemm's products.
func (g *Gemm) Precision() Precision {
	if g.kern.dot != nil {
		return BF16
	}
	return FP32
}

// newGemmKernel binds a specific micro-kernel; tests use it to exercise every
// kernel the machine can run.
func newGemmKernel(threads int, k *microKernel) *Gemm {
	threads = max(threads, 1)
	return &Gemm{threads: threads, minParallel: parallelMinWork, kern: k}
}

// Close stops the Gemm's helper goroutines; later products run on the calling
// goroutine only. A Gemm that becomes unreachable without Close has its
// helpers stopped by a cleanup.
func (g *Gemm) Close() {
	for _, h := range g.helpers {
		h.shutdown()
	}
	g.helpers = nil
	g.threads = 1
}

// Threads reports the number of goroutines a call may use.
func (g *Gemm) Threads() int { return g.threads }

// Kernel names the micro-kernel in use: "avx512", "avx2" or "go"; with BF16
// products "avx512bf16" (VDPBF16PS) or the float32 kernel's name followed by
// "-bf16emu" (the pure-Go emulation).
func (g *Gemm) Kernel() string { return g.kern.name }

// Sgemm computes what SgemmRef computes, row-major with leading dimensions:
//
//	C = alpha·op(A)·op(B) + beta·C,  op(A) m×k, op(B) k×n, C m×n
//
// with op(X) = Xᵀ when transX. A is stored m×k (k×m when transA) with row
// stride lda, B k×n (n×k when transB) with stride ldb, C m×n with stride ldc.
// beta == 0 overwrites C without reading it; alpha == 0 (or k == 0) only
// scales C, without reading A and B (as BLAS does). All four transpose combinations
// run at packed speed (transposes are absorbed by the packing). Products of at
// least parallelMinWork multiply-adds are split over the Gemm's threads.
//
// C must not overlap A or B. It panics on negative sizes, leading dimensions
// smaller than a row, or slices too short for the given shapes (programmer
// errors).
func (g *Gemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if trivialGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	mr, nr := g.kern.mr, g.kern.nr
	threads := g.threads
	if m*n*k < g.minParallel {
		threads = 1
	}
	// Split the larger dimension (counted in micro-tiles) between workers.
	tilesN, tilesM := (n+nr-1)/nr, (m+mr-1)/mr
	if threads > 1 && max(tilesN, tilesM) < 2*threads {
		threads = 1
	}
	if threads == 1 {
		g.work.gemm(g.kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if g.helpers == nil {
		g.helpers = startHelpers(g, g.threads-1)
	}
	// Share w goes to helper w; the calling goroutine takes the last share.
	for w := range threads {
		j := gemmJob{kern: g.kern, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
			a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
		if tilesN >= tilesM {
			j0, j1 := split(tilesN, threads, w)
			j0, j1 = j0*nr, min(j1*nr, n)
			j.n, j.c = j1-j0, c[j0:]
			if transB {
				j.b = b[j0*ldb:]
			} else {
				j.b = b[j0:]
			}
		} else {
			i0, i1 := split(tilesM, threads, w)
			i0, i1 = i0*mr, min(i1*mr, m)
			j.m, j.c = i1-i0, c[i0*ldc:]
			if transA {
				j.a = a[i0:]
			} else {
				j.a = a[i0*lda:]
			}
		}
		if w < threads-1 {
			g.helpers[w].submit(j)
			continue
		}
		g.work.gemm(j.kern, j.transA, j.transB, j.m, j.n, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
	}
	for _, h := range g.helpers[:threads-1] {
		h.finish(&g.work)
	}
}

// BPacker supplies the B operand of SgemmPacked already packed. PackB writes
// the kc×nc block of B at (pc, jc) into dst in the micro-kernel's layout:
// slivers of nr columns, sliver s holding for p < kc the nr values
// B(pc+p, jc+s·nr+j) at dst[s·nr·kc + p·nr + j], zeros past column nc
// (len(dst) is nc rounded up to nr, times kc). jc is a multiple of nr.
type BPacker interface {
	PackB(dst []float32, pc, jc, kc, nc, nr int)
}

// SgemmPacked computes C = alpha·op(A)·B + beta·C as Sgemm does, with the
// k×n matrix B supplied by pb (an implicit operand, e.g. a convolution's
// lowered matrix packed straight from the image). It runs on the calling
// goroutine only.
func (g *Gemm) SgemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, pb BPacker, beta float32, c []float32, ldc int) {
	if trivialGemm(transA, false, m, n, k, alpha, a, lda, nil, implicitB, beta, c, ldc) {
		return
	}
	g.work.gemmB(g.kern, transA, false, m, n, k, alpha, a, lda, nil, nil, 0, pb, beta, c, ldc)
}

// NR is the micro-kernel's sliver width: the nr a BPacker is called with.
func (g *Gemm) NR() int { return g.kern.nr }

// split returns the half-open range of part w when total items are cut into
// parts nearly equal pieces.
func split(total, parts, w int) (lo, hi int) {
	return total * w / parts, total * (w + 1) / parts
}

// gemm is the single-goroutine packed GEMM on one worker's scratch.
func (w *gemmWorker) gemm(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	w.gemmB(kern, transA, transB, m, n, k, alpha, a, lda, nil, b, ldb, nil, beta, c, ldc)
}

// gemmB is gemm with B packed by pb instead of from b when pb is not nil,
// and A read from pa (packed beforehand) instead of a when pa is not nil.
func (w *gemmWorker) gemmB(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, pa *PackedA, b []float32, ldb int, pb BPacker, beta float32, c []float32, ldc int) {
	if kern.dot != nil {
		w.gemmBF16(kern, transA, transB, m, n, k, alpha, a, lda, pa, b, ldb, pb, beta, c, ldc)
		return
	}
	mr, nr := kern.mr, kern.nr
	if w.packA == nil {
		w.packA = make([]float32, (blockMC+mr)*blockKC)
		w.packB = make([]float32, (blockNC+nr)*blockKC)
		w.edge = make([]float32, max(mr, nr)*blockKC)
	}
	// Equal blocks (rounded to the tile size) rather than full blocks and a
	// thin remainder: k = 576 runs as 3×192, not 256+256+64.
	bn, bk, bm := evenBlock(n, blockNC, nr), evenBlock(k, blockKC, 4), evenBlock(m, blockMC, mr)
	for jc := 0; jc < n; jc += bn {
		nc := min(bn, n-jc)
		for pc := 0; pc < k; pc += bk {
			kc := min(bk, k-pc)
			if pb != nil {
				pb.PackB(w.packB[:(nc+nr-1)/nr*nr*kc], pc, jc, kc, nc, nr)
			} else {
				packB(kern, w.packB, w.edge, transB, b, ldb, pc, jc, kc, nc)
			}
			bet := blockBeta(beta, pc)
			for ic := 0; ic < m; ic += bm {
				mc := min(bm, m-ic)
				ap := w.packA
				if pa != nil {
					ap = pa.panel(pc, ic, kc)
				} else {
					packA(kern, ap, w.edge, transA, a, lda, ic, pc, mc, kc)
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp := w.packB[jr*kc : (jr+nr)*kc]
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						off := (ic+ir)*ldc + jc + jr
						kern.run(kc, ap[ir*kc:(ir+mr)*kc], bp, c[off:off+(mrr-1)*ldc+nrr], ldc, mrr, nrr, alpha, bet)
					}
				}
			}
		}
	}
}

// evenBlock returns the block size for cutting n into the fewest blocks of at
// most limit, as equal as possible and rounded up to a multiple of unit
// (limit is a multiple of unit).
func evenBlock(n, limit, unit int) int {
	blocks := (n + limit - 1) / limit
	size := (n + blocks - 1) / blocks
	return min(limit, (size+unit-1)/unit*unit)
}

// scaleMatrix computes C = beta·C (beta == 0 writes zeros without reading).
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// implicitB is the ldb with which checkGemmArgs accepts b == nil (the B
// operand of SgemmPacked).
const implicitB = -1

// checkGemmArgs panics when the sizes, leading dimensions or slice lengths
// cannot describe the product (a programmer error).
// blockBeta is the beta of the K block starting at pc: the first block
// applies the caller's beta, later ones accumulate onto it.
func blockBeta(beta float32, pc int) float32 {
	if pc > 0 {
		return 1
	}
	return beta
}

// trivialGemm checks a product's arguments (panicking on programmer errors)
// and finishes the products that need no multiply: an empty C, or k == 0 or
// alpha == 0, where C is only scaled by beta without reading A and B (as
// BLAS does). It reports whether the product is done.
func trivialGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return true
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return true
	}
	return false
}

func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: Sgemm: negative size")
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < max(ac, 1) {
		panic("kernels: Sgemm: lda smaller than a row of A")
	}
	if ldb < max(bc, 1) && b != nil {
		panic("kernels: Sgemm: ldb smaller than a row of B")
	}
	if ldc < max(n, 1) {
		panic("kernels: Sgemm: ldc smaller than a row of C")
	}
	if m > 0 && n > 0 && k > 0 {
		if len(a) < (ar-1)*lda+ac {
			panic("kernels: Sgemm: A too short")
		}
		if b != nil && len(b) < (br-1)*ldb+bc || b == nil && ldb != implicitB {
			panic("kernels: Sgemm: B too short")
		}
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic("kernels: Sgemm: C too short")
	}
}
