package kernels

// microKernel computes one mr×nr tile of C from a packed MR×kc sliver of A and
// a packed kc×NR sliver of B (layouts of packA and packB):
//
//	C[i*ldc+j] = alpha·Σ_p a[p*MR+i]·b[p*NR+j] + beta·C[i*ldc+j]   i < mr ≤ MR, j < nr ≤ NR
//
// with beta == 0 not reading C. It writes nothing outside the mr×nr tile.
type microKernel struct {
	name   string
	mr, nr int
	run    func(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32)

	// Optional fast packing (nil: the pure-Go packB paths).
	// copyBlock: a whole kc×nc block of a row-major B into nr-wide slivers.
	// transB: one full sliver from a transposed B, dst[p*nr+r] = src[r*ldb+p].
	copyBlock func(dst, src []float32, ldb, kc, nc int)
	transB    func(dst, src []float32, ldb, kc int)
	// transA: one full sliver from a row-major A, dst[p*mr+r] = src[r*lda+p].
	transA func(dst, src []float32, lda, kc int)
	// copyA: one sliver from a transposed A, dst[p*mr+r] = src[p*lda+r] for
	// r < rows, zero up to mr.
	copyA func(dst, src []float32, lda, kc, rows int)

	// dot, when set, makes the kernel's products BF16 (gemm_bf16.go): the
	// tile comes from bfloat16 pair slivers instead of run's float32 ones.
	dot dotKernel
}

// goKernel is the pure-Go micro-kernel, used under the noasm tag, on other
// architectures, and on amd64 CPUs without AVX2+FMA.
var goKernel = &microKernel{name: "go", mr: 4, nr: 4, run: kernelGo4x4}

// kernelGo4x4 is the 4×4 pure-Go micro-kernel with accumulators in registers.
func kernelGo4x4(kc int, a, b, c []float32, ldc, mr, nr int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for p := 0; p+4 <= len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [16]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
		c20, c21, c22, c23,
		c30, c31, c32, c33,
	}
	storeTile(acc[:], 4, mr, c, ldc, nr, alpha, beta, false)
}

// storeTile merges an accumulated tile (row stride ts) into C:
// C = alpha·tile + beta·C for mr rows and nr columns (beta == 0 does not read C).
// fused rounds alpha·tile + beta·C once, as the bf16 assembly kernels'
// VFMADD does (their reference must match them bit for bit); otherwise the
// product and the sum round separately, as the float32 kernels do.
func storeTile(tile []float32, ts, mr int, c []float32, ldc, nr int, alpha, beta float32, fused bool) {
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		src := tile[i*ts : i*ts+nr]
		if beta == 0 {
			for j, v := range src {
				row[j] = alpha * v
			}
			continue
		}
		if fused {
			for j, v := range src {
				row[j] = fma32(alpha, v, beta*row[j])
			}
			continue
		}
		for j, v := range src {
			row[j] = alpha*v + beta*row[j]
		}
	}
}
