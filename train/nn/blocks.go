package nn

import "github.com/t2f/t2f/train/backend"

// residual is a BasicBlock or a Bottleneck: a chain of conv+BN pairs (the
// last BN without ReLU), a shortcut (identity, or 1×1 conv + BN), and
// y = ReLU(main + shortcut).
type residual struct {
	be    backend.Backend
	convs []*conv2d
	bns   []*batchNorm
	scCv  *conv2d
	scBN  *batchNorm
	y     *backend.Tensor
	pool  *gradPool
}

// newBasicBlock builds a BasicBlock (3×3 stride s, 3×3) named
// conv1/bn1/conv2/bn2 plus the shortcut under scName (OpenOOD's 32×32
// ResNet: "shortcut"; torchvision: "downsample").
func newBasicBlock(bd *builder, name string, in, planes, stride int, scName string, init convInit) *residual {
	r := &residual{be: bd.be, pool: bd.pool}
	r.convs = append(r.convs, newConv(bd, name+".conv1", in, planes, 3, stride, 1, false, init))
	r.bns = append(r.bns, newBatchNorm(bd, name+".bn1", planes, true))
	r.convs = append(r.convs, newConv(bd, name+".conv2", planes, planes, 3, 1, 1, false, init))
	r.bns = append(r.bns, newBatchNorm(bd, name+".bn2", planes, false))
	if stride != 1 || in != planes {
		r.scCv = newConv(bd, name+"."+scName+".0", in, planes, 1, stride, 0, false, init)
		r.scBN = newBatchNorm(bd, name+"."+scName+".1", planes, false)
	}
	return r
}

// newBottleneck builds torchvision's Bottleneck (1×1, 3×3 stride s, 1×1 to
// 4·planes) with a "downsample" shortcut.
func newBottleneck(bd *builder, name string, in, planes, stride int, init convInit) *residual {
	out := planes * 4
	r := &residual{be: bd.be, pool: bd.pool}
	r.convs = append(r.convs, newConv(bd, name+".conv1", in, planes, 1, 1, 0, false, init))
	r.bns = append(r.bns, newBatchNorm(bd, name+".bn1", planes, true))
	r.convs = append(r.convs, newConv(bd, name+".conv2", planes, planes, 3, stride, 1, false, init))
	r.bns = append(r.bns, newBatchNorm(bd, name+".bn2", planes, true))
	r.convs = append(r.convs, newConv(bd, name+".conv3", planes, out, 1, 1, 0, false, init))
	r.bns = append(r.bns, newBatchNorm(bd, name+".bn3", out, false))
	if stride != 1 || in != out {
		r.scCv = newConv(bd, name+".downsample.0", in, out, 1, stride, 0, false, init)
		r.scBN = newBatchNorm(bd, name+".downsample.1", out, false)
	}
	return r
}

func (r *residual) forward(x *backend.Tensor, train bool) *backend.Tensor {
	h := x
	for i, c := range r.convs {
		h = r.bns[i].forward(c.forward(h), train)
	}
	s := x
	if r.scCv != nil {
		s = r.scBN.forward(r.scCv.forward(x), train)
	}
	y := ensure(r.be, &r.y, h.Shape()...)
	r.be.AddReLU(h, s, y)
	return y
}

// backward consumes dy (returning it to the pool) and returns dx, a pool
// buffer the caller owns.
func (r *residual) backward(dy *backend.Tensor) *backend.Tensor {
	dz := r.pool.get(dy.Shape())
	r.be.ReLUBackward(r.y, dy, dz)
	r.pool.put(dy)
	d := dz
	for i := len(r.convs) - 1; i >= 0; i-- {
		t := r.bns[i].backward(d)
		if d != dz {
			r.pool.put(d)
		}
		d = r.convs[i].backward(t)
		r.pool.put(t)
	}
	if r.scCv != nil {
		t := r.scBN.backward(dz)
		ds := r.scCv.backward(t)
		r.pool.put(t)
		r.be.Add(d, ds, d)
		r.pool.put(ds)
	} else {
		r.be.Add(d, dz, d)
	}
	r.pool.put(dz)
	return d
}
