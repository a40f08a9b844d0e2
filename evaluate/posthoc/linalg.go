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

// chunkRows bounds the float64 copies of feature matrices: large splits are
// processed this many rows at a time.
const chunkRows = 4096

// rowChunks calls f with consecutive chunks of at most chunkRows rows of x
// (n×D float32) converted to float64; i0 is the first row of the chunk.
func rowChunks(x []float32, n, D int, f func(i0, m int, c []float64)) {
	buf := make([]float64, min(n, chunkRows)*D)
	for i0 := 0; i0 < n; i0 += chunkRows {
		m := min(chunkRows, n-i0)
		c := buf[:m*D]
		for i, v := range x[i0*D : (i0+m)*D] {
			c[i] = float64(v)
		}
		f(i0, m, c)
	}
}

// affineChunked returns g(f_i)·Wᵀ + b for every row f_i of x (n×D float32),
// where g rewrites a float64 row in place (nil: identity). n×C.
func affineChunked(x []float32, n int, w, b []float64, C, D int, g func(row []float64)) []float64 {
	z := make([]float64, n*C)
	rowChunks(x, n, D, func(i0, m int, c []float64) {
		if g != nil {
			for i := 0; i < m; i++ {
				g(c[i*D : (i+1)*D])
			}
		}
		copy(z[i0*C:], affineRows(c, m, w, b, C, D))
	})
	return z
}

// covStream returns (1/n)·Σ_i (r_i − m)(r_i − m)ᵀ over the rows r_i =
// row(i) (written into a D-vector), with m = mean_i r_i when center
// (sklearn EmpiricalCovariance(assume_centered=False)) or m = 0
// (assume_centered=True). Rows are produced in chunks, so the data are never
// copied whole to float64.
func covStream(n, D int, center bool, row func(i int, dst []float64)) *mat.SymDense {
	m := make([]float64, D)
	buf := make([]float64, min(n, chunkRows)*D)
	if center {
		for i := 0; i < n; i++ {
			r := buf[:D]
			row(i, r)
			for j, v := range r {
				m[j] += v
			}
		}
		for j := range m {
			m[j] /= float64(n)
		}
	}
	c := make([]float64, D*D)
	xt := make([]float64, len(buf)) // the chunk transposed: D×k
	r := make([]float64, D)
	for i0 := 0; i0 < n; i0 += chunkRows {
		k := min(chunkRows, n-i0)
		for i := 0; i < k; i++ {
			row(i0+i, r)
			for j, v := range r {
				xt[j*k+i] = v - m[j]
			}
		}
		syrkUpper(D, k, 1/float64(n), xt[:D*k], c, covBlock)
	}
	for i := 0; i < D; i++ {
		for j := 0; j < i; j++ {
			c[i*D+j] = c[j*D+i]
		}
	}
	return mat.NewSymDense(D, c)
}

// covBlock is the row-block size of syrkUpper.
const covBlock = 128

// syrkUpper adds alpha·A·Aᵀ to the upper triangle (blocks on and above the
// diagonal) of c (D×D), for A D×k row-major. It runs gonum's NoTrans×Trans
// Dgemm (row dot products, several times faster than its Dsyrk or
// Trans×NoTrans) on bs-row block pairs I ≤ J, skipping ~half the flops.
func syrkUpper(D, k int, alpha float64, a, c []float64, bs int) {
	for i0 := 0; i0 < D; i0 += bs {
		mi := min(bs, D-i0)
		for j0 := i0; j0 < D; j0 += bs {
			mj := min(bs, D-j0)
			impl.Dgemm(blas.NoTrans, blas.Trans, mi, mj, k, alpha, a[i0*k:], k, a[j0*k:], k, 1, c[i0*D+j0:], D)
		}
	}
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

// pinvh is scipy.linalg.pinvh: the pseudo-inverse of a symmetric matrix from
// its eigen-decomposition, dropping eigenvalues with |λ| ≤ D·ε·max|λ|.
//
// When no eigenvalue is dropped (a positive definite covariance, the usual
// case) the result is the ordinary inverse, computed by Cholesky: the same
// matrix up to rounding, without the eigenvectors (5× less work at D = 512).
func pinvh(a *mat.SymDense) (*mat.SymDense, error) {
	var ev mat.EigenSym
	if ev.Factorize(a, false) {
		vals := ev.Values(nil)
		maxAbs, minVal := 0.0, math.Inf(1)
		for _, v := range vals {
			maxAbs = max(maxAbs, math.Abs(v))
			minVal = min(minVal, v)
		}
		if minVal > float64(len(vals))*2.220446049250313e-16*maxAbs {
			var ch mat.Cholesky
			if ch.Factorize(a) {
				var inv mat.SymDense
				if err := ch.InverseTo(&inv); err == nil {
					return &inv, nil
				}
			}
		}
	}
	return pinvhEigen(a)
}

// pinvhEigen is pinvh through the eigen-decomposition (any symmetric a).
func pinvhEigen(a *mat.SymDense) (*mat.SymDense, error) {
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

// vimOrigin returns −pinv(W)·b (ViM's origin u) with numpy's pinv cutoff
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
