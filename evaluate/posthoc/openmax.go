package posthoc

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
)

// OpenMax constants, as OpenOOD's OpenMax sets them in its constructor.
const (
	openmaxAlpha    = 3  // weibull_alpha: classes revised per sample
	openmaxTailSize = 20 // weibull_tail: largest distances fitted per class
)

// openmax is OpenMax (OpenOOD OpenMax, distance 'euclidean'). Fit: for each
// class c, the mean logit vector μ_c (MAV) of the ID-train samples of class
// c that are classified correctly, and a Weibull fitted (libMR FitHigh) to
// the 20 largest Euclidean distances ‖z − μ_c‖ among them. Score: with the
// 3 largest logits ranked r = 1, 2, 3 weighted ω = (4 − r)/3 (0 for the
// others), w_c = W_c(‖z − μ_c‖) the Weibull CDF, ẑ_c = z_c·(1 − ω_c·w_c)
// and u = Σ_c (z_c − ẑ_c): score = −e^u / (Σ_c e^{ẑ_c} + e^u), minus the
// probability of the unknown class. Exponentials are float64 without
// max-subtraction, as numpy's; no hyper-parameters, APS off.
type openmax struct {
	C    int
	mav  []float64 // C×C
	fits []mrWeibull
	warn []string
	// overflow counts scored samples whose e^ẑ or e^u overflowed float64
	// (OpenOOD's numpy gives NaN there); they get the stable form.
	overflow atomic.Int64
}

func (*openmax) Name() string { return "openmax" }
func (*openmax) Needs() Needs { return Needs{Logits: true, Train: true, TrainLabels: true} }

func (o *openmax) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("openmax", "ID train", false, true, true); err != nil {
		return err
	}
	C := t.C
	o.C = C
	rows := make([][]int, C)
	for i := 0; i < t.N; i++ {
		if l := int(t.Labels[i]); argmax32(t.Logits[i*C:(i+1)*C]) == l {
			rows[l] = append(rows[l], i)
		}
	}
	o.mav = make([]float64, C*C)
	o.fits = make([]mrWeibull, C)
	o.warn = nil
	o.overflow.Store(0)
	for c := 0; c < C; c++ {
		if len(rows[c]) == 0 {
			return errorf("openmax: ID train has no correctly classified sample of class %d (needed for its mean logit vector)", c)
		}
		// numpy.mean over float32 (N_c, C): float32 result.
		mu := o.mav[c*C : (c+1)*C]
		for k := 0; k < C; k++ {
			var s float64
			for _, i := range rows[c] {
				s += float64(t.Logits[i*C+k])
			}
			mu[k] = float64(float32(s / float64(len(rows[c]))))
		}
		dist := make([]float64, len(rows[c]))
		for j, i := range rows[c] {
			dist[j] = euclid32(t.Logits[i*C:(i+1)*C], mu)
		}
		slices.Sort(dist)
		tail := dist[max(0, len(dist)-openmaxTailSize):]
		o.fits[c] = fitHigh(tail, len(tail))
		if !o.fits[c].valid {
			o.warn = append(o.warn, "openmax: the Weibull fit of class "+strconv.Itoa(c)+" failed (too few or equal tail distances); as with libMR its W-score is −9999")
		}
	}
	return nil
}

// Warnings reports conditions under which the scores, though equal to
// OpenOOD's, are degenerate.
func (o *openmax) Warnings() []string {
	w := slices.Clone(o.warn)
	if n := o.overflow.Load(); n > 0 {
		w = append(w, fmt.Sprintf("openmax: %d scored samples overflow e^z in float64 (OpenOOD's numpy makes their score NaN and scikit-learn fails); t2f scores them as −1/(1 + Σ_c e^(ẑ_c − u))", n))
	}
	return w
}

// euclid32 is scipy's euclidean(mu, z) on float32 inputs: the difference and
// its norm in float32.
func euclid32(z []float32, mu []float64) float64 {
	var s float32
	for k, v := range z {
		d := float32(mu[k]) - v
		s += d * d
	}
	return float64(float32(math.Sqrt(float64(s))))
}

func (o *openmax) Score(d *Data) ([]float64, error) {
	if o.fits == nil {
		return nil, errNotFitted("openmax")
	}
	if err := d.check("openmax", "scored data", false, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("openmax", "scored data", 0, o.C); err != nil {
		return nil, err
	}
	C := o.C
	out := make([]float64, d.N)
	omega := make([]float64, C)
	mod := make([]float64, C)
	idx := make([]int, C)
	for i := range out {
		z := d.Logits[i*C : (i+1)*C]
		// argsort()[::-1][:alpha]: the largest logits, ties to the higher index.
		for k := range idx {
			idx[k] = k
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case z[a] > z[b]:
				return -1
			case z[a] < z[b]:
				return 1
			}
			return b - a
		})
		clear(omega)
		for r := 0; r < min(openmaxAlpha, C); r++ {
			omega[idx[r]] = float64(openmaxAlpha+1-(r+1)) / openmaxAlpha
		}
		var sum, unknown float64
		for c := 0; c < C; c++ {
			w := o.fits[c].wScore(euclid32(z, o.mav[c*C:(c+1)*C]))
			zc := float64(z[c])
			mod[c] = zc * (1 - w*omega[c])
			sum += math.Exp(mod[c])
			unknown += zc - mod[c]
		}
		eu := math.Exp(unknown)
		out[i] = -(eu / (sum + eu))
		if math.IsNaN(out[i]) || math.IsInf(sum, 0) || math.IsInf(eu, 0) {
			o.overflow.Add(1)
			var s float64
			for _, m := range mod {
				s += math.Exp(m - unknown)
			}
			out[i] = -1 / (1 + s)
		}
	}
	return out, nil
}
