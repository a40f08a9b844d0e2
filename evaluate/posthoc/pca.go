package posthoc

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/t2f/t2f/kernels"
)

// Rows is a row-major float32 matrix read in passes: the data a PCA or a
// GMM is fitted on when it may be too large for memory (gmm's ID-train
// maps, spilled to a file by `t2f features`). DenseRows is the in-memory
// one.
type Rows interface {
	// Dims is the number of rows and the row length.
	Dims() (n, d int)
	// Scan calls f with consecutive blocks of rows in order: rows
	// [i0, i0+m) as m×d row-major values, valid only during the call. An
	// error from f stops the scan and is returned.
	Scan(f func(i0, m int, block []float32) error) error
}

// DenseRows is Rows over an N×D row-major slice.
type DenseRows struct {
	N, D int
	X    []float32
}

// Dims implements Rows.
func (r DenseRows) Dims() (n, d int) { return r.N, r.D }

// Scan implements Rows, in blocks of chunkRows rows.
func (r DenseRows) Scan(f func(i0, m int, block []float32) error) error {
	for i0 := 0; i0 < r.N; i0 += chunkRows {
		m := min(chunkRows, r.N-i0)
		if err := f(i0, m, r.X[i0*r.D:(i0+m)*r.D]); err != nil {
			return err
		}
	}
	return nil
}

// PCA is a fitted principal-component basis (scikit-learn's PCA:
// components_, mean_, explained_variance_).
type PCA struct {
	K, D       int
	Components []float64 // K×D row-major, unit rows, by decreasing variance
	Mean       []float64 // D
	Variance   []float64 // K: S²/(n−1)
	// Solver is scikit-learn's svd_solver that 'auto' picks for the shape:
	// "full" or "randomized".
	Solver string
}

// FitPCA fits k principal components of rows the way scikit-learn 1.2's
// PCA(n_components=k) does with svd_solver='auto': the exact SVD of the
// centred data when max(n, d) ≤ 500 or k ≥ 0.8·min(n, d), otherwise
// randomized_svd (Halko et al.) with 10 oversamples and 7 power iterations
// (4 when k ≥ 0.1·min(n, d)), applied to the transposed matrix when n < d,
// its Gaussian test matrix drawn from a PCG generator seeded by seed. Signs
// follow svd_flip: the largest |entry| of each left singular vector (the
// n-sample side) is positive.
//
// Differences from scikit-learn, which change rounding and, for the
// randomized solver, the random draw but not what is computed: the power
// iterations are normalised by QR (scikit-learn: LU with partial pivoting;
// both keep the same column space), and the exact solver works on the d×d
// Gram matrix of the centred data (eigendecomposition) when d ≤ n, so that
// rows are read in passes rather than held in memory. Rows are centred on
// the fly: only the exact solver with n < d (then n ≤ 500 or n ≤ 1.25·k)
// copies the data whole. Products are float64, except those of the power
// iterations before the last, which only steer the sketch and run as
// float32 GEMMs (kernels; summed over row blocks in float64): the last
// iteration, the sketch's basis and the projection are float64.
func FitPCA(ctx context.Context, rows Rows, k int, seed uint64) (*PCA, error) {
	rows = ctxRows{ctx, rows}
	n, d := rows.Dims()
	if n < 1 || d < 1 || k < 1 || k > min(n, d) {
		return nil, errorf("pca: %d components of %d rows × %d values: want 1 ≤ components ≤ min(rows, values)", k, n, d)
	}
	p := &PCA{K: k, D: d, Mean: make([]float64, d)}
	if err := rows.Scan(func(_, m int, b []float32) error {
		for i := range m {
			for j, v := range b[i*d : (i+1)*d] {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return errorf("pca: row value %v", v)
				}
				p.Mean[j] += float64(v)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for j := range p.Mean {
		p.Mean[j] /= float64(n)
	}
	var err error
	if max(n, d) <= 500 || float64(k) >= 0.8*float64(min(n, d)) {
		p.Solver = "full"
		err = p.fitFull(rows, n, d)
	} else {
		p.Solver = "randomized"
		err = p.fitRandomized(rows, n, d, seed)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ctxRows stops a scan between blocks once ctx is done: a fit on a large
// spilled split can be interrupted.
type ctxRows struct {
	ctx context.Context
	Rows
}

func (r ctxRows) Scan(f func(i0, m int, block []float32) error) error {
	return r.Rows.Scan(func(i0, m int, block []float32) error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		return f(i0, m, block)
	})
}

// centredOp is the centred data matrix Xc = X − 1·meanᵀ (n×d) as products
// computed in passes over the rows.
type centredOp struct {
	rows Rows
	n, d int
	mean []float64
	buf  []float64 // a block of rows in float64, reused across passes
}

// mul returns Xc·q for q d×l row-major: n×l.
func (o *centredOp) mul(q []float64, l int) ([]float64, error) {
	out := make([]float64, o.n*l)
	mq := make([]float64, l) // meanᵀ·q
	for j := range o.d {
		for c := range l {
			mq[c] += o.mean[j] * q[j*l+c]
		}
	}
	err := o.rows.Scan(func(i0, m int, b []float32) error {
		o.buf = growF64(o.buf, m*o.d)
		buf := o.buf
		for i, v := range b[:m*o.d] {
			buf[i] = float64(v)
		}
		impl.Dgemm(blas.NoTrans, blas.NoTrans, m, l, o.d, 1, buf, o.d, q, l, 0, out[i0*l:], l)
		for i := range m {
			row := out[(i0+i)*l : (i0+i+1)*l]
			for c := range row {
				row[c] -= mq[c]
			}
		}
		return nil
	})
	return out, err
}

// mulT returns Xcᵀ·y for y n×l row-major: d×l.
func (o *centredOp) mulT(y []float64, l int) ([]float64, error) {
	out := make([]float64, o.d*l)
	err := o.rows.Scan(func(i0, m int, b []float32) error {
		o.buf = growF64(o.buf, m*o.d)
		buf := o.buf
		for i, v := range b[:m*o.d] {
			buf[i] = float64(v)
		}
		impl.Dgemm(blas.Trans, blas.NoTrans, o.d, l, m, 1, buf, o.d, y[i0*l:], l, 1, out, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.centreT(y, l, out)
	return out, nil
}

// mul32 is mul with each block's product in float32 (kernels' GEMM): for
// the power iterations, which only steer the sketch towards the dominant
// subspace.
func (o *centredOp) mul32(g *kernels.Gemm, q []float64, l int) ([]float64, error) {
	out := make([]float64, o.n*l)
	mq := make([]float64, l)
	q32 := make([]float32, len(q))
	for j := range o.d {
		for c := range l {
			mq[c] += o.mean[j] * q[j*l+c]
			q32[j*l+c] = float32(q[j*l+c])
		}
	}
	var c32 []float32
	err := o.rows.Scan(func(i0, m int, b []float32) error {
		c32 = growF32(c32, m*l)
		g.Sgemm(false, false, m, l, o.d, 1, b, o.d, q32, l, 0, c32, l)
		for i, v := range c32 {
			out[i0*l+i] = float64(v) - mq[i%l]
		}
		return nil
	})
	return out, err
}

// mulT32 is mulT with each block's product in float32, summed over the
// blocks in float64.
func (o *centredOp) mulT32(g *kernels.Gemm, y []float64, l int) ([]float64, error) {
	out := make([]float64, o.d*l)
	c32 := make([]float32, o.d*l)
	var y32 []float32
	err := o.rows.Scan(func(i0, m int, b []float32) error {
		y32 = growF32(y32, m*l)
		for i := range y32 {
			y32[i] = float32(y[i0*l+i])
		}
		g.Sgemm(true, false, o.d, l, m, 1, b, o.d, y32, l, 0, c32, l)
		for i, v := range c32 {
			out[i] += float64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.centreT(y, l, out)
	return out, nil
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// orth returns an orthonormal basis of the columns of a (m×l row-major, m ≥
// l): the thin Q of a QR factorisation, by modified Gram–Schmidt run twice
// (re-orthogonalisation keeps it orthonormal to rounding). A column
// dependent on the previous ones becomes zero.
func orth(a []float64, m, l int) []float64 {
	cols := make([][]float64, l)
	for c := range l {
		v := make([]float64, m)
		for i := range m {
			v[i] = a[i*l+c]
		}
		cols[c] = v
	}
	for c, v := range cols {
		norm0 := math.Sqrt(dot(v, v))
		for range 2 {
			for _, u := range cols[:c] {
				r := dot(u, v)
				for i := range v {
					v[i] -= r * u[i]
				}
			}
		}
		norm := math.Sqrt(dot(v, v))
		if norm <= 1e-12*norm0 || norm == 0 {
			clear(v)
			continue
		}
		for i := range v {
			v[i] /= norm
		}
	}
	out := make([]float64, m*l)
	for c, v := range cols {
		for i, x := range v {
			out[i*l+c] = x
		}
	}
	return out
}

// transpose returns the l×m transpose of a (m×l row-major).
func transpose(a []float64, m, l int) []float64 {
	out := make([]float64, len(a))
	for i := range m {
		for c := range l {
			out[c*m+i] = a[i*l+c]
		}
	}
	return out
}

// fitRandomized is scikit-learn's randomized_svd(Xc, k, n_oversamples=10,
// n_iter='auto', transpose='auto', flip_sign=True).
func (p *PCA) fitRandomized(rows Rows, n, d int, seed uint64) error {
	op := &centredOp{rows: rows, n: n, d: d, mean: p.Mean}
	k := p.K
	l := min(k+10, min(n, d))
	iters := 4
	if float64(k) < 0.1*float64(min(n, d)) {
		iters = 7
	}
	// M is Xc (m = n, the range side) or Xcᵀ when n < d (m = d).
	tr := n < d
	m, q := n, d // M is m×q
	g := kernels.NewGemm(runtime.GOMAXPROCS(0))
	defer g.Close()
	mul32 := func(q []float64, l int) ([]float64, error) { return op.mul32(g, q, l) }
	mulT32 := func(y []float64, l int) ([]float64, error) { return op.mulT32(g, y, l) }
	mulM, mulMT := op.mul, op.mulT
	fastM, fastMT := mul32, mulT32
	if tr {
		m, q = d, n
		mulM, mulMT = op.mulT, op.mul
		fastM, fastMT = mulT32, mul32
	}
	rng := rand.New(rand.NewPCG(seed, 0x9ca))
	Q := make([]float64, q*l)
	for i := range Q {
		Q[i] = rng.NormFloat64()
	}
	var err error
	for it := range iters {
		// All but the last power iteration in float32: the last one, in
		// float64, damps their rounding along the minor directions like any
		// other perturbation of the sketch.
		mm, mt := mulM, mulMT
		if it < iters-1 {
			mm, mt = fastM, fastMT
		}
		var y []float64
		if y, err = mm(Q, l); err != nil {
			return err
		}
		y = orth(y, m, l)
		if Q, err = mt(y, l); err != nil {
			return err
		}
		Q = orth(Q, q, l)
	}
	y, err := mulM(Q, l)
	if err != nil {
		return err
	}
	Qm := orth(y, m, l)     // m×l
	bt, err := mulMT(Qm, l) // Mᵀ·Q = Bᵀ, q×l
	if err != nil {
		return err
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(l, q, transpose(bt, q, l)), mat.SVDThin) {
		return errorf("pca: SVD of the projected %d×%d matrix did not converge", l, q)
	}
	s := svd.Values(nil)
	var uh, vt mat.Dense
	svd.UTo(&uh) // l×l
	svd.VTo(&vt) // q×l (V, not Vᵀ)
	// U = Q·Uhat: m×l, the left singular vectors of M.
	U := make([]float64, m*l)
	impl.Dgemm(blas.NoTrans, blas.NoTrans, m, l, l, 1, Qm, l, uh.RawMatrix().Data, uh.RawMatrix().Stride, 0, U, l)
	V := vt.RawMatrix()
	// The n-sample side decides the signs (svd_flip, u-based on Xc; on Xcᵀ
	// scikit-learn flips with u_based_decision=False, the same vectors).
	p.Components = make([]float64, k*d)
	p.Variance = make([]float64, k)
	for c := range k {
		sign := 1.0
		if tr {
			sign = signOfLargest(func(i int) float64 { return V.Data[i*V.Stride+c] }, n)
			for j := range d {
				p.Components[c*d+j] = sign * U[j*l+c]
			}
		} else {
			sign = signOfLargest(func(i int) float64 { return U[i*l+c] }, n)
			for j := range d {
				p.Components[c*d+j] = sign * V.Data[j*V.Stride+c]
			}
		}
		p.Variance[c] = s[c] * s[c] / float64(n-1)
	}
	return nil
}

// signOfLargest is the sign of the first entry of largest magnitude among
// v(0..n−1) (svd_flip's np.argmax(np.abs(u), axis=0)); +1 for a zero vector.
func signOfLargest(v func(i int) float64, n int) float64 {
	best, at := -1.0, 0
	for i := range n {
		if a := math.Abs(v(i)); a > best {
			best, at = a, i
		}
	}
	if v(at) < 0 {
		return -1
	}
	return 1
}

// fitFull is scikit-learn's full solver (LAPACK SVD of the centred data,
// then svd_flip). With d ≤ n it diagonalises the d×d Gram matrix XcᵀXc
// (rows in passes) and takes the signs from Xc·v; otherwise n is small (n ≤
// 500 or n ≤ 1.25·k) and the centred data is decomposed in memory.
func (p *PCA) fitFull(rows Rows, n, d int) error {
	k := p.K
	p.Components = make([]float64, k*d)
	p.Variance = make([]float64, k)
	denom := float64(max(n-1, 1))
	if d <= n {
		g := make([]float64, d*d)
		var xt []float64
		if err := rows.Scan(func(_, m int, b []float32) error {
			xt = growF64(xt, d*m)
			for i := range m {
				for j, v := range b[i*d : (i+1)*d] {
					xt[j*m+i] = float64(v) - p.Mean[j]
				}
			}
			syrkUpper(d, m, 1, xt, g, covBlock)
			return nil
		}); err != nil {
			return err
		}
		vals, vecs, err := eigDesc(mat.NewSymDense(d, symData(g, d)))
		if err != nil {
			return errorf("pca: %w", err)
		}
		comp := make([]float64, d*k) // d×k: the top k eigenvectors as columns
		for j := range d {
			copy(comp[j*k:(j+1)*k], vecs[j*d:j*d+k])
		}
		op := &centredOp{rows: rows, n: n, d: d, mean: p.Mean}
		u, err := op.mul(comp, k) // n×k, Xc·v
		if err != nil {
			return err
		}
		for c := range k {
			sign := signOfLargest(func(i int) float64 { return u[i*k+c] }, n)
			for j := range d {
				p.Components[c*d+j] = sign * comp[j*k+c]
			}
			p.Variance[c] = max(vals[c], 0) / denom
		}
		return nil
	}
	x := make([]float64, n*d)
	if err := rows.Scan(func(i0, m int, b []float32) error {
		for i, v := range b[:m*d] {
			x[i0*d+i] = float64(v) - p.Mean[(i0*d+i)%d]
		}
		return nil
	}); err != nil {
		return err
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(n, d, x), mat.SVDThin) {
		return errorf("pca: SVD of the %d×%d centred data did not converge", n, d)
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	for c := range k {
		sign := signOfLargest(func(i int) float64 { return u.At(i, c) }, n)
		for j := range d {
			p.Components[c*d+j] = sign * v.At(j, c)
		}
		p.Variance[c] = s[c] * s[c] / denom
	}
	return nil
}

// Project returns rows·Componentsᵀ (n×K): OpenOOD's np.dot(features,
// pca.components_.T), without centring.
func (p *PCA) Project(ctx context.Context, rows Rows) ([]float64, error) {
	rows = ctxRows{ctx, rows}
	n, d := rows.Dims()
	if d != p.D {
		return nil, errorf("pca: rows of %d values, fitted on %d", d, p.D)
	}
	ct := transpose(p.Components, p.K, p.D) // D×K
	op := &centredOp{rows: rows, n: n, d: d, mean: make([]float64, d)}
	return op.mul(ct, p.K)
}

// centreT turns out = Xᵀ·y (d×l) of the uncentred rows into the centred
// (X − 1μᵀ)ᵀ·y = Xᵀ·y − μ·(1ᵀ·y), for mulT and mulT32.
func (o *centredOp) centreT(y []float64, l int, out []float64) {
	sy := make([]float64, l) // 1ᵀ·y
	for i := range o.n {
		for c := range l {
			sy[c] += y[i*l+c]
		}
	}
	for j := range o.d {
		for c := range l {
			out[j*l+c] -= o.mean[j] * sy[c]
		}
	}
}
