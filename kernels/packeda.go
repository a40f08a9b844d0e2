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
	data  []float32 // float32 panels (FP32), or the scratch they are packed in (BF16)
	pairs []uint32  // bfloat16-pair panels (BF16)
}

// M and K are the packed operand's size (op(A) is m×k).
func (p *PackedA) M() int { return p.m }

// K is the depth of the packed operand.
func (p *PackedA) K() int { return p.k }

// PackA packs op(A) (m×k; A stored as for Sgemm) into p for this Gemm's
// micro-kernel and precision. It runs on the calling goroutine.
func (g *Gemm) PackA(p *PackedA, transA bool, m, k int, a []float32, lda int) {
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
	if m == 0 || k == 0 {
		return
	}
	bk := evenBlock(k, blockKC, 4)
	if kern.dot == nil {
		p.data = growF(p.data, p.mp*k)
		for pc := 0; pc < k; pc += bk {
			kc := min(bk, k-pc)
			packA(kern, p.data[pc*p.mp:pc*p.mp+p.mp*kc], nil, transA, a, lda, 0, pc, m, kc)
		}
		return
	}
	p.data = growF(p.data, p.mp*bk)
	p.pairs = growU(p.pairs, p.mp*((k+1)/2+1))
	for pc := 0; pc < k; pc += bk {
		kc := min(bk, k-pc)
		kc2 := (kc + 1) / 2
		packA(kern, p.data[:p.mp*kc], nil, transA, a, lda, 0, pc, m, kc)
		packPairs(p.pairs[pc/2*p.mp:pc/2*p.mp+p.mp*kc2], p.data, mr, kc, p.mp/mr)
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
