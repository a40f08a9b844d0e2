//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"unsafe"

	"github.com/t2f/t2f/train/backend"
)

// defaultColLimit bounds the im2col matrix and the GEMM output of one
// convolution chunk (floats, 256 MiB); a convolution over more images runs in
// chunks of images.
const defaultColLimit = 1 << 26

// convChunk is the number of images per chunk.
func (b *Backend) convChunk(n, ckk, oc, ohw int) int {
	per := max(ckk, oc) * ohw
	nb := max(1, b.colLimit/max(per, 1))
	if per > maxLaunch {
		panic(fmt.Sprintf("cuda: conv: %d columns per image exceed one launch", per))
	}
	return min(n, nb)
}

type convDims struct {
	n, c, h, w, oc, kh, kw, oh, ow int
}

func convShapes(op string, x, w, y *backend.Tensor, p backend.ConvParams) convDims {
	var d convDims
	var wc int
	d.n, d.c, d.h, d.w = dims4(op, x)
	d.oc, wc, d.kh, d.kw = dims4(op, w)
	if wc != d.c {
		panic(fmt.Sprintf("cuda: %s: input %v and weight %v disagree on channels", op, x.Shape(), w.Shape()))
	}
	d.oh, d.ow = p.OutSize(d.h, d.w, d.kh, d.kw)
	mustShape(op, y, d.n, d.oc, d.oh, d.ow)
	return d
}

func (b *Backend) im2col(x devPtr, col devPtr, nb int, d convDims, p backend.ConvParams) {
	b.each("im2col", nb*d.oh*d.ow, ap(x), ap(col), ai(nb), ai(d.c), ai(d.h), ai(d.w), ai(d.kh), ai(d.kw),
		ai(p.StrideH), ai(p.StrideW), ai(p.PadH), ai(p.PadW), ai(d.oh), ai(d.ow))
}

// Conv2dForward: y = conv(x, w) + b, then ReLU when relu (im2col + GEMM per
// chunk of images: ycol (OC, nb·OH·OW) = w (OC, C·KH·KW) · col).
func (b *Backend) Conv2dForward(x, w, bias, y *backend.Tensor, p backend.ConvParams, relu bool) {
	d := convShapes("conv2d", x, w, y, p)
	if bias != nil {
		mustShape("conv2d bias", bias, d.oc)
	}
	ckk, ohw := d.c*d.kh*d.kw, d.oh*d.ow
	nb := b.convChunk(d.n, ckk, d.oc, ohw)
	col := b.ensure(&b.col, 4*ckk*nb*ohw)
	ycol := b.ensure(&b.col2, 4*d.oc*nb*ohw)
	for i0 := 0; i0 < d.n; i0 += nb {
		cur := min(nb, d.n-i0)
		np := cur * ohw
		b.im2col(ptr(x)+devPtr(4*i0*d.c*d.h*d.w), col, cur, d, p)
		b.gemmImpl.gemm(false, false, d.oc, np, ckk, 1, ptr(w), ckk, col, np, 0, ycol, np)
		b.each("cn_to_nchw", cur*d.oc*ohw, ap(ycol), ap(ptr(y)+devPtr(4*i0*d.oc*ohw)), ap(optPtr(bias)), ab(bias != nil), ab(relu),
			ai(cur), ai(d.oc), ai(ohw))
	}
}

// Conv2dBackward: db = Σ dy per channel; per chunk, dw += dycol · colᵀ and
// dx = col2im(wᵀ · dycol).
func (b *Backend) Conv2dBackward(x, w, dy, dx, dw, db *backend.Tensor, p backend.ConvParams) {
	d := convShapes("conv2d backward", x, w, dy, p)
	if dx != nil {
		mustShape("conv2d backward dx", dx, x.Shape()...)
	}
	if dw != nil {
		mustShape("conv2d backward dw", dw, w.Shape()...)
	}
	ckk, ohw := d.c*d.kh*d.kw, d.oh*d.ow
	if db != nil {
		mustShape("conv2d backward db", db, d.oc)
		b.dev.launch("channel_sum", d.oc, 1, rblock, []uint64{ap(ptr(dy)), ap(ptr(db)), ai(d.n), ai(d.oc), ai(ohw)})
	}
	nb := b.convChunk(d.n, ckk, d.oc, ohw)
	col := b.ensure(&b.col, 4*ckk*nb*ohw)
	dycol := b.ensure(&b.col2, 4*d.oc*nb*ohw)
	for i0 := 0; i0 < d.n; i0 += nb {
		cur := min(nb, d.n-i0)
		np := cur * ohw
		b.each("nchw_to_cn", cur*d.oc*ohw, ap(ptr(dy)+devPtr(4*i0*d.oc*ohw)), ap(dycol), ai(cur), ai(d.oc), ai(ohw))
		if dw != nil {
			b.im2col(ptr(x)+devPtr(4*i0*d.c*d.h*d.w), col, cur, d, p)
			beta := float32(1)
			if i0 == 0 {
				beta = 0
			}
			b.gemmImpl.gemm(false, true, d.oc, ckk, np, 1, dycol, np, col, np, beta, ptr(dw), ckk)
		}
		if dx != nil {
			b.gemmImpl.gemm(true, false, ckk, np, d.oc, 1, ptr(w), ckk, dycol, np, 0, col, np)
			b.each("col2im", cur*d.c*d.h*d.w, ap(col), ap(ptr(dx)+devPtr(4*i0*d.c*d.h*d.w)), ai(cur), ai(d.c), ai(d.h), ai(d.w),
				ai(d.kh), ai(d.kw), ai(p.StrideH), ai(p.StrideW), ai(p.PadH), ai(p.PadW), ai(d.oh), ai(d.ow))
		}
	}
}

// LinearForward: y (N,O) = x (N,I) · wᵀ + b, then ReLU when relu.
func (b *Backend) LinearForward(x, w, bias, y *backend.Tensor, relu bool) {
	n, in := dims2("linear", x)
	o, wi := dims2("linear", w)
	if wi != in {
		panic(fmt.Sprintf("cuda: linear: input %v and weight %v disagree", x.Shape(), w.Shape()))
	}
	mustShape("linear", y, n, o)
	b.gemmImpl.gemm(false, true, n, o, in, 1, ptr(x), in, ptr(w), in, 0, ptr(y), o)
	switch {
	case bias != nil:
		mustShape("linear bias", bias, o)
		b.each("bias_rows", n*o, ap(ptr(y)), ap(ptr(bias)), ai(n), ai(o), ab(relu))
	case relu:
		b.each("relu_fwd", n*o, ap(ptr(y)), ap(ptr(y)), ai(n*o))
	}
}

// LinearBackward: dx = dy · w, dw = dyᵀ · x, db = Σ dy over rows.
func (b *Backend) LinearBackward(x, w, dy, dx, dw, db *backend.Tensor) {
	n, in := dims2("linear backward", x)
	o, _ := dims2("linear backward", w)
	mustShape("linear backward w", w, o, in)
	mustShape("linear backward dy", dy, n, o)
	mustShape("linear backward dw", dw, o, in)
	if dx != nil {
		mustShape("linear backward dx", dx, n, in)
		b.gemmImpl.gemm(false, false, n, in, o, 1, ptr(dy), o, ptr(w), in, 0, ptr(dx), in)
	}
	b.gemmImpl.gemm(true, false, o, in, n, 1, ptr(dy), o, ptr(x), in, 0, ptr(dw), in)
	if db != nil {
		mustShape("linear backward db", db, o)
		b.each("col_sum", o, ap(ptr(dy)), ap(ptr(db)), ai(n), ai(o))
	}
}

// bnSlices is the number of blocks per channel of the BatchNorm reductions.
func bnSlices(m, c int) int {
	p := (m + 4095) / 4096
	if c < 256 { // spread small channel counts over more blocks
		p = max(p, min((m+1023)/1024, 512/max(c, 1)))
	}
	return max(1, min(p, 256))
}

func bnShapes(op string, x, y *backend.Tensor, ch ...*backend.Tensor) (n, c, s int) {
	n, c, h, w := dims4(op, x)
	mustShape(op, y, x.Shape()...)
	for _, t := range ch {
		mustShape(op, t, c)
	}
	return n, c, h * w
}

// BatchNormTrain normalises with the batch statistics (see backend.Backend).
func (b *Backend) BatchNormTrain(x, gamma, beta, y, runMean, runVar, saveMean, saveInvStd *backend.Tensor, p backend.BatchNormParams, relu bool) {
	n, c, s := bnShapes("batch norm", x, y, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	m := n * s
	if m < 2 {
		panic(fmt.Sprintf("cuda: batch norm: input %v has one value per channel", x.Shape()))
	}
	ps := bnSlices(m, c)
	part := b.ensure(&b.part, 8*2*c*ps)
	b.dev.launch("bn_stats_partial", ps, c, rblock, []uint64{ap(ptr(x)), ap(part), ai(n), ai(c), ai(s), ai(ps)})
	b.each("bn_stats_final", c, ap(part), ai(ps), ai(c), ai(m), ap(ptr(saveMean)), ap(ptr(saveInvStd)),
		ap(ptr(runMean)), ap(ptr(runVar)), af(p.Momentum), af(p.Eps))
	b.each("bn_apply", n*c*s, ap(ptr(x)), ap(ptr(y)), ap(ptr(saveMean)), ap(ptr(saveInvStd)), ap(ptr(gamma)), ap(ptr(beta)),
		ai(n), ai(c), ai(s), ab(relu))
}

// BatchNormEval normalises with the running statistics.
func (b *Backend) BatchNormEval(x, gamma, beta, y, runMean, runVar *backend.Tensor, eps float32, relu bool) {
	n, c, s := bnShapes("batch norm eval", x, y, gamma, beta, runMean, runVar)
	b.each("bn_eval", n*c*s, ap(ptr(x)), ap(ptr(y)), ap(ptr(runMean)), ap(ptr(runVar)), ap(ptr(gamma)), ap(ptr(beta)),
		af(eps), ai(n), ai(c), ai(s), ab(relu))
}

// BatchNormBackward is the gradient of BatchNormTrain.
func (b *Backend) BatchNormBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta *backend.Tensor, relu bool) {
	n, c, s := bnShapes("batch norm backward", x, y, gamma, saveMean, saveInvStd, dgamma, dbeta)
	mustShape("batch norm backward dy", dy, x.Shape()...)
	mustShape("batch norm backward dx", dx, x.Shape()...)
	m := n * s
	ps := bnSlices(m, c)
	part := b.ensure(&b.part, 8*2*c*ps)
	coef := b.ensure(&b.coef, 4*3*c)
	b.dev.launch("bn_bwd_partial", ps, c, rblock, []uint64{ap(ptr(x)), ap(ptr(y)), ap(ptr(dy)), ap(ptr(saveMean)), ap(part),
		ai(n), ai(c), ai(s), ai(ps), ab(relu)})
	b.each("bn_bwd_final", c, ap(part), ai(ps), ai(c), ai(m), ap(ptr(gamma)), ap(ptr(saveInvStd)), ap(ptr(dgamma)), ap(ptr(dbeta)), ap(coef))
	b.each("bn_bwd_dx", n*c*s, ap(ptr(x)), ap(ptr(y)), ap(ptr(dy)), ap(ptr(saveMean)), ap(coef), ap(ptr(dx)), ai(n), ai(c), ai(s), ab(relu))
}

// ReLU: y = max(x, 0).
func (b *Backend) ReLU(x, y *backend.Tensor) {
	mustNumel("relu", x, y)
	b.each("relu_fwd", x.Numel(), ap(ptr(x)), ap(ptr(y)), ai(x.Numel()))
}

// ReLUBackward: dx = dy where y > 0, else 0.
func (b *Backend) ReLUBackward(y, dy, dx *backend.Tensor) {
	mustNumel("relu backward", y, dy)
	mustNumel("relu backward", y, dx)
	b.each("relu_bwd", y.Numel(), ap(ptr(y)), ap(ptr(dy)), ap(ptr(dx)), ai(y.Numel()))
}

// Add: y = a + c.
func (b *Backend) Add(a, c, y *backend.Tensor) {
	mustNumel("add", a, c)
	mustNumel("add", a, y)
	b.each("add", a.Numel(), ap(ptr(a)), ap(ptr(c)), ap(ptr(y)), ai(a.Numel()))
}

// AddReLU: y = max(a + c, 0).
func (b *Backend) AddReLU(a, c, y *backend.Tensor) {
	mustNumel("add relu", a, c)
	mustNumel("add relu", a, y)
	b.each("add_relu", a.Numel(), ap(ptr(a)), ap(ptr(c)), ap(ptr(y)), ai(a.Numel()))
}

// DivScalar: y = x / s.
func (b *Backend) DivScalar(x, y *backend.Tensor, s float32) {
	mustNumel("div scalar", x, y)
	b.each("div_scalar", x.Numel(), ap(ptr(x)), ap(ptr(y)), af(s), ai(x.Numel()))
}

func poolShapes(op string, x, y *backend.Tensor, p backend.PoolParams) (n, c, h, w, oh, ow int) {
	n, c, h, w = dims4(op, x)
	oh, ow = p.OutSize(h, w)
	mustShape(op, y, n, c, oh, ow)
	return
}

// MaxPool2dForward: y = max over each window of x.
func (b *Backend) MaxPool2dForward(x, y *backend.Tensor, p backend.PoolParams) {
	n, c, h, w, oh, ow := poolShapes("max pool", x, y, p)
	b.each("maxpool_fwd", n*c*oh*ow, ap(ptr(x)), ap(ptr(y)), ai(n), ai(c), ai(h), ai(w), ai(oh), ai(ow),
		ai(p.KH), ai(p.KW), ai(p.StrideH), ai(p.StrideW), ai(p.PadH), ai(p.PadW))
}

// MaxPool2dBackward routes dy to the first maximum of each window.
func (b *Backend) MaxPool2dBackward(x, y, dy, dx *backend.Tensor, p backend.PoolParams, reluInput bool) {
	n, c, h, w, oh, ow := poolShapes("max pool backward", x, y, p)
	mustShape("max pool backward dy", dy, y.Shape()...)
	mustShape("max pool backward dx", dx, x.Shape()...)
	b.each("maxpool_bwd", n*c*h*w, ap(ptr(x)), ap(ptr(y)), ap(ptr(dy)), ap(ptr(dx)), ai(n), ai(c), ai(h), ai(w), ai(oh), ai(ow),
		ai(p.KH), ai(p.KW), ai(p.StrideH), ai(p.StrideW), ai(p.PadH), ai(p.PadW), ab(reluInput))
}

// GlobalAvgPoolForward: y (N,C) = mean over H×W of x.
func (b *Backend) GlobalAvgPoolForward(x, y *backend.Tensor) {
	n, c, h, w := dims4("global avg pool", x)
	mustShape("global avg pool", y, n, c)
	b.each("gap_fwd", n*c, ap(ptr(x)), ap(ptr(y)), ai(n*c), ai(h*w))
}

// GlobalAvgPoolBackward: dx = dy/(H·W) broadcast.
func (b *Backend) GlobalAvgPoolBackward(dy, dx *backend.Tensor) {
	n, c, h, w := dims4("global avg pool backward", dx)
	mustShape("global avg pool backward", dy, n, c)
	b.each("gap_bwd", n*c*h*w, ap(ptr(dy)), ap(ptr(dx)), ai(n*c), ai(h*w))
}

// RowNormalize: norms[n] = ‖x[n]‖, y[n] = (x[n]/max(norms[n],eps))/s.
func (b *Backend) RowNormalize(x, y, norms *backend.Tensor, s, eps float32) {
	n, k := dims2("row normalize", x)
	mustShape("row normalize", y, n, k)
	mustShape("row normalize", norms, n)
	if n > 0 {
		b.dev.launch("rownorm_fwd", n, 1, rblock, []uint64{ap(ptr(x)), ap(ptr(y)), ap(ptr(norms)), ai(k), af(s), af(eps)})
	}
}

// RowNormalizeBackward is the gradient of RowNormalize.
func (b *Backend) RowNormalizeBackward(x, norms, dy, dx *backend.Tensor, s, eps float32) {
	n, k := dims2("row normalize backward", x)
	mustShape("row normalize backward", norms, n)
	mustShape("row normalize backward", dy, n, k)
	mustShape("row normalize backward", dx, n, k)
	if n > 0 {
		b.dev.launch("rownorm_bwd", n, 1, rblock, []uint64{ap(ptr(x)), ap(ptr(norms)), ap(ptr(dy)), ap(ptr(dx)), ai(k), af(s), af(eps)})
	}
}

// SoftmaxCrossEntropy returns the mean cross-entropy (per-row losses in
// double on the device, summed on the host in row order) and writes dz.
func (b *Backend) SoftmaxCrossEntropy(logits *backend.Tensor, labels []int32, dlogits *backend.Tensor) float64 {
	n, k := dims2("softmax cross-entropy", logits)
	if len(labels) != n {
		panic(fmt.Sprintf("cuda: softmax cross-entropy: %d labels for logits %v", len(labels), logits.Shape()))
	}
	for _, l := range labels {
		if l < 0 || int(l) >= k {
			panic(fmt.Sprintf("cuda: softmax cross-entropy: label %d outside [0,%d)", l, k))
		}
	}
	if dlogits != nil {
		mustShape("softmax cross-entropy", dlogits, n, k)
	}
	if n == 0 {
		return 0
	}
	lab := b.ensure(&b.labels, 4*n)
	b.dev.htod(lab, unsafe.Pointer(&labels[0]), 4*n)
	losses := b.ensure(&b.losses, 8*n)
	b.dev.launch("softmax_ce", n, 1, rblock, []uint64{ap(ptr(logits)), ap(lab), ap(optPtr(dlogits)), ap(losses), ai(n), ai(k), ab(dlogits != nil)})
	if cap(b.hostF64) < n {
		b.hostF64 = make([]float64, n)
	}
	host := b.hostF64[:n]
	b.dev.dtoh(unsafe.Pointer(&host[0]), losses, 8*n)
	b.dev.sync()
	var total float64
	for _, l := range host {
		total += l
	}
	return total / float64(n)
}

// SGDStep applies one torch.optim.SGD update.
func (b *Backend) SGDStep(param, grad, buf *backend.Tensor, p backend.SGDParams, first bool) {
	mustNumel("sgd", param, grad)
	var bp devPtr
	if p.Momentum != 0 {
		mustNumel("sgd", param, buf)
		bp = ptr(buf)
	}
	n := param.Numel()
	b.each("sgd", n, ap(ptr(param)), ap(ptr(grad)), ap(bp), ai(n), af(p.LR), af(p.Momentum), af(p.WeightDecay), ab(p.Nesterov), ab(first))
}

// NonFinite reports whether t holds a NaN or an infinity (waits for the
// stream).
func (b *Backend) NonFinite(t *backend.Tensor) bool {
	n := t.Numel()
	if n == 0 {
		return false
	}
	flag := b.ensure(&b.flag, 4)
	b.dev.memset32(flag, 0, 1)
	b.each("nonfinite", n, ap(ptr(t)), ai(n), ap(flag))
	var got int32
	b.dev.dtoh(unsafe.Pointer(&got), flag, 4)
	b.dev.sync()
	return got != 0
}
