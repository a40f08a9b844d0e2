package kernels

// packA copies the mc×kc block of op(A) at (ic, pc) into dst as slivers of mr
// rows: sliver s holds, for p < kc, the mr values op(A)(ic+s·mr+r, pc+p) at
// dst[s·mr·kc + p·mr + r]. Rows past mc are zero. edge (mr·kc floats, or
// nil) is scratch for a partial sliver, so it can use the kernel's fast path.
func packA(kern *microKernel, dst, edge []float32, transA bool, a []float32, lda, ic, pc, mc, kc int) {
	mr := kern.mr
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : (ir+mr)*kc]
		if transA {
			// op(A)(i, p) = a[p*lda+i]: each p is a contiguous run of rows.
			if kern.copyA != nil {
				kern.copyA(d, a[pc*lda+ic+ir:], lda, kc, rows)
				continue
			}
			for p := range kc {
				src := a[(pc+p)*lda+ic+ir:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:rows])
				clear(dp[rows:])
			}
			continue
		}
		// op(A)(i, p) = a[i*lda+p]: transpose rows into the sliver.
		if rows == mr && kern.transA != nil {
			kern.transA(d, a[(ic+ir)*lda+pc:], lda, kc)
			continue
		}
		if rows == mr {
			transposeInto(d, a, (ic+ir)*lda+pc, lda, mr, kc)
			continue
		}
		if kern.transA != nil && edge != nil {
			// Copy the rows into zero-padded scratch and transpose it whole.
			e := edge[:mr*kc]
			for r := range rows {
				copy(e[r*kc:(r+1)*kc], a[(ic+ir+r)*lda+pc:])
			}
			clear(e[rows*kc:])
			kern.transA(d, e, kc, kc)
			continue
		}
		clear(d)
		for r := range rows {
			src := a[(ic+ir+r)*lda+pc:]
			src = src[:kc]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
	}
}

// packB copies the kc×nc block of op(B) at (pc, jc) into dst as slivers of nr
// columns: sliver s holds, for p < kc, the nr values op(B)(pc+p, jc+s·nr+j) at
// dst[s·nr·kc + p·nr + j]. Columns past nc are zero. edge (nr·kc floats, or
// nil) is scratch for a partial sliver, so it can use the kernel's fast path.
func packB(kern *microKernel, dst, edge []float32, transB bool, b []float32, ldb, pc, jc, kc, nc int) {
	nr := kern.nr
	if !transB && kern.copyBlock != nil {
		kern.copyBlock(dst, b[pc*ldb+jc:], ldb, kc, nc)
		return
	}
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		if !transB {
			// op(B)(p, j) = b[p*ldb+j]: each p is a contiguous run of columns.
			for p := range kc {
				src := b[(pc+p)*ldb+jc+jr:]
				dp := d[p*nr : p*nr+nr]
				copy(dp, src[:cols])
				clear(dp[cols:])
			}
			continue
		}
		// op(B)(p, j) = b[j*ldb+p]: transpose rows of b into the sliver.
		if cols == nr && kern.transB != nil {
			kern.transB(d, b[(jc+jr)*ldb+pc:], ldb, kc)
			continue
		}
		if cols == nr {
			transposeInto(d, b, (jc+jr)*ldb+pc, ldb, nr, kc)
			continue
		}
		if kern.transB != nil && edge != nil {
			// Copy the rows into zero-padded scratch and transpose it whole.
			e := edge[:nr*kc]
			for j := range cols {
				copy(e[j*kc:(j+1)*kc], b[(jc+jr+j)*ldb+pc:])
			}
			clear(e[cols*kc:])
			kern.transB(d, e, kc, kc)
			continue
		}
		clear(d)
		for j := range cols {
			src := b[(jc+jr+j)*ldb+pc:]
			src = src[:kc]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
	}
}

// transposeInto writes dst[p*w+r] = src[off+r*ld+p] for r < w, p < kc: w
// source rows of length kc become kc interleaved groups of w.
func transposeInto(dst, src []float32, off, ld, w, kc int) {
	_ = src[off+(w-1)*ld+kc-1]
	dst = dst[:w*kc]
	// Four source rows at a time keep four read streams and short strided writes.
	r := 0
	for ; r+4 <= w; r += 4 {
		s0 := src[off+r*ld : off+r*ld+kc]
		s1 := src[off+(r+1)*ld : off+(r+1)*ld+kc]
		s2 := src[off+(r+2)*ld : off+(r+2)*ld+kc]
		s3 := src[off+(r+3)*ld : off+(r+3)*ld+kc]
		for p := range s0 {
			d := dst[p*w+r : p*w+r+4]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; r < w; r++ {
		s := src[off+r*ld : off+r*ld+kc]
		for p, v := range s {
			dst[p*w+r] = v
		}
	}
}
