package backendtest

import (
	"math"

	"github.com/t2f/t2f/train/backend"
)

// The reference: plain loops in float64 over row-major slices. Shapes are
// given explicitly; each function is the definition the backends implement.

// RefConv returns y (n,oc,oh,ow) = conv(x (n,c,h,w), w (oc,c,kh,kw)) + b.
func RefConv(x []float64, n, c, h, wd int, w []float64, oc, kh, kw int, b []float64, p backend.ConvParams) ([]float64, int, int) {
	oh, ow := p.OutSize(h, wd, kh, kw)
	y := make([]float64, n*oc*oh*ow)
	for i := 0; i < n; i++ {
		for o := 0; o < oc; o++ {
			for yy := 0; yy < oh; yy++ {
				for xx := 0; xx < ow; xx++ {
					var s float64
					if b != nil {
						s = b[o]
					}
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < kh; ky++ {
							iy := yy*p.StrideH - p.PadH + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := xx*p.StrideW - p.PadW + kx
								if ix < 0 || ix >= wd {
									continue
								}
								s += x[((i*c+ci)*h+iy)*wd+ix] * w[((o*c+ci)*kh+ky)*kw+kx]
							}
						}
					}
					y[((i*oc+o)*oh+yy)*ow+xx] = s
				}
			}
		}
	}
	return y, oh, ow
}

// RefConvBackward returns dx, dw, db for RefConv given dy.
//
// Its window loops repeat RefConv's on purpose (one of the two exact
// duplicate runs the tree keeps): each reference is one self-contained loop
// nest to be read against PyTorch's definition; a shared window iterator
// would hide the very indexing the conformance suite checks.
func RefConvBackward(x []float64, n, c, h, wd int, w []float64, oc, kh, kw int, dy []float64, p backend.ConvParams) (dx, dw, db []float64) {
	oh, ow := p.OutSize(h, wd, kh, kw)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	db = make([]float64, oc)
	for i := 0; i < n; i++ {
		for o := 0; o < oc; o++ {
			for yy := 0; yy < oh; yy++ {
				for xx := 0; xx < ow; xx++ {
					g := dy[((i*oc+o)*oh+yy)*ow+xx]
					db[o] += g
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < kh; ky++ {
							iy := yy*p.StrideH - p.PadH + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := xx*p.StrideW - p.PadW + kx
								if ix < 0 || ix >= wd {
									continue
								}
								xi := ((i*c+ci)*h+iy)*wd + ix
								wi := ((o*c+ci)*kh+ky)*kw + kx
								dx[xi] += g * w[wi]
								dw[wi] += g * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

// RefLinear returns y (n,out) = x (n,in)·wᵀ + b.
func RefLinear(x []float64, n, in int, w []float64, out int, b []float64) []float64 {
	y := make([]float64, n*out)
	for i := 0; i < n; i++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for k := 0; k < in; k++ {
				s += x[i*in+k] * w[o*in+k]
			}
			y[i*out+o] = s
		}
	}
	return y
}

// RefLinearBackward returns dx, dw, db for RefLinear given dy.
func RefLinearBackward(x []float64, n, in int, w []float64, out int, dy []float64) (dx, dw, db []float64) {
	dx = make([]float64, n*in)
	dw = make([]float64, out*in)
	db = make([]float64, out)
	for i := 0; i < n; i++ {
		for o := 0; o < out; o++ {
			g := dy[i*out+o]
			db[o] += g
			for k := 0; k < in; k++ {
				dx[i*in+k] += g * w[o*in+k]
				dw[o*in+k] += g * x[i*in+k]
			}
		}
	}
	return dx, dw, db
}

// RefBatchNormTrain returns y, the batch mean and biased variance per channel
// and the unbiased variance, for x (n,c,hw).
func RefBatchNormTrain(x []float64, n, c, hw int, gamma, beta []float64, eps float64) (y, mean, varB, varU []float64) {
	y = make([]float64, len(x))
	mean = make([]float64, c)
	varB = make([]float64, c)
	varU = make([]float64, c)
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				s += x[(i*c+ch)*hw+j]
			}
		}
		mu := s / m
		var sq float64
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				d := x[(i*c+ch)*hw+j] - mu
				sq += d * d
			}
		}
		mean[ch], varB[ch], varU[ch] = mu, sq/m, sq/(m-1)
		inv := 1 / math.Sqrt(varB[ch]+eps)
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				k := (i*c+ch)*hw + j
				y[k] = (x[k]-mu)*inv*gamma[ch] + beta[ch]
			}
		}
	}
	return y, mean, varB, varU
}

// RefBatchNormEval normalises x with given statistics.
func RefBatchNormEval(x []float64, n, c, hw int, gamma, beta, mean, variance []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			inv := 1 / math.Sqrt(variance[ch]+eps)
			for j := 0; j < hw; j++ {
				k := (i*c+ch)*hw + j
				y[k] = (x[k]-mean[ch])*inv*gamma[ch] + beta[ch]
			}
		}
	}
	return y
}

// RefBatchNormBackward returns dx, dγ, dβ of RefBatchNormTrain's y.
func RefBatchNormBackward(x []float64, n, c, hw int, gamma, dy []float64, eps float64) (dx, dgamma, dbeta []float64) {
	_, mean, varB, _ := RefBatchNormTrain(x, n, c, hw, gamma, make([]float64, c), eps)
	dx = make([]float64, len(x))
	dgamma = make([]float64, c)
	dbeta = make([]float64, c)
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		inv := 1 / math.Sqrt(varB[ch]+eps)
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				k := (i*c+ch)*hw + j
				xh := (x[k] - mean[ch]) * inv
				sdy += dy[k]
				sdyx += dy[k] * xh
			}
		}
		dgamma[ch], dbeta[ch] = sdyx, sdy
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				k := (i*c+ch)*hw + j
				xh := (x[k] - mean[ch]) * inv
				dx[k] = gamma[ch] * inv * (dy[k] - sdy/m - xh*sdyx/m)
			}
		}
	}
	return dx, dgamma, dbeta
}

// RefMaxPool returns y and, for each output, the flat input index of the
// first maximum of its window (row-major scan).
func RefMaxPool(x []float64, n, c, h, w int, p backend.PoolParams) (y []float64, arg []int, oh, ow int) {
	oh, ow = p.OutSize(h, w)
	y = make([]float64, n*c*oh*ow)
	arg = make([]int, len(y))
	for r := 0; r < n*c; r++ {
		for yy := 0; yy < oh; yy++ {
			for xx := 0; xx < ow; xx++ {
				best := -1
				for ky := 0; ky < p.KH; ky++ {
					for kx := 0; kx < p.KW; kx++ {
						iy, ix := yy*p.StrideH-p.PadH+ky, xx*p.StrideW-p.PadW+kx
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						k := r*h*w + iy*w + ix
						if best < 0 || x[k] > x[best] {
							best = k
						}
					}
				}
				o := (r*oh+yy)*ow + xx
				y[o], arg[o] = x[best], best
			}
		}
	}
	return y, arg, oh, ow
}

// RefRowNormalize returns y[n] = x[n]/max(‖x[n]‖,eps)/s and the norms.
func RefRowNormalize(x []float64, n, k int, s, eps float64) (y, norms []float64) {
	y = make([]float64, len(x))
	norms = make([]float64, n)
	for i := 0; i < n; i++ {
		var ss float64
		for j := 0; j < k; j++ {
			ss += x[i*k+j] * x[i*k+j]
		}
		norms[i] = math.Sqrt(ss)
		d := math.Max(norms[i], eps)
		for j := 0; j < k; j++ {
			y[i*k+j] = x[i*k+j] / d / s
		}
	}
	return y, norms
}

// RefRowNormalizeBackward is the gradient of RefRowNormalize.
func RefRowNormalizeBackward(x []float64, n, k int, dy []float64, s, eps float64) []float64 {
	_, norms := RefRowNormalize(x, n, k, s, eps)
	dx := make([]float64, len(x))
	for i := 0; i < n; i++ {
		r := norms[i]
		if r <= eps {
			for j := 0; j < k; j++ {
				dx[i*k+j] = dy[i*k+j] / s / eps
			}
			continue
		}
		var dot float64
		for j := 0; j < k; j++ {
			dot += x[i*k+j] * dy[i*k+j]
		}
		for j := 0; j < k; j++ {
			dx[i*k+j] = (dy[i*k+j]/r - x[i*k+j]*dot/(r*r*r)) / s
		}
	}
	return dx
}

// RefSoftmaxCE returns the mean cross-entropy and its gradient.
func RefSoftmaxCE(z []float64, n, k int, labels []int32) (float64, []float64) {
	dz := make([]float64, len(z))
	var loss float64
	for i := 0; i < n; i++ {
		m := math.Inf(-1)
		for j := 0; j < k; j++ {
			m = math.Max(m, z[i*k+j])
		}
		var s float64
		for j := 0; j < k; j++ {
			s += math.Exp(z[i*k+j] - m)
		}
		lse := m + math.Log(s)
		loss += lse - z[i*k+int(labels[i])]
		for j := 0; j < k; j++ {
			p := math.Exp(z[i*k+j] - lse)
			if j == int(labels[i]) {
				p--
			}
			dz[i*k+j] = p / float64(n)
		}
	}
	return loss / float64(n), dz
}
