package posthoc

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

var impl gonum.Implementation

// to64 converts a float32 slice to float64.
func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// mulNT returns a·bᵀ for row-major a (n×k) and b (m×k): an n×m matrix.
func mulNT(a []float64, n int, b []float64, m, k int) []float64 {
	c := make([]float64, n*m)
	if n == 0 || m == 0 {
		return c
	}
	impl.Dgemm(blas.NoTrans, blas.Trans, n, m, k, 1, a, k, b, k, 0, c, m)
	return c
}

// affineRows returns x·Wᵀ + b for x (n×D float64), W (C×D), b (C): n×C.
func affineRows(x []float64, n int, w, b []float64, C, D int) []float64 {
	z := mulNT(x, n, w, C, D)
	for i := 0; i < n; i++ {
		row := z[i*C : (i+1)*C]
		for c := range row {
			row[c] += b[c]
		}
	}
	return z
}

// scatter returns (1/n)·Σ_i x_i x_iᵀ for x (n×D, already centred as wanted),
// i.e. sklearn's EmpiricalCovariance(assume_centered=True).covariance_, as a
// full symmetric D×D matrix.
func scatter(x []float64, n, D int) *mat.SymDense {
	// Dgemm (blocked, parallel) is much faster than gonum's Dsyrk here.
	c := make([]float64, D*D)
	impl.Dgemm(blas.Trans, blas.NoTrans, D, D, n, 1/float64(n), x, D, x, D, 0, c, D)
	for i := 0; i < D; i++ {
		for j := 0; j < i; j++ {
			v := (c[i*D+j] + c[j*D+i]) / 2
			c[i*D+j], c[j*D+i] = v, v
		}
	}
	return mat.NewSymDense(D, c)
}

// covarianceMLE is EmpiricalCovariance(assume_centered=False): the data are
// centred on their own column mean, then (1/n)·XᵀX.
func covarianceMLE(x []float64, n, D int) *mat.SymDense {
	m := make([]float64, D)
	for i := 0; i < n; i++ {
		for j, v := range x[i*D : (i+1)*D] {
			m[j] += v
		}
	}
	for j := range m {
		m[j] /= float64(n)
	}
	xc := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for j := 0; j < D; j++ {
			xc[i*D+j] = x[i*D+j] - m[j]
		}
	}
	return scatter(xc, n, D)
}

// pinvh is scipy.linalg.pinvh: the pseudo-inverse of a symmetric matrix from
// its eigen-decomposition, dropping eigenvalues with |λ| ≤ D·ε·max|λ|.
func pinvh(a *mat.SymDense) (*mat.SymDense, error) {
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return nil, errorf("eigen-decomposition of the covariance did not converge")
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	D := len(vals)
	maxAbs := 0.0
	for _, v := range vals {
		maxAbs = max(maxAbs, math.Abs(v))
	}
	cut := float64(D) * 2.220446049250313e-16 * maxAbs
	out := mat.NewSymDense(D, nil)
	for k, l := range vals {
		if math.Abs(l) <= cut {
			continue
		}
		inv := 1 / l
		for i := 0; i < D; i++ {
			vi := vecs.At(i, k) * inv
			if vi == 0 {
				continue
			}
			for j := i; j < D; j++ {
				out.SetSym(i, j, out.At(i, j)+vi*vecs.At(j, k))
			}
		}
	}
	return out, nil
}

// pinvApply returns −pinv(W)·b (ViM's origin u) with numpy's pinv cutoff
// σ ≤ 1e-15·σmax. W is C×D row-major.
func vimOrigin(w, b []float64, C, D int) ([]float64, error) {
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(C, D, w), mat.SVDThin) {
		return nil, errorf("SVD of the head weight did not converge")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	smax := 0.0
	for _, x := range s {
		smax = max(smax, x)
	}
	out := make([]float64, D)
	for k, sk := range s {
		if sk <= 1e-15*smax {
			continue
		}
		// coefficient (u_kᵀ b)/σ_k
		var ub float64
		for c := 0; c < C; c++ {
			ub += u.At(c, k) * b[c]
		}
		ub /= sk
		for j := 0; j < D; j++ {
			out[j] -= v.At(j, k) * ub
		}
	}
	return out, nil
}

// eigDesc returns the eigenvalues of a symmetric matrix in descending order
// and the matching eigenvectors as the columns of a D×D row-major matrix.
func eigDesc(a *mat.SymDense) ([]float64, []float64, error) {
	var es mat.EigenSym
	if !es.Factorize(a, true) {
		return nil, nil, errorf("eigen-decomposition of the covariance did not converge")
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	D := len(vals)
	order := make([]int, D)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return vals[order[i]] > vals[order[j]] })
	sv := make([]float64, D)
	vv := make([]float64, D*D)
	for k, o := range order {
		sv[k] = vals[o]
		for i := 0; i < D; i++ {
			vv[i*D+k] = vecs.At(i, o)
		}
	}
	return sv, vv, nil
}
