package nn

import (
	"fmt"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// Single-layer cases of train/testdata/torch/layers.safetensors, run through
// the layer types of this package on the CPU backend.

type layerFix struct {
	t  *testing.T
	be backend.Backend
	f  func(string) []float32
	sh func(string) []int
}

func newLayerFix(t *testing.T) layerFix {
	f := readFixture(t, "layers")
	return layerFix{t: t, be: cpu.New(2), f: func(n string) []float32 { return fixF32(t, f, n) }, sh: func(n string) []int { return fixShape(t, f, n) }}
}

func (lf layerFix) tensor(name string) *backend.Tensor {
	x := lf.be.Alloc(lf.sh(name)...)
	lf.be.Upload(x, lf.f(name))
	return x
}

func (lf layerFix) param(name string) *Param {
	v := lf.tensor(name)
	return &Param{Name: name, Value: v, Grad: lf.be.Alloc(v.Shape()...)}
}

func (lf layerFix) check(what string, got *backend.Tensor, want string) {
	lf.t.Helper()
	closeTo(lf.t, what, download(lf.be, got), lf.f(want), 1e-6, 1e-5)
}

func TestLayersAgainstPyTorch(t *testing.T) {
	lf := newLayerFix(t)
	be := lf.be
	pool := newGradPool(be)
	bd := &builder{be: be, pool: pool}
	for _, c := range []struct {
		prefix      string
		stride, pad int
		bias        bool
	}{
		{"conv_3x3_s2_p1_bias.", 2, 1, true},
		{"conv_5x5_s1_p0_bias.", 1, 0, true},
		{"conv_5x5_s1_p2_bias.", 1, 2, true},
		{"conv_3x3_s1_p1.", 1, 1, false},
		{"conv_1x1_s2.", 2, 0, false},
		{"conv_7x7_s2_p3.", 2, 3, false},
	} {
		t.Run(c.prefix, func(t *testing.T) {
			lf.t = t
			l := &conv2d{be: be, pool: pool, w: lf.param(c.prefix + "weight"), p: backend.ConvParams{StrideH: c.stride, StrideW: c.stride, PadH: c.pad, PadW: c.pad}, needDx: true}
			if c.bias {
				l.b = lf.param(c.prefix + "bias")
			}
			lf.check("y", l.forward(lf.tensor(c.prefix+"x")), c.prefix+"y")
			lf.check("dx", l.backward(lf.tensor(c.prefix+"gy")), c.prefix+"gx")
			lf.check("dw", l.w.Grad, c.prefix+"gweight")
			if c.bias {
				lf.check("db", l.b.Grad, c.prefix+"gbias")
			}
		})
	}
	t.Run("batchnorm", func(t *testing.T) {
		lf.t = t
		l := &batchNorm{be: be, pool: pool, gamma: lf.param("bn.weight"), beta: lf.param("bn.bias"),
			runMean: lf.tensor("bn.running_mean"), runVar: lf.tensor("bn.running_var"),
			saveMean: be.Alloc(3), saveInvStd: be.Alloc(3)}
		lf.check("train y", l.forward(lf.tensor("bn_train.x"), true), "bn_train.y")
		lf.check("running mean", l.runMean, "bn_train.running_mean")
		lf.check("running var", l.runVar, "bn_train.running_var")
		if l.tracked != 1 {
			t.Fatalf("num_batches_tracked = %d, want 1", l.tracked)
		}
		lf.check("dx", l.backward(lf.tensor("bn_train.gy")), "bn_train.gx")
		lf.check("dgamma", l.gamma.Grad, "bn_train.gweight")
		lf.check("dbeta", l.beta.Grad, "bn_train.gbias")
		lf.check("eval y", l.forward(lf.tensor("bn_eval.x"), false), "bn_eval.y")
	})
	for _, c := range []struct {
		prefix         string
		k, stride, pad int
	}{{"maxpool_2.", 2, 2, 0}, {"maxpool_3_s2_p1.", 3, 2, 1}, {"maxpool_ties.", 2, 2, 0}} {
		t.Run(c.prefix, func(t *testing.T) {
			lf.t = t
			l := newMaxPool(bd, c.k, c.stride, c.pad)
			lf.check("y", l.forward(lf.tensor(c.prefix+"x")), c.prefix+"y")
			lf.check("dx", l.backward(lf.tensor(c.prefix+"gy")), c.prefix+"gx")
		})
	}
	t.Run("avgpool", func(t *testing.T) {
		lf.t = t
		l := &avgPool{be: be, pool: pool}
		lf.check("y", l.forward(lf.tensor("avgpool.x")), "avgpool.y")
		lf.check("dx", l.backward(lf.tensor("avgpool.gy")), "avgpool.gx")
	})
	t.Run("relu", func(t *testing.T) {
		lf.t = t
		x := lf.tensor("relu.x")
		y, dx := be.Alloc(x.Shape()...), be.Alloc(x.Shape()...)
		be.ReLU(x, y)
		lf.check("y", y, "relu.y")
		be.ReLUBackward(y, lf.tensor("relu.gy"), dx)
		lf.check("dx", dx, "relu.gx")
	})
	t.Run("linear", func(t *testing.T) {
		lf.t = t
		l := &linear{be: be, pool: pool, w: lf.param("linear.weight"), b: lf.param("linear.bias")}
		lf.check("y", l.forward(lf.tensor("linear.x")), "linear.y")
		lf.check("dx", l.backward(lf.tensor("linear.gy")), "linear.gx")
		lf.check("dw", l.w.Grad, "linear.gweight")
		lf.check("db", l.b.Grad, "linear.gbias")
	})
	t.Run("cross-entropy", func(t *testing.T) {
		lf.t = t
		z := lf.tensor("ce.logits")
		labels := fixLabels(t, "layers", "ce.target")
		dz := be.Alloc(z.Shape()...)
		loss := be.SoftmaxCrossEntropy(z, labels, dz)
		closeTo(t, "loss", []float32{float32(loss)}, lf.f("ce.loss"), 0, 1e-6)
		lf.check("dlogits", dz, "ce.glogits")
	})
	t.Run("t2fnorm head", func(t *testing.T) {
		lf.t = t
		tau := lf.f("t2fnorm.tau")[0]
		f := lf.tensor("t2fnorm.feature")
		n, k := f.Shape()[0], f.Shape()[1]
		w, b := lf.param("t2fnorm.weight"), lf.param("t2fnorm.bias")
		g, norms := be.Alloc(n, k), be.Alloc(n)
		be.RowNormalize(f, g, norms, 1, normEps)
		lf.check("normalized", g, "t2fnorm.normalized")
		be.RowNormalize(f, g, norms, tau, normEps)
		y := be.Alloc(n, w.Value.Shape()[0])
		be.LinearForward(g, w.Value, b.Value, y, false)
		lf.check("logits", y, "t2fnorm.y")
		dg, df := be.Alloc(n, k), be.Alloc(n, k)
		be.LinearBackward(g, w.Value, lf.tensor("t2fnorm.gy"), dg, w.Grad, b.Grad)
		be.RowNormalizeBackward(f, norms, dg, df, tau, normEps)
		lf.check("dfeature", df, "t2fnorm.gfeature")
		lf.check("dweight", w.Grad, "t2fnorm.gweight")
		lf.check("dbias", b.Grad, "t2fnorm.gbias")
		h := be.Alloc(n, k)
		be.DivScalar(f, h, tau)
		be.LinearForward(h, w.Value, b.Value, y, false)
		lf.check("ood logits", y, "t2fnorm_ood.y")
		// the training path: cross-entropy on top
		be.RowNormalize(f, g, norms, tau, normEps)
		be.LinearForward(g, w.Value, b.Value, y, false)
		dy := be.Alloc(y.Shape()...)
		loss := be.SoftmaxCrossEntropy(y, fixLabels(t, "layers", "t2fnorm_ce.target"), dy)
		closeTo(t, "ce loss", []float32{float32(loss)}, lf.f("t2fnorm_ce.loss"), 0, 1e-6)
		be.LinearBackward(g, w.Value, dy, dg, w.Grad, b.Grad)
		be.RowNormalizeBackward(f, norms, dg, df, tau, normEps)
		lf.check("ce dfeature", df, "t2fnorm_ce.gfeature")
		lf.check("ce dweight", w.Grad, "t2fnorm_ce.gweight")
		lf.check("ce dbias", b.Grad, "t2fnorm_ce.gbias")
	})
	t.Run("sgd", func(t *testing.T) {
		lf.t = t
		p := lf.param("sgd.param")
		m := &Model{be: be, params: []*Param{p}}
		opt, err := NewSGD(m, SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			be.Upload(p.Grad, lf.f(fmt.Sprintf("sgd.grad%d", i)))
			if err := opt.Step(0.1); err != nil {
				t.Fatal(err)
			}
			closeTo(t, fmt.Sprintf("param after step %d", i), download(be, p.Value), lf.f(fmt.Sprintf("sgd.param%d", i)), 0, 1e-6)
			closeTo(t, fmt.Sprintf("momentum after step %d", i), download(be, opt.bufs[0]), lf.f(fmt.Sprintf("sgd.momentum%d", i)), 0, 1e-6)
		}
	})
}

func fixLabels(t *testing.T, file, name string) []int32 {
	t.Helper()
	v, err := mustTensor(t, readFixture(t, file), name).Int64s()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}
