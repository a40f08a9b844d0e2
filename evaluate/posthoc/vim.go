package posthoc

import (
	"math"
)

// principal holds ViM/Residual's principal space: the origin u = −pinv(W)·b
// and the eigenvectors (columns, descending eigenvalue) of
// (1/N)·Σ(f−u)(f−u)ᵀ over the fitting features.
type principal struct {
	D    int
	u    []float64
	vecs []float64 // D×D, column k = k-th eigenvector
	ns   []float64 // D×(D−dim): the residual space N
	nsK  int       // D − dim
}

func (p *principal) fit(method string, x []float32, n, D int, head linearHead) error {
	u, err := vimOrigin(head.w, head.b, head.C, D)
	if err != nil {
		return errorf("%s: %w", method, err)
	}
	cov := covStream(n, D, false, func(i int, dst []float64) {
		for j, v := range x[i*D : (i+1)*D] {
			dst[j] = float64(v) - u[j]
		}
	})
	_, vecs, err := eigDesc(cov)
	if err != nil {
		return errorf("%s: %w", method, err)
	}
	p.D, p.u, p.vecs = D, u, vecs
	return nil
}

// setDim selects the eigenvectors after the dim largest. dim ≥ D leaves an
// empty residual space (nsK = 0).
func (p *principal) setDim(dim int) {
	k := max(p.D-dim, 0)
	p.nsK = k
	p.ns = make([]float64, p.D*k)
	for i := 0; i < p.D; i++ {
		copy(p.ns[i*k:(i+1)*k], p.vecs[i*p.D+p.D-k:(i+1)*p.D])
	}
}

// residualNorms returns ‖(f−u)ᵀN‖ for each row of x (n×D float32).
func (p *principal) residualNorms(x []float32, n int) []float64 {
	D, k := p.D, p.nsK
	out := make([]float64, n)
	if k == 0 {
		return out
	}
	// (f−u)ᵀN as an (n×D)·(D×k) product; mulNT wants Nᵀ (k×D).
	nt := make([]float64, k*D)
	for i := 0; i < D; i++ {
		for j := 0; j < k; j++ {
			nt[j*D+i] = p.ns[i*k+j]
		}
	}
	const chunk = 2048
	for i0 := 0; i0 < n; i0 += chunk {
		m := min(chunk, n-i0)
		xc := make([]float64, m*D)
		for i := 0; i < m; i++ {
			for j := 0; j < D; j++ {
				xc[i*D+j] = float64(x[(i0+i)*D+j]) - p.u[j]
			}
		}
		proj := mulNT(xc, m, nt, k, D)
		for i := 0; i < m; i++ {
			out[i0+i] = math.Sqrt(dot(proj[i*k:(i+1)*k], proj[i*k:(i+1)*k]))
		}
	}
	return out
}

// vim is ViM: principal space from ID-train features; N = eigenvectors after
// the `dim` largest; α = mean_train(max_c z_c) / mean_train(‖(f−u)ᵀN‖);
// score = logsumexp(z) − α·‖(f−u)ᵀN‖ with z = W·f + b. dim default 256,
// sweep [256 1000], APS on. A dim ≥ D leaves no residual space (α = x/0 in
// OpenOOD): such a setting is ErrNotApplicable.
type vim struct {
	params
	head      linearHead
	pr        principal
	train     *Data
	maxLogitM float64 // mean over train of max_c z_c
	alpha     float64
	alphas    map[int]float64 // α per dim, so APS and its final Set do not repeat the train pass
	fitted    bool
}

func newViM() *vim {
	return &vim{params: newParams(Param{Name: "dim", Default: 256, Sweep: []float64{256, 1000}})}
}

func (*vim) Name() string { return "vim" }
func (*vim) Needs() Needs { return Needs{Feature: true, Head: true, Train: true, APS: true} }

func (v *vim) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("vim", "ID train", true, false, false); err != nil {
		return err
	}
	if err := v.head.load("vim", in.Head, t.D); err != nil {
		return err
	}
	if err := v.pr.fit("vim", t.Feature, t.N, t.D, v.head); err != nil {
		return err
	}
	z := affineChunked(t.Feature, t.N, v.head.w, v.head.b, v.head.C, t.D, nil)
	var s float64
	for i := 0; i < t.N; i++ {
		m := math.Inf(-1)
		for _, x := range z[i*v.head.C : (i+1)*v.head.C] {
			m = max(m, x)
		}
		s += m
	}
	v.maxLogitM, v.train, v.fitted = s/float64(t.N), t, true
	v.alphas = map[int]float64{}
	return v.computeAlpha()
}

func (v *vim) computeAlpha() error {
	dim := int(v.vals[0])
	v.pr.setDim(dim)
	v.alpha = math.NaN()
	if v.pr.nsK == 0 {
		return nil
	}
	if a, ok := v.alphas[dim]; ok {
		v.alpha = a
		return nil
	}
	defer func() { v.alphas[dim] = v.alpha }()
	r := v.pr.residualNorms(v.train.Feature, v.train.N)
	var s float64
	for _, x := range r {
		s += x
	}
	v.alpha = v.maxLogitM / (s / float64(len(r)))
	return nil
}

func (v *vim) Set(vals ...float64) error {
	old := v.vals[0]
	if err := v.setVals("vim", vals); err != nil {
		return err
	}
	if _, err := intParam("vim", "dim", vals[0], 0); err != nil {
		v.vals[0] = old
		return err
	}
	if v.fitted {
		return v.computeAlpha()
	}
	return nil
}

// Alpha reports the fitted α (NaN when the residual space is empty).
func (v *vim) Alpha() float64 { return v.alpha }

func (v *vim) Score(d *Data) ([]float64, error) {
	if !v.fitted {
		return nil, errNotFitted("vim")
	}
	if err := v.head.scoreData("vim", d); err != nil {
		return nil, err
	}
	if v.pr.nsK == 0 {
		return nil, errorf("vim: dim %v leaves no residual space for feature dimension %d: %w", v.vals[0], v.pr.D, ErrNotApplicable)
	}
	if math.IsInf(v.alpha, 0) || math.IsNaN(v.alpha) {
		return nil, errorf("vim: α = %v (the ID-train residual norms are all 0): %w", v.alpha, ErrNotApplicable)
	}
	C := v.head.C
	z := affineChunked(d.Feature, d.N, v.head.w, v.head.b, C, v.head.D, nil)
	r := v.pr.residualNorms(d.Feature, d.N)
	out := make([]float64, d.N)
	for i := range out {
		out[i] = logSumExp(z[i*C:(i+1)*C]) - v.alpha*r[i]
	}
	return out, nil
}

// residual is Residual: the principal space is fitted on ID **val** features
// (OpenOOD names them feature_id_train), N = eigenvectors after the `dim`
// largest, score = −‖(f−u)ᵀN‖. dim default 512 (no sweep, no APS). With
// dim ≥ D, N is empty and every score is 0, exactly as in OpenOOD (for
// ResNet-18, D = 512, the default is degenerate).
type residual struct {
	params
	head   linearHead
	pr     principal
	fitted bool
}

func newResidual() *residual {
	return &residual{params: newParams(Param{Name: "dim", Default: 512})}
}

func (*residual) Name() string { return "residual" }
func (*residual) Needs() Needs { return Needs{Feature: true, Head: true, Val: true} }

func (r *residual) Fit(in FitInput) error {
	v := in.Val
	if err := v.check("residual", "ID val", true, false, false); err != nil {
		return err
	}
	if err := r.head.load("residual", in.Head, v.D); err != nil {
		return err
	}
	if err := r.pr.fit("residual", v.Feature, v.N, v.D, r.head); err != nil {
		return err
	}
	r.pr.setDim(int(r.vals[0]))
	r.fitted = true
	return nil
}

func (r *residual) Set(vals ...float64) error {
	old := r.vals[0]
	if err := r.setVals("residual", vals); err != nil {
		return err
	}
	if _, err := intParam("residual", "dim", vals[0], 0); err != nil {
		r.vals[0] = old
		return err
	}
	if r.fitted {
		r.pr.setDim(int(r.vals[0]))
	}
	return nil
}

func (r *residual) Score(d *Data) ([]float64, error) {
	if !r.fitted {
		return nil, errNotFitted("residual")
	}
	if err := r.head.scoreData("residual", d); err != nil {
		return nil, err
	}
	out := r.pr.residualNorms(d.Feature, d.N)
	for i := range out {
		out[i] = -out[i]
	}
	return out, nil
}
