package cpu

import (
	"fmt"
	"math"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/kernels"
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

// rowSum is Σ row with four float32 accumulators (a row is one H×W plane).
func rowSum(row []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(row); i += 4 {
		s0 += row[i]
		s1 += row[i+1]
		s2 += row[i+2]
		s3 += row[i+3]
	}
	for ; i < len(row); i++ {
		s0 += row[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// rowSqDev is Σ (row−m)².
func rowSqDev(row []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(row); i += 4 {
		d0, d1, d2, d3 := row[i]-m, row[i+1]-m, row[i+2]-m, row[i+3]-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(row); i++ {
		d := row[i] - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
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
				s += float64(rowSum(xd[(i*c+ch)*hw : (i*c+ch+1)*hw]))
			}
			mean := s / float64(cnt)
			m32 := float32(mean)
			var sq float64
			for i := 0; i < n; i++ {
				sq += float64(rowSqDev(xd[(i*c+ch)*hw:(i*c+ch+1)*hw], m32))
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
			invstd := 1 / math.Sqrt(float64(rv[ch])+float64(eps))
			a := float32(invstd * float64(gd[ch]))
			cc := float32(float64(bd[ch]) - float64(rm[ch])*invstd*float64(gd[ch]))
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
	b.parallel(c, 1, func(wk, lo, hi int) {
		st := &b.workers[wk]
		st.tmp = grow(st.tmp, hw)
		tmp := st.tmp
		for ch := lo; ch < hi; ch++ {
			m := sm[ch]
			// g: dy, or dy masked by y > 0 (kept in dx until dx is written).
			var sum, dot float64
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				g := dyd[o : o+hw]
				if relu {
					reluMask(yd[o:o+hw], g, dxd[o:o+hw])
					g = dxd[o : o+hw]
				}
				s, d := sumDot(xd[o:o+hw], g, m)
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
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				g := dyd[o : o+hw]
				if relu {
					g = dxd[o : o+hw]
				}
				kernels.Affine(tmp, xd[o:o+hw], float32(-w*k), float32(w*(float64(m)*k-gm)), false)
				kernels.Affine(dxd[o:o+hw], g, float32(w), 0, false)
				kernels.AddTo(dxd[o:o+hw], tmp)
			}
		}
	})
}

// sumDot returns Σdy and Σ(x−m)·dy over one plane.
func sumDot(x, dy []float32, m float32) (float32, float32) {
	dy = dy[:len(x)]
	var s0, s1, d0, d1 float32
	j := 0
	for ; j+2 <= len(x); j += 2 {
		s0 += dy[j]
		s1 += dy[j+1]
		d0 += (x[j] - m) * dy[j]
		d1 += (x[j+1] - m) * dy[j+1]
	}
	for ; j < len(x); j++ {
		s0 += dy[j]
		d0 += (x[j] - m) * dy[j]
	}
	return s0 + s1, d0 + d1
}
