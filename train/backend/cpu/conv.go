package cpu

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

// minGemmCols is the GEMM width a convolution aims for: images whose output
// maps are smaller are batched into one product.
const minGemmCols = 256

type convShape struct {
	n, oc, k, p int
	g           kernels.ConvGeom
	pointwise   bool // 1×1, stride 1, no padding: x itself is the column matrix
	wide        bool // the wide lowering (wide.go): pw columns per image
	pw          int  // GEMM columns per image: p, or OutH·W when wide
	chunk       int  // images per GEMM
	// implicit: a stride-1 same convolution that a fast kernels.SamePacker
	// handles: the forward product, the input gradient (as the same
	// convolution of dy with the flipped, transposed weights) and the weight
	// gradient (kernels.SameTPacker) pack their B operand straight from the
	// images, with no lowered matrix.
	implicit bool
}

func (b *Backend) convShape(op string, x, w, y *backend.Tensor, p backend.ConvParams) convShape {
	n, c, h, wd := dims4(op, x)
	oc, wc, kh, kw := dims4(op, w)
	if wc != c {
		panic(fmt.Sprintf("cpu: %s: input %v, weight %v: channels differ", op, x.Shape(), w.Shape()))
	}
	g := kernels.ConvGeom{C: c, H: h, W: wd, KH: kh, KW: kw, StrideH: p.StrideH, StrideW: p.StrideW, PadH: p.PadH, PadW: p.PadW}
	mustShape(op, y, n, oc, g.OutH(), g.OutW())
	cs := convShape{n: n, oc: oc, k: c * kh * kw, p: g.OutH() * g.OutW(), g: g}
	cs.pointwise = kh == 1 && kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
	cs.pw = cs.p
	if wideConv(g) {
		cs.wide, cs.pw = true, widePixels(g)
	}
	cs.chunk = max(1, min(n, (minGemmCols+cs.pw-1)/cs.pw))
	var sp kernels.SamePacker
	cs.implicit = !cs.pointwise && !cs.wide && kernels.SamePackable(g, cs.chunk) && sp.Fast(b.workers[0].gemm.NR())
	return cs
}

// Conv2dForward: y = conv(x, w) + b, then ReLU when relu.
func (b *Backend) Conv2dForward(x, w, bias, y *backend.Tensor, p backend.ConvParams, relu bool) {
	cs := b.convShape("conv2d", x, w, y, p)
	var ep epi
	if bias != nil {
		mustShape("conv2d", bias, cs.oc)
		ep.bias = Data(bias)
	}
	ep.relu = relu
	b.convForward(cs, Data(x), Data(w), Data(y), &ep)
}

// Conv2dBatchNormEval is Conv2dForward (no bias, no ReLU) followed by
// BatchNormEval and, when res is not nil, Add(·, res), then the ReLU when
// relu: the eval-mode conv+BN(+residual)+ReLU of a ResNet in one pass, the
// BatchNorm applied to each image's output while it is in cache. The
// arithmetic is that of the separate ops (the same per-channel scale and
// shift, kernels.Affine, kernels.AddVec), so results are bit-identical.
func (b *Backend) Conv2dBatchNormEval(x, w, y *backend.Tensor, p backend.ConvParams, gamma, beta, runMean, runVar *backend.Tensor, eps float32, res *backend.Tensor, relu bool) {
	cs := b.convShape("conv2d batchnorm eval", x, w, y, p)
	for _, t := range []*backend.Tensor{gamma, beta, runMean, runVar} {
		mustShape("conv2d batchnorm eval", t, cs.oc)
	}
	ep := epi{relu: relu}
	if res != nil {
		mustShape("conv2d batchnorm eval", res, y.Shape()...)
		ep.res = Data(res)
	}
	b.bnA, b.bnC = bnAffine(Data(gamma), Data(beta), Data(runMean), Data(runVar), eps, b.bnA, b.bnC)
	ep.scale, ep.shift = b.bnA, b.bnC
	b.convForward(cs, Data(x), Data(w), Data(y), &ep)
}

// bnAffine writes BatchNormEval's per-channel scale a and shift c
// (y = x·a + c) into a and c, grown to the channel count.
func bnAffine(gamma, beta, mean, vr []float32, eps float32, a, c []float32) ([]float32, []float32) {
	a, c = grow(a, len(gamma)), grow(c, len(gamma))
	for ch := range gamma {
		a[ch], c[ch] = bnScaleShift(gamma[ch], beta[ch], mean[ch], vr[ch], eps)
	}
	return a, c
}

// bnScaleShift is BatchNormEval's affine map of one channel.
func bnScaleShift(gamma, beta, mean, vr, eps float32) (a, c float32) {
	invstd := 1 / math.Sqrt(float64(vr)+float64(eps))
	return float32(invstd * float64(gamma)), float32(float64(beta) - float64(mean)*invstd*float64(gamma))
}

// epi is what a convolution applies to its product, channel by channel:
// + bias[o], or ·scale[o] + shift[o] (eval BatchNorm); then + res (the
// residual, same shape as y); then ReLU.
type epi struct {
	bias, scale, shift []float32
	res                []float32
	relu               bool
}

// none reports whether the epilogue leaves the product as it is.
func (e *epi) none() bool { return e.bias == nil && e.scale == nil && e.res == nil && !e.relu }

// image applies the epilogue to image n's output y (oc planes of p).
func (e *epi) image(y []float32, n, oc, p int) {
	if e.none() {
		return
	}
	res := e.resOf(n, oc, p)
	for o := 0; o < oc; o++ {
		row := y[o*p : (o+1)*p]
		e.plane(row, row, res, o, p)
	}
}

// imageFrom writes image n's output y (oc planes of p) from column j·p of
// the chunk's product out (oc rows, leading dimension ld), applying the
// epilogue on the way: the scatter and the epilogue in one pass.
func (e *epi) imageFrom(y, out []float32, ld, j, n, oc, p int) {
	res := e.resOf(n, oc, p)
	for o := 0; o < oc; o++ {
		src := out[o*ld+j*p : o*ld+j*p+p]
		e.plane(y[o*p:(o+1)*p], src, res, o, p)
	}
}

// resOf is image n's residual, or nil.
func (e *epi) resOf(n, oc, p int) []float32 {
	if e.res == nil {
		return nil
	}
	return e.res[n*oc*p : (n+1)*oc*p]
}

// plane writes channel o's plane row (p values) from src (the product; it
// may be row itself) with the epilogue applied; res is the image's residual
// (or nil).
func (e *epi) plane(row, src, res []float32, o, p int) {
	a, c := float32(1), float32(0)
	switch {
	case e.scale != nil:
		a, c = e.scale[o], e.shift[o]
	case e.bias != nil:
		c = e.bias[o]
	}
	affine := e.scale != nil || e.bias != nil
	if res == nil {
		switch {
		case affine || e.relu:
			kernels.Affine(row, src, a, c, e.relu)
		case &row[0] != &src[0]:
			copy(row, src)
		}
		return
	}
	if affine {
		kernels.Affine(row, src, a, c, false)
		src = row
	}
	kernels.AddVec(row, src, res[o*p:(o+1)*p], e.relu)
}

// convForward is the forward convolution of xd by wd into yd followed by
// the epilogue ep.
func (b *Backend) convForward(cs convShape, xd, wd, yd []float32, ep *epi) {
	inSz := cs.g.C * cs.g.H * cs.g.W
	outSz := cs.oc * cs.p
	if fullConv(cs.g) {
		// y (N, OC) = x (N, K) · wᵀ: a linear layer, no lowering.
		b.sgemmRows(false, true, cs.n, cs.oc, cs.k, xd, cs.k, wd, cs.k, yd, cs.oc)
		if ep.none() {
			return
		}
		b.parallel(cs.n, 64, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				row := yd[i*cs.oc : (i+1)*cs.oc]
				if ep.scale == nil && ep.res == nil {
					if ep.bias != nil {
						kernels.AddVec(row, row, ep.bias, ep.relu)
					} else {
						kernels.Affine(row, row, 1, 0, true)
					}
					continue
				}
				ep.image(row, i, cs.oc, 1) // 1×1 planes
			}
		})
		return
	}
	// The weights are packed (and, for BF16, rounded) once for every chunk
	// of images and every worker.
	pa := &b.packW
	b.packA(pa, false, cs.oc, cs.k, wd, cs.k)
	if cs.implicit {
		bf16 := b.workers[0].gemm.Precision() == kernels.BF16
		b.parallel(cs.n, 1, func(wk, lo, hi int) {
			st := &b.workers[wk]
			for n0 := lo; n0 < hi; n0 += cs.chunk {
				g := min(cs.chunk, hi-n0)
				if !bf16 {
					// (A BF16 product's first pass over the images is
					// setImages's rounding, a sequential read.)
					prefetchNext(xd, inSz, n0+g, min(n0+g+cs.chunk, hi))
				}
				st.same.Reset(cs.g, g)
				st.setImages(&st.same, xd[n0*inSz:(n0+g)*inSz])
				if g == 1 {
					out := yd[n0*outSz : (n0+1)*outSz]
					st.gemm.SgemmPackedA(pa, cs.p, 1, nil, 0, &st.same, 0, out, cs.p)
					ep.image(out, n0, cs.oc, cs.p)
					continue
				}
				ld := g * cs.p
				st.out = grow(st.out, cs.oc*ld)
				st.gemm.SgemmPackedA(pa, ld, 1, nil, 0, &st.same, 0, st.out, ld)
				for j := 0; j < g; j++ {
					ep.imageFrom(yd[(n0+j)*outSz:(n0+j+1)*outSz], st.out, ld, j, n0+j, cs.oc, cs.p)
				}
			}
		})
		return
	}
	b.parallel(cs.n, 1, func(wk, lo, hi int) {
		st := &b.workers[wk]
		for n0 := lo; n0 < hi; n0 += cs.chunk {
			g := min(cs.chunk, hi-n0)
			prefetchNext(xd, inSz, n0+g, min(n0+g+cs.chunk, hi))
			ld := g * cs.pw
			col := cs.columns(st, xd, inSz, n0, g, ld)
			if g == 1 && !cs.wide {
				out := yd[n0*outSz : (n0+1)*outSz]
				st.gemm.SgemmPackedA(pa, cs.p, 1, col, ld, nil, 0, out, cs.p)
				ep.image(out, n0, cs.oc, cs.p)
				continue
			}
			st.out = grow(st.out, cs.oc*ld)
			st.gemm.SgemmPackedA(pa, ld, 1, col, ld, nil, 0, st.out, ld)
			for j := 0; j < g; j++ {
				img := yd[(n0+j)*outSz : (n0+j+1)*outSz]
				if cs.wide {
					scatterWide(cs.g, st.out, ld, j, cs.oc, img)
					ep.image(img, n0+j, cs.oc, cs.p)
					continue
				}
				ep.imageFrom(img, st.out, ld, j, n0+j, cs.oc, cs.p)
			}
		}
	})
}

// setImages hands a chunk's images to an implicit packer. A BF16 product
// rounds them to bfloat16 once, into the worker's scratch, instead of once
// per lowered row that reads them (KH·KW times): the packed pairs are the
// same.
func (st *worker) setImages(sp *kernels.SamePacker, x []float32) {
	if st.gemm.Precision() != kernels.BF16 {
		sp.SetImages(x)
		return
	}
	st.xr = grow(st.xr, len(x))
	kernels.RoundBF16To(st.xr, x)
	sp.SetImagesBF16(st.xr)
}

// packAMinParallel is the smallest m·k whose packing packA shares among
// the workers (below it the hand-off costs more than it saves).
const packAMinParallel = 1 << 16

// packA packs a convolution's A operand for every worker's Gemm, its K
// blocks shared among the workers when it is large (kernels.PackABlocks; the
// packed values are the same either way).
func (b *Backend) packA(pa *kernels.PackedA, transA bool, m, k int, a []float32, lda int) {
	g := b.workers[0].gemm
	g.PackAInit(pa, transA, m, k, a, lda)
	if nb := pa.Blocks(); nb < 2 || m*k < packAMinParallel {
		g.PackABlocks(pa, 0, nb)
		return
	}
	b.parallel(pa.Blocks(), 1, func(w, lo, hi int) {
		b.workers[w].gemm.PackABlocks(pa, lo, hi)
	})
}

// prefetchMax is the most floats of a next chunk's images the convolution
// loops prefetch (larger inputs would only push the current chunk's working
// set out of L2).
const prefetchMax = 1 << 17

// prefetchNext hints the CPU to fetch images [i0, i1) of d (sz floats each),
// the next chunk of a convolution loop, while the current one is computed.
func prefetchNext(d []float32, sz, i0, i1 int) {
	if i0 < i1 && (i1-i0)*sz <= prefetchMax {
		kernels.Prefetch(d[i0*sz : i1*sz])
	}
}

// Conv2dBackward writes dx, dw and db, each unless nil. With dw and db nil
// (an input gradient only) x is read for its shape alone.
func (b *Backend) Conv2dBackward(x, w, dy, dx, dw, db *backend.Tensor, p backend.ConvParams) {
	cs := b.convShape("conv2d backward", x, w, dy, p)
	var dxd, dbd, dwd []float32
	if dw != nil {
		mustShape("conv2d backward", dw, w.Shape()...)
		dwd = Data(dw)
	}
	if dx != nil {
		mustShape("conv2d backward", dx, x.Shape()...)
		dxd = Data(dx)
	}
	if db != nil {
		mustShape("conv2d backward", db, cs.oc)
		dbd = Data(db)
	}
	xd, wd, dyd := Data(x), Data(w), Data(dy)
	inSz := cs.g.C * cs.g.H * cs.g.W
	outSz := cs.oc * cs.p
	if fullConv(cs.g) {
		// dw (OC, K) = dyᵀ (OC, N) · x (N, K); dx (N, K) = dy (N, OC) · w.
		if dwd != nil {
			b.sgemmRows(true, false, cs.oc, cs.k, cs.n, dyd, cs.oc, xd, cs.k, dwd, cs.k)
		}
		if dxd != nil {
			b.sgemmRows(false, false, cs.n, cs.k, cs.oc, dyd, cs.oc, wd, cs.k, dxd, cs.k)
		}
		if dbd != nil {
			clear(dbd)
			for i := 0; i < cs.n; i++ {
				kernels.AddTo(dbd, dyd[i*cs.oc:(i+1)*cs.oc])
			}
		}
		return
	}
	// The input gradient of an implicit convolution is the same convolution
	// of dy with wT (c, oc·KH·KW): wT[c][(o,kh,kw)] = w[o][c][KH−1−kh][KW−1−kw].
	gT := kernels.ConvGeom{C: cs.oc, H: cs.g.H, W: cs.g.W, KH: cs.g.KH, KW: cs.g.KW, StrideH: 1, StrideW: 1, PadH: cs.g.PadH, PadW: cs.g.PadW}
	kT := cs.oc * cs.g.KH * cs.g.KW
	// The input gradient's A operand (wT, or wᵀ for a lowered convolution)
	// is packed once for every chunk and worker.
	paT := &b.packWT
	if cs.implicit && dxd != nil {
		b.wT = grow(b.wT, cs.g.C*kT)
		kk := cs.g.KH * cs.g.KW
		for o := 0; o < cs.oc; o++ {
			for c := 0; c < cs.g.C; c++ {
				src := wd[(o*cs.g.C+c)*kk : (o*cs.g.C+c+1)*kk]
				dst := b.wT[c*kT+o*kk : c*kT+(o+1)*kk]
				for i, v := range src {
					dst[kk-1-i] = v
				}
			}
		}
		b.packA(paT, false, cs.g.C, kT, b.wT, kT)
	} else if dxd != nil {
		b.packA(paT, true, cs.k, cs.oc, wd, cs.k)
	}
	b.parallel(cs.n, 1, func(wk, lo, hi int) {
		st := &b.workers[wk]
		dwp, dbp := dwd, dbd
		if wk > 0 {
			if dwd != nil {
				st.dw = grow(st.dw, len(dwd))
				dwp = st.dw
			}
			if dbd != nil {
				st.db = grow(st.db, cs.oc)
				dbp = st.db
			}
		}
		if dbp != nil {
			clear(dbp)
		}
		beta := float32(0)
		for n0 := lo; n0 < hi; n0 += cs.chunk {
			g := min(cs.chunk, hi-n0)
			prefetchNext(xd, inSz, n0+g, min(n0+g+cs.chunk, hi))
			prefetchNext(dyd, outSz, n0+g, min(n0+g+cs.chunk, hi))
			ld := g * cs.pw
			// dyc: the chunk's output gradient as an (oc, g·pw) matrix,
			// which the implicit input gradient alone does not read.
			var dyc []float32
			switch {
			case dwp == nil && dbp == nil && cs.implicit:
			case g == 1 && !cs.wide:
				dyc = dyd[n0*outSz : (n0+1)*outSz]
			default:
				st.out = grow(st.out, cs.oc*ld)
				dyc = st.out
				for j := 0; j < g; j++ {
					img := dyd[(n0+j)*outSz : (n0+j+1)*outSz]
					if cs.wide {
						gatherWide(cs.g, img, cs.oc, dyc, ld, j)
						continue
					}
					for o := 0; o < cs.oc; o++ {
						copy(dyc[o*ld+j*cs.p:o*ld+(j+1)*cs.p], img[o*cs.p:(o+1)*cs.p])
					}
				}
			}
			if dbp != nil {
				for o := 0; o < cs.oc; o++ {
					var s float32
					for _, v := range dyc[o*ld : o*ld+ld] {
						s += v
					}
					dbp[o] += s
				}
			}
			// dW (oc,k) += dyc (oc,ld) · colᵀ (ld,k)
			switch {
			case dwp == nil:
			case cs.implicit:
				st.sameW.Reset(cs.g, g)
				st.sameW.SetImages(xd[n0*inSz : (n0+g)*inSz])
				st.gemm.SgemmPacked(false, cs.oc, cs.k, ld, 1, dyc, ld, &st.sameW, beta, dwp, cs.k)
			default:
				col := cs.columns(st, xd, inSz, n0, g, ld)
				st.gemm.Sgemm(false, true, cs.oc, cs.k, ld, 1, dyc, ld, col, ld, beta, dwp, cs.k)
			}
			beta = 1
			if dxd == nil {
				continue
			}
			if cs.implicit {
				st.sameT.Reset(gT, g)
				st.setImages(&st.sameT, dyd[n0*outSz:(n0+g)*outSz])
				if g == 1 {
					st.gemm.SgemmPackedA(paT, cs.p, 1, nil, 0, &st.sameT, 0, dxd[n0*inSz:(n0+1)*inSz], cs.p)
					continue
				}
				// dxc (c, g·p), reusing the column buffer, then scattered to NCHW.
				st.col = grow(st.col, cs.g.C*ld)
				dxc := st.col
				st.gemm.SgemmPackedA(paT, ld, 1, nil, 0, &st.sameT, 0, dxc, ld)
				for j := 0; j < g; j++ {
					img := dxd[(n0+j)*inSz : (n0+j+1)*inSz]
					for c := 0; c < cs.g.C; c++ {
						copy(img[c*cs.p:(c+1)*cs.p], dxc[c*ld+j*cs.p:])
					}
				}
				continue
			}
			if cs.pointwise && g == 1 {
				st.gemm.SgemmPackedA(paT, cs.p, 1, dyc, ld, nil, 0, dxd[n0*inSz:(n0+1)*inSz], cs.p)
				continue
			}
			// dcol (k,ld) = wᵀ (k,oc) · dyc (oc,ld), reusing the column buffer.
			st.col = grow(st.col, cs.k*ld)
			dcol := st.col
			st.gemm.SgemmPackedA(paT, ld, 1, dyc, ld, nil, 0, dcol, ld)
			for j := 0; j < g; j++ {
				cs.unlower(dcol[j*cs.pw:], ld, dxd[(n0+j)*inSz:(n0+j+1)*inSz])
			}
		}
	})
	// parallel used min(threads, n) workers; fold their partials into dw, db.
	parts := max(1, min(b.threads, cs.n))
	for wk := 1; wk < parts; wk++ {
		st := &b.workers[wk]
		if dwd != nil {
			for i, v := range st.dw[:len(dwd)] {
				dwd[i] += v
			}
		}
		if dbd != nil {
			for i, v := range st.db[:cs.oc] {
				dbd[i] += v
			}
		}
	}
}

// lower is im2col with leading dimension ld: whole-plane shifts for same
// convolutions, kernels.Im2colStride otherwise.
func lower(g kernels.ConvGeom, x, col []float32, ld int) {
	switch {
	case sameConv(g):
		im2colSame(g, x, col, ld)
	case g.StrideH == 2 && g.StrideW == 2:
		im2colS2(g, x, col, ld)
	default:
		kernels.Im2colStride(g, x, col, ld)
	}
}

// columns is the lowered matrix (k × ld) of the g images from n0 of xd
// (inSz values each): a 1×1 convolution of one image reads the image itself,
// anything else is lowered into st.col.
func (cs *convShape) columns(st *worker, xd []float32, inSz, n0, g, ld int) []float32 {
	if cs.pointwise && g == 1 {
		return xd[n0*inSz : (n0+1)*inSz]
	}
	st.col = grow(st.col, cs.k*ld)
	for j := 0; j < g; j++ {
		cs.lower(xd[(n0+j)*inSz:(n0+j+1)*inSz], st.col[j*cs.pw:], ld)
	}
	return st.col
}

// unlower is the matching col2im.
func unlower(g kernels.ConvGeom, col []float32, ld int, dx []float32) {
	switch {
	case sameConv(g):
		col2imSame(g, col, ld, dx)
	case g.StrideH == 2 && g.StrideW == 2:
		col2imS2(g, col, ld, dx)
	default:
		kernels.Col2imStride(g, col, ld, dx)
	}
}

// lower writes one image's lowered matrix (columns at col[0:pw], leading
// dimension ld): wide, whole-plane, stride-2 or generic im2col.
func (cs *convShape) lower(x, col []float32, ld int) {
	if cs.wide {
		im2colWide(cs.g, x, col, ld)
		return
	}
	lower(cs.g, x, col, ld)
}

// unlower is the matching col2im.
func (cs *convShape) unlower(col []float32, ld int, dx []float32) {
	if cs.wide {
		col2imWide(cs.g, col, ld, dx)
		return
	}
	unlower(cs.g, col, ld, dx)
}

// fullConv reports whether the kernel covers the whole unpadded input (a
// 1×1 output, LeNet's block3): the convolution is then a linear layer on
// the flattened image.
func fullConv(g kernels.ConvGeom) bool {
	return g.PadH == 0 && g.PadW == 0 && g.KH == g.H && g.KW == g.W
}
