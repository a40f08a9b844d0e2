package posthoc

import (
	"math"
	"slices"
)

// mrWeibull is libMR's MetaRecognition object after FitHigh, as OpenMax uses
// it (python libmr.MR() defaults: translate_amount 1, no scores dropped,
// ftype complement_reject). valid is false where libMR's fit fails (fewer
// than 2 points, all points equal, no root); its W_score is then −9999, as
// libMR's.
type mrWeibull struct {
	scale, shape float64
	small        float64 // smallest point of the fitted tail
	valid        bool
}

// mrTranslate is libMR's default translate_amount.
const mrTranslate = 1

// fitHigh is MetaRecognition::FitHigh(data, len(data), fitSize): the
// fitSize largest points t are shifted to t − min(t) + 1 and fitted with
// weibull_fit (maximum likelihood on log-data, Brent's root finder as
// libMR's wdfzero).
func fitHigh(data []float64, fitSize int) mrWeibull {
	if fitSize > len(data) || fitSize <= 0 {
		return mrWeibull{}
	}
	d := slices.Clone(data)
	slices.SortFunc(d, func(a, b float64) int { // descending, as compare_sort_decending
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	d = d[:fitSize]
	small := d[fitSize-1]
	for i := range d {
		d[i] = d[i] + mrTranslate - small
	}
	scale, shape, ok := weibullFit(d)
	return mrWeibull{scale: scale, shape: shape, small: small, valid: ok}
}

// wScore is MetaRecognition::W_score (= CDF) of x.
func (m mrWeibull) wScore(x float64) float64 {
	if !m.valid {
		return -9999
	}
	t := x + mrTranslate - m.small
	if t < 0 {
		return 0
	}
	return 1 - math.Exp(-math.Pow(t/m.scale, m.shape))
}

// weibullFit is libMR's weibull_fit for uncensored, unit-frequency data:
// the maximum-likelihood (scale, shape); ok is false where libMR returns an
// error code.
func weibullFit(data []float64) (scale, shape float64, ok bool) {
	n := float64(len(data))
	if n <= 1 {
		return 0, 0, false
	}
	x := make([]float64, len(data))
	maxV, minV := -1e9, 1e9
	for i, v := range data {
		if v <= 0 {
			return 0, 0, false
		}
		x[i] = math.Log(v)
		if x[i] < minV {
			minV = x[i]
		}
		if x[i] > maxV {
			maxV = x[i]
		}
	}
	rng := maxV - minV
	if rng <= 0 {
		return 0, 0, false
	}
	x0 := make([]float64, len(x))
	var mean float64
	for i, v := range x {
		x0[i] = (v - maxV) / rng
		mean += x0[i]
	}
	mean /= n
	var sd float64
	for _, v := range x0 {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / (n - 1))
	sigma := math.Sqrt(6.0) * sd / 3.141592653589793238462
	var meanUnc float64
	for _, v := range x0 {
		meanUnc += v / n
	}
	lik := func(s float64) float64 { return weibullScaleLikelihood(s, x0, meanUnc) }
	var lower, upper float64
	if lik(sigma) > 0 {
		upper = sigma
		lower = 0.5 * upper
		for lik(lower) > 0 {
			upper = lower
			lower = 0.5 * upper
			if lower < 2.225073858507201e-308 {
				return 0, 0, false
			}
		}
	} else {
		lower = sigma
		upper = 2 * lower
		for lik(upper) < 0 {
			lower = upper
			upper = 2 * lower
			if upper > 1.797693134862315e+308 {
				return 0, 0, false
			}
		}
	}
	sigma, ok = wdfzero(lower, upper, 1e-6, lik)
	if !ok {
		return 0, 0, false
	}
	var sum float64
	for _, v := range x0 {
		sum += math.Exp(v / sigma)
	}
	muHat := sigma * math.Log(sum/n)
	mu := rng*muHat + maxV
	return math.Exp(mu), 1 / (rng * sigma), true
}

// weibullScaleLikelihood is libMR's weibull_scale_likelihood with unit
// weights: σ + x̄ − Σ x_i e^{x_i/σ} / Σ e^{x_i/σ}.
func weibullScaleLikelihood(sigma float64, x []float64, xbar float64) float64 {
	var sumxw, sumw float64
	for _, v := range x {
		w := math.Exp(v / sigma)
		sumxw += w * v
		sumw += w
	}
	return sigma + xbar - sumxw/sumw
}

// wdfzero is libMR's wdfzero (Brent's method, MATLAB fzero style) on [a, b].
func wdfzero(a, b, tol float64, f func(float64) float64) (float64, bool) {
	fa, fb := f(a), f(b)
	switch {
	case fa == 0:
		return a, true
	case fb == 0:
		return b, true
	case (fa > 0) == (fb > 0):
		return 0, false
	}
	var c, d, e, p, q float64
	fc := fb
	for fb != 0 {
		if (fb > 0) == (fc > 0) {
			c, fc = a, fa
			d = b - a
			e = d
		}
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		m := 0.5 * (c - b)
		tolerance := 2.0 * tol * max(math.Abs(b), 1.0)
		if math.Abs(m) <= tolerance || fb == 0 {
			break
		}
		if math.Abs(e) < tolerance || math.Abs(fa) <= math.Abs(fb) {
			d, e = m, m
		} else {
			s := fb / fa
			if a == c {
				p = 2.0 * m * s
				q = 1.0 - s
			} else {
				q = fa / fc
				r := fb / fc
				p = s * (2.0*m*q*(q-r) - (b-a)*(r-1.0))
				q = (q - 1.0) * (r - 1.0) * (s - 1.0)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
		}
		// libMR runs this test after the bisection branch too, with the p
		// and q of the last interpolation (0 before any).
		if 2.0*p < 3.0*m*q-math.Abs(tolerance*q) && p < math.Abs(0.5*e*q) {
			e = d
			d = p / q
		} else {
			d, e = m, m
		}
		a, fa = b, fb
		switch {
		case math.Abs(d) > tolerance:
			b += d
		case b > c:
			b -= tolerance
		default:
			b += tolerance
		}
		fb = f(b)
	}
	return b, true
}
