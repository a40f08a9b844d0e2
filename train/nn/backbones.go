package nn

import (
	"math"

	"github.com/t2f/t2f/train/backend"
)

// backbone maps an image batch to the penultimate feature (N, F).
type backbone interface {
	forward(x *backend.Tensor, train bool) *backend.Tensor
	// backward back-propagates df through the last forward (training or
	// eval) and returns the input gradient when inputGrad, else nil.
	backward(df *backend.Tensor, inputGrad bool) *backend.Tensor
	// infer is forward(x, false) keeping nothing for a backward pass,
	// writing the feature into f (N, F): activations come from and go back
	// to a (infer.go).
	infer(x *backend.Tensor, a *actPool, f *backend.Tensor)
	featureSize() int
	// outSize is the spatial size of the last feature map for an s×s input
	// (BatchNorm in training needs more than one value per channel).
	outSize(s int) int
}

// scaled is a stage width at a width multiplier: max(1, ⌊base·width + ½⌋).
func scaled(base int, width float64) int {
	return max(1, int(math.Floor(float64(base)*width+0.5)))
}

// lenet is OpenOOD's LeNet: block1 = conv(C→6, 5, pad 2)+ReLU+maxpool 2,
// block2 = conv(6→16, 5)+ReLU+maxpool 2, block3 = conv(16→120, 5)+ReLU,
// classifier1 = linear(120→84)+ReLU; the feature is 84-d.
type lenet struct {
	c1, c2, c3        *conv2d
	p1, p2            *maxPool
	fc1               *linear
	flat, dflat       *backend.Tensor // reshaped views of flatSrc, dflatSrc
	flatSrc, dflatSrc *backend.Tensor
	be                backend.Backend
	pool              *gradPool
	// taps makes forward run each convolution without its fused ReLU and
	// the ReLU into relus[i], so that both outputs exist (Model.ForwardTaps).
	taps  bool
	relus [3]*backend.Tensor
}

func newLeNet(bd *builder, prefix string, in int) *lenet {
	l := &lenet{be: bd.be, pool: bd.pool}
	l.c1 = newConv(bd, prefix+"block1.0", in, 6, 5, 1, 2, true, initDefault)
	l.c1.relu, l.c1.needDx, l.c1.masked = true, false, true
	l.p1 = newMaxPool(bd, 2, 2, 0)
	l.p1.reluInput = true
	l.c2 = newConv(bd, prefix+"block2.0", 6, 16, 5, 1, 0, true, initDefault)
	l.c2.relu, l.c2.masked = true, true
	l.p2 = newMaxPool(bd, 2, 2, 0)
	l.p2.reluInput = true
	l.c3 = newConv(bd, prefix+"block3.0", 16, 120, 5, 1, 0, true, initDefault)
	l.c3.relu = true
	l.fc1 = newLinear(bd, prefix+"classifier1", 120, 84)
	l.fc1.relu = true
	return l
}

func (l *lenet) featureSize() int { return 84 }
func (l *lenet) outSize(int) int  { return 1 }

func (l *lenet) forward(x *backend.Tensor, train bool) *backend.Tensor {
	var h *backend.Tensor
	if l.taps {
		h = l.unfused(2, l.c3, l.p2.forward(l.unfused(1, l.c2, l.p1.forward(l.unfused(0, l.c1, x)))))
	} else {
		h = l.c3.forward(l.p2.forward(l.c2.forward(l.p1.forward(l.c1.forward(x)))))
	}
	if l.flatSrc != h {
		l.flat, _ = h.Reshape(h.Shape()[0], 120) // h is (N,120,1,1): same element count
		l.flatSrc = h
	}
	return l.fc1.forward(l.flat)
}

// unfused runs conv c without its fused ReLU (c.y keeps the convolution's
// output) and returns the ReLU of it in relus[i]. The backward pass stays
// valid: c.y > 0 exactly where the fused output is.
func (l *lenet) unfused(i int, c *conv2d, x *backend.Tensor) *backend.Tensor {
	c.relu = false
	y := c.forward(x)
	c.relu = true
	r := ensure(l.be, &l.relus[i], y.Shape()...)
	l.be.ReLU(y, r)
	return r
}

// backward leaves df to the caller and returns every gradient it made to
// the pool except the input gradient (a pool buffer the caller owns).
func (l *lenet) backward(df *backend.Tensor, inputGrad bool) *backend.Tensor {
	d := l.fc1.backward(df)
	if l.dflatSrc != d {
		l.dflat, _ = d.Reshape(d.Shape()[0], 120, 1, 1)
		l.dflatSrc = d
	}
	t := l.c3.backward(l.dflat)
	l.pool.put(d)
	for _, step := range []func(*backend.Tensor) *backend.Tensor{l.p2.backward, l.c2.backward, l.p1.backward} {
		u := step(t)
		l.pool.put(t)
		t = u
	}
	l.c1.needDx = inputGrad // training needs no gradient of the image
	dx := l.c1.backward(t)
	l.c1.needDx = false
	l.pool.put(t)
	return dx
}

// resnet is OpenOOD's ResNet18_32x32 (3×3 stem, no max-pool, "shortcut"
// names) or torchvision's ResNet (7×7/2 stem, max-pool 3/2, "downsample"
// names) as used by OpenOOD's ResNet18_224x224 and ResNet50.
type resnet struct {
	be     backend.Backend
	stem   *conv2d
	bn1    *batchNorm
	pool   *maxPool // nil for the 32×32 stem
	blocks []*residual
	gap    *avgPool
	feat   int
	tv     bool
	grads  *gradPool
	ends   []int // index in blocks of each stage's last block
}

// stageBlock names block i of stage s as torchvision does
// (prefix+"layer<s+1>.<i>") and gives its stride: 2 for the first block of
// every stage after the first, else 1.
func stageBlock(prefix string, s, i int) (name string, stride int) {
	stride = 1
	if i == 0 && s > 0 {
		stride = 2
	}
	return prefix + "layer" + itoa(s+1) + "." + itoa(i), stride
}

// newResNet32 builds the 32×32 ResNet with the given stage widths and blocks
// per stage (OpenOOD's ResNet18_32x32: widths 64·w.., blocks 2,2,2,2).
func newResNet32(bd *builder, prefix string, in int, widths, blocks []int) *resnet {
	r := &resnet{be: bd.be, gap: &avgPool{be: bd.be, pool: bd.pool}, grads: bd.pool}
	r.stem = newConv(bd, prefix+"conv1", in, widths[0], 3, 1, 1, false, initDefault)
	r.stem.needDx = false
	r.bn1 = newBatchNorm(bd, prefix+"bn1", widths[0], true)
	planes := widths[0]
	for s, w := range widths {
		for i := 0; i < blocks[s]; i++ {
			name, stride := stageBlock(prefix, s, i)
			r.blocks = append(r.blocks, newBasicBlock(bd, name, planes, w, stride, "shortcut", initDefault))
			planes = w
		}
		r.ends = append(r.ends, len(r.blocks)-1)
	}
	r.feat = planes
	return r
}

// newResNetTV builds torchvision's ResNet with BasicBlock (bottleneck false)
// or Bottleneck blocks.
func newResNetTV(bd *builder, prefix string, in int, widths, blocks []int, bottleneck bool) *resnet {
	r := &resnet{be: bd.be, gap: &avgPool{be: bd.be, pool: bd.pool}, grads: bd.pool, tv: true}
	r.stem = newConv(bd, prefix+"conv1", in, widths[0], 7, 2, 3, false, initKaimingFanOut)
	r.stem.needDx = false
	r.bn1 = newBatchNorm(bd, prefix+"bn1", widths[0], true)
	r.pool = newMaxPool(bd, 3, 2, 1)
	planes := widths[0]
	for s, w := range widths {
		for i := 0; i < blocks[s]; i++ {
			name, stride := stageBlock(prefix, s, i)
			if bottleneck {
				r.blocks = append(r.blocks, newBottleneck(bd, name, planes, w, stride, initKaimingFanOut))
				planes = 4 * w
			} else {
				r.blocks = append(r.blocks, newBasicBlock(bd, name, planes, w, stride, "downsample", initKaimingFanOut))
				planes = w
			}
		}
		r.ends = append(r.ends, len(r.blocks)-1)
	}
	r.feat = planes
	return r
}

func (r *resnet) featureSize() int { return r.feat }

func (r *resnet) outSize(s int) int {
	down := func(s, k, st, p int) int { return (s+2*p-k)/st + 1 }
	if r.tv {
		s = down(s, 7, 2, 3)
		s = down(s, 3, 2, 1)
	}
	stages := 0
	for _, b := range r.blocks {
		if b.convs[0].p.StrideH == 2 || (len(b.convs) == 3 && b.convs[1].p.StrideH == 2) {
			stages++
		}
	}
	for range stages {
		s = down(s, 3, 2, 1)
	}
	return s
}

func (r *resnet) forward(x *backend.Tensor, train bool) *backend.Tensor {
	h := r.bn1.forward(r.stem.forward(x), train)
	if r.pool != nil {
		h = r.pool.forward(h)
	}
	for _, b := range r.blocks {
		h = b.forward(h, train)
	}
	return r.gap.forward(h)
}

// backward leaves df to the caller and returns every gradient it made to
// the pool except the input gradient (a pool buffer the caller owns).
func (r *resnet) backward(df *backend.Tensor, inputGrad bool) *backend.Tensor {
	return r.backwardFrom(r.gap.backward(df), len(r.blocks)-1, inputGrad)
}

// backwardFrom back-propagates d, the gradient of the output of block last
// (-1: of the stem, relu(bn1(conv1(x))), before any max-pool), to the input,
// consuming d (a pool buffer).
func (r *resnet) backwardFrom(d *backend.Tensor, last int, inputGrad bool) *backend.Tensor {
	for i := last; i >= 0; i-- {
		d = r.blocks[i].backward(d) // consumes d
	}
	if r.pool != nil && last >= 0 {
		t := r.pool.backward(d)
		r.grads.put(d)
		d = t
	}
	t := r.bn1.backward(d)
	r.grads.put(d)
	r.stem.needDx = inputGrad // training needs no gradient of the image
	dx := r.stem.backward(t)
	r.stem.needDx = false
	r.grads.put(t)
	return dx
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
