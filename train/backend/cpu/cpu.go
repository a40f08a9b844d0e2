package cpu

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

// Backend runs every op on the host. It is not safe for concurrent use.
type Backend struct {
	threads int
	prec    backend.Precision
	workers []worker
	team    *kernels.Team // the goroutines of parallel loops
	wT      []float32     // flipped, transposed conv weights (implicit input gradient)
	bnA     []float32     // eval BatchNorm scale and shift per channel (Conv2dBatchNormEval)
	bnC     []float32
	// packW, packWT: a convolution's weights (forward) and the A operand of
	// its input gradient, packed once per call for every worker.
	packW, packWT kernels.PackedA
}

// worker is the per-thread state: a single-threaded GEMM engine and scratch.
type worker struct {
	gemm *kernels.Gemm
	col  []float32 // im2col columns / column gradients
	out  []float32 // GEMM output of a chunk of images before scattering
	dw   []float32 // weight-gradient partial (workers > 0)
	db   []float32 // bias-gradient partial
	xr   []float32 // a chunk's images rounded to bfloat16 (BF16 implicit products)
	pool []float32 // max-pool row maxima of one plane
	// same packs an image's lowered matrix straight into the GEMM (implicit
	// convolution, forward); sameT the output gradient's (input gradient);
	// sameW the image's, transposed (weight gradient).
	same, sameT kernels.SamePacker
	sameW       kernels.SameTPacker
}

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.RowViewer = (*Backend)(nil)
)

// New returns an fp32 CPU backend that uses up to threads goroutines per op
// (threads < 1 means 1).
func New(threads int) *Backend {
	b, _ := NewPrecision(threads, backend.FP32)
	return b
}

// NewPrecision is New with the given arithmetic for convolutions and linear
// layers. With backend.BF16 every product of those ops (forward, input and
// weight gradients) rounds both operands to bfloat16 and sums in float32 as
// VDPBF16PS does — on the instruction where the CPU has AVX512_BF16, else on
// its exact emulation (kernels.NewGemmPrecision), so results do not depend on
// the machine. Everything else is float32 as with FP32.
func NewPrecision(threads int, p backend.Precision) (*Backend, error) {
	kp := kernels.FP32
	switch p {
	case backend.FP32, "":
		p = backend.FP32
	case backend.BF16:
		kp = kernels.BF16
	default:
		return nil, fmt.Errorf("cpu: precision %q: want fp32 or bf16", p)
	}
	threads = max(threads, 1)
	b := &Backend{threads: threads, prec: p, workers: make([]worker, threads), team: kernels.NewTeam(threads)}
	for i := range b.workers {
		b.workers[i].gemm = kernels.NewGemmPrecision(1, kp)
	}
	return b, nil
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Precision is the arithmetic of the convolutions and linear layers.
func (b *Backend) Precision() backend.Precision { return b.prec }

// Kernel names the GEMM micro-kernel the products run on ("avx512",
// "avx512bf16", "go-bf16emu", …; see kernels.Gemm.Kernel).
func (b *Backend) Kernel() string { return b.workers[0].gemm.Kernel() }

// Threads is the number of goroutines an op may use.
func (b *Backend) Threads() int { return b.threads }

// Data returns the host storage of a tensor allocated by a CPU backend. It
// panics for a tensor of another backend.
func Data(t *backend.Tensor) []float32 {
	d, ok := t.Storage().([]float32)
	if !ok {
		panic(fmt.Sprintf("cpu: tensor %v is not a cpu tensor (storage %T)", t.Shape(), t.Storage()))
	}
	return d
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// parallel splits [0,n) into at most b.threads contiguous ranges of at least
// grain items and runs fn on each (kernels.Team: polling helpers, so a split
// costs about a microsecond instead of a goroutine wake-up). w indexes the
// per-worker scratch.
func (b *Backend) parallel(n, grain int, fn func(w, lo, hi int)) {
	b.team.For(n, grain, fn)
}

func mustShape(op string, t *backend.Tensor, want ...int) {
	if !t.Shape().Equal(want) {
		panic(fmt.Sprintf("cpu: %s: tensor %v, want %v", op, t.Shape(), backend.Shape(want)))
	}
}

func mustNumel(op string, a, b *backend.Tensor) {
	if a.Numel() != b.Numel() {
		panic(fmt.Sprintf("cpu: %s: tensors %v and %v differ in size", op, a.Shape(), b.Shape()))
	}
}

func dims4(op string, t *backend.Tensor) (int, int, int, int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("cpu: %s: tensor %v, want 4-D (N,C,H,W)", op, s))
	}
	return s[0], s[1], s[2], s[3]
}

func dims2(op string, t *backend.Tensor) (int, int) {
	s := t.Shape()
	if len(s) != 2 {
		panic(fmt.Sprintf("cpu: %s: tensor %v, want 2-D", op, s))
	}
	return s[0], s[1]
}

// Alloc returns a zero-filled host tensor.
func (b *Backend) Alloc(shape ...int) *backend.Tensor {
	s := backend.Shape(shape)
	for _, d := range s {
		if d < 0 {
			panic(fmt.Sprintf("cpu: alloc: negative extent in %v", s))
		}
	}
	return backend.NewTensor(s, make([]float32, s.Numel()))
}

// RowView is rows [lo, hi) of t's leading dimension over t's storage
// (backend.RowViewer).
func (b *Backend) RowView(t *backend.Tensor, lo, hi int) *backend.Tensor {
	s := t.Shape()
	if len(s) == 0 || lo < 0 || lo > hi || hi > s[0] {
		panic(fmt.Sprintf("cpu: row view [%d, %d) of tensor %v", lo, hi, s))
	}
	per := 1
	for _, d := range s[1:] {
		per *= d
	}
	v := s.Clone()
	v[0] = hi - lo
	return backend.NewTensor(v, Data(t)[lo*per:hi*per:hi*per])
}

// Free is a no-op: host storage is garbage collected.
func (b *Backend) Free(*backend.Tensor) {}

// Upload copies src into dst.
func (b *Backend) Upload(dst *backend.Tensor, src []float32) {
	d := Data(dst)
	if len(src) != len(d) {
		panic(fmt.Sprintf("cpu: upload: %d values into tensor %v", len(src), dst.Shape()))
	}
	copy(d, src)
}

// Download copies src into dst.
func (b *Backend) Download(dst []float32, src *backend.Tensor) {
	s := Data(src)
	if len(dst) != len(s) {
		panic(fmt.Sprintf("cpu: download: tensor %v into %d values", src.Shape(), len(dst)))
	}
	copy(dst, s)
}

// Fill sets every element to v.
func (b *Backend) Fill(t *backend.Tensor, v float32) {
	d := Data(t)
	for i := range d {
		d[i] = v
	}
}

// Copy copies src into dst.
func (b *Backend) Copy(dst, src *backend.Tensor) {
	mustNumel("copy", dst, src)
	copy(Data(dst), Data(src))
}

const elemGrain = 1 << 15 // elementwise ops split across threads above this size

// ReLU: y = max(x, 0).
func (b *Backend) ReLU(x, y *backend.Tensor) {
	mustNumel("relu", x, y)
	xd, yd := Data(x), Data(y)
	b.parallel(len(xd), elemGrain, func(_, lo, hi int) {
		kernels.Affine(yd[lo:hi], xd[lo:hi], 1, 0, true)
	})
}

// ReLUBackward: dx = dy where y > 0, else 0.
func (b *Backend) ReLUBackward(y, dy, dx *backend.Tensor) {
	mustNumel("relu backward", y, dy)
	mustNumel("relu backward", y, dx)
	yd, dyd, dxd := Data(y), Data(dy), Data(dx)
	b.parallel(len(yd), elemGrain, func(_, lo, hi int) {
		reluMask(yd[lo:hi], dyd[lo:hi], dxd[lo:hi])
	})
}

func reluMask(y, dy, dx []float32) {
	kernels.ReLUMask(dx[:len(y)], dy[:len(y)], y)
}

// Add: y = a + b.
func (b *Backend) Add(a, c, y *backend.Tensor) {
	mustNumel("add", a, c)
	mustNumel("add", a, y)
	ad, cd, yd := Data(a), Data(c), Data(y)
	b.parallel(len(ad), elemGrain, func(_, lo, hi int) {
		kernels.AddVec(yd[lo:hi], ad[lo:hi], cd[lo:hi], false)
	})
}

// AddReLU: y = max(a + b, 0).
func (b *Backend) AddReLU(a, c, y *backend.Tensor) {
	mustNumel("add relu", a, c)
	mustNumel("add relu", a, y)
	ad, cd, yd := Data(a), Data(c), Data(y)
	b.parallel(len(ad), elemGrain, func(_, lo, hi int) {
		kernels.AddVec(yd[lo:hi], ad[lo:hi], cd[lo:hi], true)
	})
}

// DivScalar: y = x / s.
func (b *Backend) DivScalar(x, y *backend.Tensor, s float32) {
	mustNumel("div scalar", x, y)
	xd, yd := Data(x), Data(y)
	for i, v := range xd {
		yd[i] = v / s
	}
}

// NonFinite reports whether t holds a NaN or an infinity.
func (b *Backend) NonFinite(t *backend.Tensor) bool {
	for _, v := range Data(t) {
		if v-v != 0 { // NaN or ±Inf
			return true
		}
	}
	return false
}

// SGDStep applies one torch.optim.SGD update (see backend.Backend).
func (b *Backend) SGDStep(param, grad, buf *backend.Tensor, p backend.SGDParams, first bool) {
	mustNumel("sgd", param, grad)
	pd, gd := Data(param), Data(grad)
	var bd []float32
	if p.Momentum != 0 {
		mustNumel("sgd", param, buf)
		bd = Data(buf)
	}
	wd, mom, lr := p.WeightDecay, p.Momentum, p.LR
	b.parallel(len(pd), elemGrain, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d := gd[i]
			if wd != 0 {
				d = d + wd*pd[i]
			}
			if mom != 0 {
				if first {
					bd[i] = d
				} else {
					bd[i] = mom*bd[i] + d
				}
				if p.Nesterov {
					d = d + mom*bd[i]
				} else {
					d = bd[i]
				}
			}
			pd[i] = pd[i] + (-lr)*d
		}
	})
}

// SoftmaxCrossEntropy returns the mean cross-entropy and writes its gradient.
func (b *Backend) SoftmaxCrossEntropy(logits *backend.Tensor, labels []int32, dlogits *backend.Tensor) float64 {
	n, k := dims2("softmax cross-entropy", logits)
	if len(labels) != n {
		panic(fmt.Sprintf("cpu: softmax cross-entropy: %d labels for logits %v", len(labels), logits.Shape()))
	}
	z := Data(logits)
	var dz []float32
	if dlogits != nil {
		mustShape("softmax cross-entropy", dlogits, n, k)
		dz = Data(dlogits)
	}
	var total float64
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		l := int(labels[i])
		if l < 0 || l >= k {
			panic(fmt.Sprintf("cpu: softmax cross-entropy: label %d outside [0,%d)", l, k))
		}
		m := float64(row[0])
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		total += lse - float64(row[l])
		if dz != nil {
			d := dz[i*k : (i+1)*k]
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == l {
					p--
				}
				d[j] = float32(p / float64(n))
			}
		}
	}
	return total / float64(n)
}

// RowNormalize writes norms[n] = ‖x[n]‖ and y[n] = (x[n]/max(norms[n],eps))/s.
func (b *Backend) RowNormalize(x, y, norms *backend.Tensor, s, eps float32) {
	n, k := dims2("row normalize", x)
	mustShape("row normalize", y, n, k)
	mustShape("row normalize", norms, n)
	xd, yd, nd := Data(x), Data(y), Data(norms)
	for i := 0; i < n; i++ {
		row := xd[i*k : (i+1)*k]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		nrm := float32(math.Sqrt(ss))
		nd[i] = nrm
		den := max(nrm, eps)
		out := yd[i*k : (i+1)*k]
		for j, v := range row {
			out[j] = (v / den) / s
		}
	}
}

// RowNormalizeBackward is the gradient of RowNormalize: with g = dy/s and
// r = max(‖x‖,eps), dx = g/r − x·(x·g)/r³ when ‖x‖ > eps, else g/eps.
func (b *Backend) RowNormalizeBackward(x, norms, dy, dx *backend.Tensor, s, eps float32) {
	n, k := dims2("row normalize backward", x)
	mustShape("row normalize backward", norms, n)
	mustShape("row normalize backward", dy, n, k)
	mustShape("row normalize backward", dx, n, k)
	xd, nd, dyd, dxd := Data(x), Data(norms), Data(dy), Data(dx)
	for i := 0; i < n; i++ {
		xr, gr, out := xd[i*k:(i+1)*k], dyd[i*k:(i+1)*k], dxd[i*k:(i+1)*k]
		nrm := float64(nd[i])
		if nd[i] <= eps {
			for j, g := range gr {
				out[j] = float32(float64(g) / float64(s) / float64(eps))
			}
			continue
		}
		var dot float64
		for j, g := range gr {
			dot += float64(xr[j]) * float64(g)
		}
		dot /= float64(s)
		c := dot / (nrm * nrm * nrm)
		for j, g := range gr {
			out[j] = float32(float64(g)/float64(s)/nrm - float64(xr[j])*c)
		}
	}
}
