package backend

// ConvParams are a 2-D convolution's stride and zero padding; the kernel size
// comes from the weight tensor (out, in, kh, kw).
type ConvParams struct {
	StrideH, StrideW int
	PadH, PadW       int
}

// PoolParams describe a max-pooling window (PyTorch MaxPool2d with
// dilation 1, ceil_mode false; padded positions never win).
type PoolParams struct {
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
}

// OutSize is the pooled output size for an H×W input.
func (p PoolParams) OutSize(h, w int) (int, int) {
	return (h+2*p.PadH-p.KH)/p.StrideH + 1, (w+2*p.PadW-p.KW)/p.StrideW + 1
}

// OutSize is the convolution output size for an H×W input and a KH×KW kernel.
func (p ConvParams) OutSize(h, w, kh, kw int) (int, int) {
	return (h+2*p.PadH-kh)/p.StrideH + 1, (w+2*p.PadW-kw)/p.StrideW + 1
}

// BatchNormParams are BatchNorm2d's running-average momentum (PyTorch
// default 0.1) and variance epsilon (default 1e-5).
type BatchNormParams struct {
	Momentum float32
	Eps      float32
}

// SGDParams is one step of torch.optim.SGD (dampening 0).
type SGDParams struct {
	LR          float32
	Momentum    float32
	WeightDecay float32
	Nesterov    bool
}

// Backend is the set of operations the t2f networks are built from. Shapes
// in the comments: N batch, C channels, H×W spatial, K classes/features.
// Every output is overwritten; see the package comment for the conventions.
type Backend interface {
	// Name identifies the backend ("cpu", "cuda").
	Name() string
	// Precision is the arithmetic of the convolutions and linear layers.
	Precision() Precision

	// Alloc returns a zero-filled tensor of the given shape.
	Alloc(shape ...int) *Tensor
	// Free releases t's storage; t must not be used afterwards. Backends with
	// garbage-collected storage may make it a no-op.
	Free(t *Tensor)
	// Upload copies host data into dst; len(src) == dst.Numel().
	Upload(dst *Tensor, src []float32)
	// Download copies src into host memory; len(dst) == src.Numel().
	Download(dst []float32, src *Tensor)
	// Fill sets every element of t to v.
	Fill(t *Tensor, v float32)
	// Copy copies src into dst (same element count).
	Copy(dst, src *Tensor)

	// Conv2dForward: y (N,OC,OH,OW) = conv(x (N,C,H,W), w (OC,C,KH,KW))
	// + b (OC) when b != nil, then max(·,0) when relu.
	Conv2dForward(x, w, b, y *Tensor, p ConvParams, relu bool)
	// Conv2dBackward: from dy (N,OC,OH,OW) writes dx, dw and db, each
	// skipped when nil (an input gradient alone: dw and db nil, x read for
	// its shape only).
	Conv2dBackward(x, w, dy, dx, dw, db *Tensor, p ConvParams)

	// LinearForward: y (N,O) = x (N,I) · wᵀ (w: O,I) + b (O), then max(·,0)
	// when relu.
	LinearForward(x, w, b, y *Tensor, relu bool)
	// LinearBackward: from dy (N,O) writes dx (skipped when nil), dw, db.
	LinearBackward(x, w, dy, dx, dw, db *Tensor)

	// BatchNormTrain normalises x (N,C,H,W) with the batch statistics:
	// y = γ·(x−μ)/√(σ²+eps) + β with the biased variance σ², then max(·,0)
	// when relu. It stores μ in saveMean and 1/√(σ²+eps) in saveInvStd (C)
	// and updates runMean and runVar (C) in place with momentum m:
	// run = (1−m)·run + m·stat, using the unbiased variance for runVar.
	// N·H·W must exceed 1.
	BatchNormTrain(x, gamma, beta, y, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams, relu bool)
	// BatchNormEval normalises with the running statistics.
	BatchNormEval(x, gamma, beta, y, runMean, runVar *Tensor, eps float32, relu bool)
	// BatchNormBackward is the gradient of BatchNormTrain: from dy (masked by
	// y > 0 first when relu) writes dx, dgamma and dbeta.
	BatchNormBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta *Tensor, relu bool)

	// ReLU: y = max(x, 0).
	ReLU(x, y *Tensor)
	// ReLUBackward: dx = dy where y > 0, else 0. dx may alias dy.
	ReLUBackward(y, dy, dx *Tensor)
	// Add: y = a + b (same shapes). y may alias a or b.
	Add(a, b, y *Tensor)
	// AddReLU: y = max(a + b, 0) (the residual join). y may alias a or b.
	AddReLU(a, b, y *Tensor)
	// DivScalar: y = x / s.
	DivScalar(x, y *Tensor, s float32)

	// MaxPool2dForward: y (N,C,OH,OW) = max over each window of x (N,C,H,W).
	MaxPool2dForward(x, y *Tensor, p PoolParams)
	// MaxPool2dBackward routes dy to the first maximal element of each window
	// (row-major scan, as PyTorch), summing where windows overlap. With
	// reluInput, x is a ReLU output and the ReLU's gradient is applied too:
	// nothing is routed to a maximum ≤ 0 (the fused ReLU+pool backward).
	MaxPool2dBackward(x, y, dy, dx *Tensor, p PoolParams, reluInput bool)
	// GlobalAvgPoolForward: y (N,C) = mean over H×W of x (N,C,H,W).
	GlobalAvgPoolForward(x, y *Tensor)
	// GlobalAvgPoolBackward: dx (N,C,H,W) = dy (N,C) / (H·W), broadcast.
	GlobalAvgPoolBackward(dy, dx *Tensor)

	// RowNormalize is the T2FNorm projection, row by row of x (N,K):
	// norms[n] = ‖x[n]‖₂ and y[n] = (x[n] / max(norms[n], eps)) / s
	// (PyTorch's F.normalize followed by a division by τ).
	RowNormalize(x, y, norms *Tensor, s, eps float32)
	// RowNormalizeBackward is its exact gradient: from dy writes dx.
	RowNormalizeBackward(x, norms, dy, dx *Tensor, s, eps float32)

	// SoftmaxCrossEntropy returns the mean over rows of −log softmax(z)[label]
	// for logits z (N,K) and writes dz = (softmax(z) − onehot(label)) / N into
	// dlogits unless it is nil. Labels must lie in [0, K).
	SoftmaxCrossEntropy(logits *Tensor, labels []int32, dlogits *Tensor) float64

	// SGDStep applies torch.optim.SGD's update to param, in PyTorch's order:
	// d = grad + wd·param; buf = d on the first step, else momentum·buf + d;
	// d = d + momentum·buf when Nesterov, else buf; param -= lr·d.
	// buf is unused when Momentum is 0.
	SGDStep(param, grad, buf *Tensor, p SGDParams, first bool)

	// NonFinite reports whether t holds a NaN or an infinity.
	NonFinite(t *Tensor) bool
}

// ConvBatchNormEvaler is an optional Backend operation: the eval-mode
// conv → BatchNorm (→ + residual) (→ ReLU) chain of a ResNet in one call.
// Conv2dBatchNormEval(x, w, y, p, γ, β, μ, σ², eps, res, relu) must write
// exactly (bit for bit) what Conv2dForward(x, w, nil, t, p, false);
// BatchNormEval(t, γ, β, u, μ, σ², eps, relu && res == nil); and, when res
// is not nil, Add or AddReLU(u, res, y) write. Networks use it when their
// backend has it and the separate ops otherwise; the conformance suite
// checks the equality.
type ConvBatchNormEvaler interface {
	Conv2dBatchNormEval(x, w, y *Tensor, p ConvParams, gamma, beta, runMean, runVar *Tensor, eps float32, res *Tensor, relu bool)
}

// RowViewer is an optional Backend operation: RowView(t, lo, hi) is a
// tensor of shape (hi−lo, t's other extents) over rows [lo, hi) of t's
// leading dimension, sharing t's storage (no copy: writes through either
// handle show in both). 0 ≤ lo ≤ hi ≤ t.Shape()[0]. The inference forward
// uses it to run a large batch through the network a few images at a time
// (nn.Model.Infer); backends without it run the batch whole.
type RowViewer interface {
	RowView(t *Tensor, lo, hi int) *Tensor
}
