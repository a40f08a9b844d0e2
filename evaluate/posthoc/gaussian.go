package posthoc

import (
	"fmt"
	"math"
)

// mds is MDS (Mahalanobis) and, with relative set, RMDS.
//
// MDS: μ_c = mean of the ID-train features of class c (true labels);
// Σ = EmpiricalCovariance (MLE, divide by N) of the class-centred features;
// P = pinvh(Σ); score = max_c −(f−μ_c)ᵀP(f−μ_c).
// RMDS: additionally μ₀ = mean of all ID-train features, P₀ = pinvh of the
// MLE covariance of f − μ₀, d₀ = (f−μ₀)ᵀP₀(f−μ₀); score = max_c (−d_c + d₀).
// No hyper-parameters; APS off.
type mds struct {
	relative bool
	D, C     int
	prec     []float64 // D×D
	mu       []float64 // C×D
	pmu      []float64 // C×D: P·μ_c
	mpm      []float64 // C: μ_cᵀP μ_c
	// background (RMDS)
	prec0 []float64
	mu0   []float64
}

func (m *mds) Name() string {
	if m.relative {
		return "rmds"
	}
	return "mds"
}
func (m *mds) Needs() Needs {
	return Needs{Feature: true, Train: true, TrainLabels: true}
}

func (m *mds) Fit(in FitInput) error {
	name := m.Name()
	t := in.Train
	if t != nil && t.C <= 0 {
		return errorf("%s: ID train has C=%d classes, want > 0 (the number of ID classes)", name, t.C)
	}
	if err := t.check(name, "ID train", true, false, true); err != nil {
		return err
	}
	N, D, C := t.N, t.D, t.C
	x := t.Feature
	mu, prec, err := classGaussian(x, t.Labels, N, D, C)
	if err != nil {
		return errorf("%s: %w", name, err)
	}
	m.prec = prec
	m.D, m.C, m.mu = D, C, mu
	m.pmu = mulNT(mu, C, m.prec, D, D)
	m.mpm = make([]float64, C)
	for c := 0; c < C; c++ {
		m.mpm[c] = dot(mu[c*D:(c+1)*D], m.pmu[c*D:(c+1)*D])
	}
	if m.relative {
		mu0 := colMeans(x, N, D)
		p0, err := pinvh(covStream(N, D, true, func(i int, dst []float64) {
			for j, v := range x[i*D : (i+1)*D] {
				dst[j] = float64(v) - mu0[j]
			}
		}))
		if err != nil {
			return errorf("%s: %w", name, err)
		}
		m.mu0, m.prec0 = mu0, symData(p0.RawSymmetric().Data, D)
	}
	return nil
}

// ClassGaussian is the shared Gaussian of MDS (OpenOOD's mds and
// mds_ensemble's get_MDS_stat): the class means μ_c of the N×D features x
// (float64 sums of the float32 values; labels in [0, C)) and the precision
// P = pinvh of the MLE covariance (sklearn EmpiricalCovariance,
// assume_centered=False) of the class-centred features. mu is C×D, prec
// D×D, both row-major.
func ClassGaussian(x []float32, labels []int32, N, D, C int) (mu, prec []float64, err error) {
	if mu, prec, err = classGaussian(x, labels, N, D, C); err != nil {
		return nil, nil, errorf("class Gaussian: %w", err)
	}
	return mu, prec, nil
}

func classGaussian(x []float32, labels []int32, N, D, C int) (mu, prec []float64, err error) {
	if N <= 0 || D <= 0 || C <= 0 || len(x) != N*D || len(labels) != N {
		return nil, nil, fmt.Errorf("%d values and %d labels for N=%d, D=%d, C=%d", len(x), len(labels), N, D, C)
	}
	mu = make([]float64, C*D)
	cnt := make([]int, C)
	for i := 0; i < N; i++ {
		c := int(labels[i])
		if c < 0 || c >= C {
			return nil, nil, fmt.Errorf("sample %d has label %d, want 0..%d", i, c, C-1)
		}
		cnt[c]++
		for j, v := range x[i*D : (i+1)*D] {
			mu[c*D+j] += float64(v)
		}
	}
	for c := 0; c < C; c++ {
		if cnt[c] == 0 {
			return nil, nil, fmt.Errorf("ID train has no sample of class %d (of %d): its class mean is undefined", c, C)
		}
		for j := 0; j < D; j++ {
			mu[c*D+j] /= float64(cnt[c])
		}
	}
	p, err := pinvh(covStream(N, D, true, func(i int, dst []float64) {
		c := int(labels[i])
		for j, v := range x[i*D : (i+1)*D] {
			dst[j] = float64(v) - mu[c*D+j]
		}
	}))
	if err != nil {
		return nil, nil, err
	}
	return mu, symData(p.RawSymmetric().Data, D), nil
}

// symData returns a full D×D copy of an upper-triangle symmetric matrix.
func symData(upper []float64, D int) []float64 {
	out := make([]float64, D*D)
	for i := 0; i < D; i++ {
		for j := i; j < D; j++ {
			out[i*D+j] = upper[i*D+j]
			out[j*D+i] = upper[i*D+j]
		}
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func (m *mds) Score(d *Data) ([]float64, error) {
	name := m.Name()
	if m.prec == nil {
		return nil, errNotFitted(name)
	}
	if err := d.check(name, "scored data", true, false, false); err != nil {
		return nil, err
	}
	if err := d.sameShape(name, "scored data", m.D, 0); err != nil {
		return nil, err
	}
	N, D, C := d.N, m.D, m.C
	out := make([]float64, N)
	const chunk = 2048
	for i0 := 0; i0 < N; i0 += chunk {
		n := min(chunk, N-i0)
		x := to64(d.Feature[i0*D : (i0+n)*D])
		px := mulNT(x, n, m.prec, D, D) // rows P·f (P symmetric)
		fa := mulNT(x, n, m.pmu, C, D)  // f·Pμ_c
		var d0 []float64
		if m.relative {
			xc := make([]float64, len(x))
			for i := 0; i < n; i++ {
				for j := 0; j < D; j++ {
					xc[i*D+j] = x[i*D+j] - m.mu0[j]
				}
			}
			p0 := mulNT(xc, n, m.prec0, D, D)
			d0 = make([]float64, n)
			for i := 0; i < n; i++ {
				d0[i] = dot(xc[i*D:(i+1)*D], p0[i*D:(i+1)*D])
			}
		}
		for i := 0; i < n; i++ {
			q := dot(x[i*D:(i+1)*D], px[i*D:(i+1)*D])
			best := math.Inf(-1)
			for c := 0; c < C; c++ {
				dc := q - 2*fa[i*C+c] + m.mpm[c]
				s := -dc
				if m.relative {
					s += d0[i]
				}
				best = max(best, s)
			}
			out[i0+i] = best
		}
	}
	return out, nil
}
