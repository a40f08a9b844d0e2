package cpu

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/kernels"
	"github.com/t2f/t2f/train/backend"
)

func (b *Backend) bnShape(op string, x, y *backend.Tensor, perChannel ...*backend.Tensor) (n, c, hw int) {
	n, c, h, w := dims4(op, x)
	mustShape(op, y, x.Shape()...)
	for _, t := range perChannel {
		if t != nil {
			mustShape(op, t, c)
		}
	}
	return n, c, h * w
}

// affine writes y = x·a + c, then ReLU when relu (kernels.Affine).
func affine(x, y []float32, a, c float32, relu bool) {
	kernels.Affine(y[:len(x)], x, a, c, relu)
}

// BatchNormTrain normalises with batch statistics and updates the running
// statistics (see backend.Backend).
func (b *Backend) BatchNormTrain(x, gamma, beta, y, runMean, runVar, saveMean, saveInvStd *backend.Tensor, p backend.BatchNormParams, relu bool) {
	n, c, hw := b.bnShape("batchnorm", x, y, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	cnt := n * hw
	if cnt <= 1 {
		panic(fmt.Sprintf("cpu: batchnorm: input %v has one value per channel", x.Shape()))
	}
	xd, yd := Data(x), Data(y)
	gd, bd, rm, rv, sm, si := Data(gamma), Data(beta), Data(runMean), Data(runVar), Data(saveMean), Data(saveInvStd)
	mom := float64(p.Momentum)
	b.parallel(c, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += kernels.SumPlane(xd, (i*c+ch)*hw, hw, c*hw)
			}
			mean := s / float64(cnt)
			m32 := float32(mean)
			var sq float64
			for i := 0; i < n; i++ {
				sq += kernels.SqDev(xd[(i*c+ch)*hw:(i*c+ch+1)*hw], m32)
			}
			varB := sq / float64(cnt)
			invstd := 1 / math.Sqrt(varB+float64(p.Eps))
			sm[ch] = m32
			si[ch] = float32(invstd)
			rm[ch] = float32(mom*mean + (1-mom)*float64(rm[ch]))
			rv[ch] = float32(mom*sq/float64(cnt-1) + (1-mom)*float64(rv[ch]))
			a := float32(invstd * float64(gd[ch]))
			cc := float32(float64(bd[ch]) - mean*invstd*float64(gd[ch]))
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				affine(xd[o:o+hw], yd[o:o+hw], a, cc, relu)
			}
		}
	})
}

// BatchNormEval normalises with the running statistics.
func (b *Backend) BatchNormEval(x, gamma, beta, y, runMean, runVar *backend.Tensor, eps float32, relu bool) {
	n, c, hw := b.bnShape("batchnorm eval", x, y, gamma, beta, runMean, runVar)
	xd, yd := Data(x), Data(y)
	gd, bd, rm, rv := Data(gamma), Data(beta), Data(runMean), Data(runVar)
	b.parallel(n*c, 1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			ch := r % c
			a, cc := bnScaleShift(gd[ch], bd[ch], rm[ch], rv[ch], eps)
			affine(xd[r*hw:(r+1)*hw], yd[r*hw:(r+1)*hw], a, cc, relu)
		}
	})
}

// BatchNormBackward is the gradient of BatchNormTrain (PyTorch's formula):
// with x̂ = (x−μ)·invstd, dβ = Σdy, dγ = Σdy·x̂ and
// dx = γ·invstd·(dy − dβ/M − x̂·dγ/M), M = N·H·W.
func (b *Backend) BatchNormBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta *backend.Tensor, relu bool) {
	n, c, hw := b.bnShape("batchnorm backward", x, dy, gamma, saveMean, saveInvStd, dgamma, dbeta)
	mustShape("batchnorm backward", dx, x.Shape()...)
	if relu {
		mustShape("batchnorm backward", y, x.Shape()...)
	}
	cnt := float64(n * hw)
	xd, dyd, dxd := Data(x), Data(dy), Data(dx)
	var yd []float32
	if relu {
		yd = Data(y)
	}
	gd, sm, si, dgd, dbd := Data(gamma), Data(saveMean), Data(saveInvStd), Data(dgamma), Data(dbeta)
	b.parallel(c, 1, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			m := sm[ch]
			// g: dy, or dy masked by y > 0 when relu (yd is nil otherwise).
			var sum, dot float64
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				s, d := kernels.GradStatsPlane(xd, dyd, yd, o, hw, c*hw, m)
				sum += float64(s)
				dot += float64(d)
			}
			invstd := float64(si[ch])
			dgd[ch] = float32(dot * invstd)
			dbd[ch] = float32(sum)
			k := dot * invstd * invstd / cnt
			gm := sum / cnt
			w := invstd * float64(gd[ch])
			// dx = w·g − w·k·x + w·(m·k − gm)
			a, cc := float32(-w*k), float32(w*(float64(m)*k-gm))
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				kernels.BNGrad(dxd[o:o+hw], dyd[o:o+hw], plane(yd, o, hw), xd[o:o+hw], float32(w), a, cc)
			}
		}
	})
}

// plane returns d[o:o+hw], or nil when d is nil.
func plane(d []float32, o, hw int) []float32 {
	if d == nil {
		return nil
	}
	return d[o : o+hw]
}
