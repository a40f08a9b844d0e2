package kernels

// PackedA is a GEMM's A operand packed once for several products with
// different B operands (a convolution's weights, applied to one chunk of
// images after another, possibly by several Gemms of one kind at once):
// SgemmPackedA then skips the packing (and, for BF16 products, the rounding
// to bfloat16 pairs) that Sgemm and SgemmPacked redo for every product. The
// packed values and the micro-kernel calls are those of the unpacked product,
// so results are bit-identical.
//
// Layout: for every K block [pc, pc+kc) of the Gemm's blocking (evenBlock of
// k), a panel of all ⌈m/MR⌉ slivers as packA writes them (MR rows, kc deep),
// at offset pc·mp (mp = m rounded up to MR); BF16 Gemms keep the panels as
// bfloat16 pairs instead, at offset pc/2·mp. The zero value is empty;
// Gemm.PackA fills it, reusing its storage.
type PackedA struct {
	kern  *microKernel
	m, k  int
	mp    int
	data  []float32 // float32 panels (FP32)
	pairs []uint32  // bfloat16-pair panels (BF16)
	// The operand between PackAInit and PackABlocks.
	transA     bool
	a          []float32
	lda        int
	bk, blocks int // K block size and count
}

// M and K are the packed operand's size (op(A) is m×k).
func (p *PackedA) M() int { return p.m }

// K is the depth of the packed operand.
func (p *PackedA) K() int { return p.k }

// PackA packs op(A) (m×k; A stored as for Sgemm) into p for this Gemm's
// micro-kernel and precision. It runs on the calling goroutine; it is
// PackAInit followed by PackABlocks(p, 0, p.Blocks()).
func (g *Gemm) PackA(p *PackedA, transA bool, m, k int, a []float32, lda int) {
	g.PackAInit(p, transA, m, k, a, lda)
	g.PackABlocks(p, 0, p.Blocks())
}

// PackAInit checks op(A) (m×k; A stored as for Sgemm) and sizes p for it
// without packing: PackABlocks then packs its K blocks, so Gemms with the
// same micro-kernel and precision on several goroutines may pack disjoint
// ranges of blocks at once. p keeps a reference to a until the blocks are
// packed.
func (g *Gemm) PackAInit(p *PackedA, transA bool, m, k int, a []float32, lda int) {
	if m < 0 || k < 0 {
		panic("kernels: PackA: negative size")
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if lda < max(ac, 1) {
		panic("kernels: PackA: lda smaller than a row of A")
	}
	if m > 0 && k > 0 && len(a) < (ar-1)*lda+ac {
		panic("kernels: PackA: A too short")
	}
	kern := g.kern
	mr := kern.mr
	p.kern, p.m, p.k = kern, m, k
	p.mp = (m + mr - 1) / mr * mr
	p.transA, p.a, p.lda = transA, a, lda
	p.bk, p.blocks = 0, 0
	if m == 0 || k == 0 {
		return
	}
	p.bk = evenBlock(k, blockKC, 4)
	p.blocks = (k + p.bk - 1) / p.bk
	if kern.dot == nil {
		p.data = growF(p.data, p.mp*k)
		return
	}
	p.pairs = growU(p.pairs, p.mp*((k+1)/2+1))
}

// Blocks is the number of K blocks PackABlocks packs (0 when empty).
func (p *PackedA) Blocks() int { return p.blocks }

// PackABlocks packs K blocks [lo, hi) of the operand PackAInit set up, on
// this Gemm's scratch (its micro-kernel and precision must be p's). The
// packed values do not depend on how the blocks are shared out.
func (g *Gemm) PackABlocks(p *PackedA, lo, hi int) {
	if p.kern != g.kern && (p.kern == nil || p.kern.name != g.kern.name || p.kern.mr != g.kern.mr) {
		panic("kernels: PackABlocks: operand set up for another micro-kernel")
	}
	if lo < 0 || hi > p.blocks || lo > hi {
		panic("kernels: PackABlocks: block range out of bounds")
	}
	kern, mr := p.kern, p.kern.mr
	w := &g.work
	if kern.dot != nil && w.packA == nil {
		w.packA = make([]float32, (blockMC+mr)*blockKC)
	}
	for b := lo; b < hi; b++ {
		pc := b * p.bk
		kc := min(p.bk, p.k-pc)
		if kern.dot == nil {
			packA(kern, p.data[pc*p.mp:pc*p.mp+p.mp*kc], nil, p.transA, p.a, p.lda, 0, pc, p.m, kc)
			continue
		}
		// BF16: blockMC rows at a time through the float32 scratch, then
		// rounded into the pair panel (row ic of the panel starts at ic·kc2).
		kc2 := (kc + 1) / 2
		panel := p.pairs[pc/2*p.mp : pc/2*p.mp+p.mp*kc2]
		for ic := 0; ic < p.m; ic += blockMC {
			mc := min(blockMC, p.m-ic)
			sl := (mc + mr - 1) / mr
			packA(kern, w.packA[:sl*mr*kc], nil, p.transA, p.a, p.lda, ic, pc, mc, kc)
			packPairs(panel[ic*kc2:ic*kc2+sl*mr*kc2], w.packA, mr, kc, sl)
		}
	}
}

// panel returns the packed block of rows [ic, ic+mc) of the K block at pc
// (kc deep), as packA would have written it.
func (p *PackedA) panel(pc, ic, kc int) []float32 {
	o := pc*p.mp + ic*kc
	return p.data[o : o+(p.mp-ic)*kc]
}

// pairPanel is panel for BF16 products (kc2 = ⌈kc/2⌉ pair rows).
func (p *PackedA) pairPanel(pc, ic, kc2 int) []uint32 {
	o := pc/2*p.mp + ic*kc2
	return p.pairs[o : o+(p.mp-ic)*kc2]
}

// SgemmPackedA computes C = alpha·op(A)·B + beta·C as Sgemm (or SgemmPacked
// when pb is not nil) would with the operand p was packed from. B is k×n,
// stored row-major with stride ldb (b is ignored when pb is not nil). p must
// have been packed by a Gemm with the same micro-kernel and precision; it is
// only read, so Gemms on several goroutines may share it. It runs on the
// calling goroutine only.
func (g *Gemm) SgemmPackedA(p *PackedA, n int, alpha float32, b []float32, ldb int, pb BPacker, beta float32, c []float32, ldc int) {
	if p.kern != g.kern && (p.kern == nil || p.kern.name != g.kern.name || p.kern.mr != g.kern.mr) {
		panic("kernels: SgemmPackedA: operand packed for another micro-kernel")
	}
	m, k := p.m, p.k
	if pb != nil {
		b, ldb = nil, implicitB
	}
	switch {
	case n < 0:
		panic("kernels: SgemmPackedA: negative size")
	case b != nil && ldb < max(n, 1):
		panic("kernels: SgemmPackedA: ldb smaller than a row of B")
	case ldc < max(n, 1):
		panic("kernels: SgemmPackedA: ldc smaller than a row of C")
	case m > 0 && n > 0 && k > 0 && (b != nil && len(b) < (k-1)*ldb+n || b == nil && pb == nil):
		panic("kernels: SgemmPackedA: B too short")
	case m > 0 && n > 0 && len(c) < (m-1)*ldc+n:
		panic("kernels: SgemmPackedA: C too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	g.work.gemmB(g.kern, false, false, m, n, k, alpha, nil, 0, p, b, ldb, pb, beta, c, ldc)
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growU(s []uint32, n int) []uint32 {
	if cap(s) < n {
		return make([]uint32, n)
	}
	return s[:n]
}
