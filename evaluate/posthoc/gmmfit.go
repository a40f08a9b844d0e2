package posthoc

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"
)

// scikit-learn 1.2's GaussianMixture defaults (sklearn/mixture/_base.py,
// _gaussian_mixture.py) and KMeans' (sklearn/cluster/_kmeans.py), which
// OpenOOD's gmm leaves unchanged.
const (
	gmmTol      = 1e-3
	gmmRegCovar = 1e-6
	gmmMaxIter  = 100
	kmeansTol   = 1e-4
	kmeansIter  = 300
	float64Eps  = 2.220446049250313e-16
)

// GMM is a fitted Gaussian mixture with one covariance shared by its
// components (scikit-learn's covariance_type='tied'): means_,
// precisions_, weights_, lower_bound_, n_iter_, converged_.
type GMM struct {
	K, D       int
	Means      []float64 // K×D
	Precision  []float64 // D×D, the inverse of the shared covariance
	Weights    []float64 // K, summing to 1
	LowerBound float64   // mean log-likelihood of the fitted data (the last E-step's)
	Iterations int
	Converged  bool
}

// FitGMM fits a k-component tied-covariance Gaussian mixture to x (n×d
// row-major) as scikit-learn 1.2's GaussianMixture(n_components=k,
// covariance_type='tied') with its defaults: responsibilities initialised
// from KMeans(k, n_init=1) labels (k-means++ seeding, then Lloyd
// iterations until the labels stop changing or the centres move less than
// 1e-4 × the mean feature variance, at most 300), then EM (reg_covar 1e-6
// on the covariance's diagonal) until the mean log-likelihood changes by
// less than 1e-3, at most 100 iterations. The k-means++ draws come from a
// PCG generator seeded by seed (scikit-learn: numpy's MT19937 from
// random_state), so the fit is reproducible but not scikit-learn's
// bit for bit; from the same initial labels the EM is scikit-learn's
// arithmetic (see gmmEM).
func FitGMM(ctx context.Context, x []float64, n, d, k int, seed uint64) (*GMM, error) {
	if n < 1 || d < 1 || k < 1 || len(x) != n*d {
		return nil, errorf("gmm: %d values for %d samples × %d dimensions, %d components", len(x), n, d, k)
	}
	if k > n {
		return nil, errorf("gmm: %d components for %d samples: want at most one component per sample", k, n)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errorf("gmm: sample %d (dimension %d) is %v", i/d, i%d, v)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6a7))
	centers := kmeansPlusPlus(x, n, d, k, rng)
	labels := lloyd(x, n, d, k, centers)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return gmmEM(ctx, x, n, d, k, labels)
}

// sqDist is ‖a − b‖².
func sqDist(a, b []float64) float64 {
	var s float64
	for j, v := range a {
		t := v - b[j]
		s += t * t
	}
	return s
}

// kmeansPlusPlus is scikit-learn's greedy k-means++ (_kmeans_plusplus):
// the first centre is a uniformly drawn sample; each next one is the best,
// by total squared distance to the closest centre, of 2 + ⌊ln k⌋ candidates
// drawn with probability proportional to that distance. It returns the
// chosen sample indices.
func kmeansPlusPlus(x []float64, n, d, k int, rng *rand.Rand) []int {
	trials := 2 + int(math.Log(float64(k)))
	idx := make([]int, 0, k)
	first := rng.IntN(n)
	idx = append(idx, first)
	closest := make([]float64, n)
	pot := 0.0
	for i := range n {
		closest[i] = sqDist(x[i*d:(i+1)*d], x[first*d:(first+1)*d])
		pot += closest[i]
	}
	cum := make([]float64, n)
	cand := make([][]float64, trials)
	for t := range cand {
		cand[t] = make([]float64, n)
	}
	for len(idx) < k {
		s := 0.0
		for i, v := range closest {
			s += v
			cum[i] = s
		}
		ids := make([]int, trials)
		for t := range ids {
			r := rng.Float64() * pot
			j := searchLeft(cum, r)
			ids[t] = min(j, n-1)
		}
		best, bestPot := 0, math.Inf(1)
		for t, c := range ids {
			p := 0.0
			for i := range n {
				v := min(closest[i], sqDist(x[i*d:(i+1)*d], x[c*d:(c+1)*d]))
				cand[t][i] = v
				p += v
			}
			if p < bestPot {
				best, bestPot = t, p
			}
		}
		copy(closest, cand[best])
		pot = bestPot
		idx = append(idx, ids[best])
	}
	return idx
}

// searchLeft is numpy's searchsorted(a, v, side='left'): the first i with
// a[i] ≥ v (len(a) when none).
func searchLeft(a []float64, v float64) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := (lo + hi) / 2
		if a[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lloyd runs scikit-learn's Lloyd iterations (_kmeans_single_lloyd) from
// the samples init as centres and returns the final labels: assign each
// sample to its closest centre (the first on ties), move each centre to
// its samples' mean (an empty cluster takes the sample farthest from its
// centre, _relocate_empty_clusters_dense), stop when the labels repeat
// (strict convergence) or the centres' total squared shift is at most
// 1e-4 × the mean per-feature variance; then, unless strictly converged,
// relabel with the final centres.
func lloyd(x []float64, n, d, k int, init []int) []int32 {
	tol := kmeansTolerance(x, n, d)
	centers := make([]float64, k*d)
	for c, i := range init {
		copy(centers[c*d:(c+1)*d], x[i*d:(i+1)*d])
	}
	next := make([]float64, k*d)
	labels := make([]int32, n)
	old := make([]int32, n)
	for i := range old {
		old[i] = -1
	}
	assign := func() {
		for i := range n {
			xi := x[i*d : (i+1)*d]
			best, bd := 0, math.Inf(1)
			for c := range k {
				if v := sqDist(xi, centers[c*d:(c+1)*d]); v < bd {
					best, bd = c, v
				}
			}
			labels[i] = int32(best)
		}
	}
	weight := make([]float64, k)
	strict := false
	for range kmeansIter {
		assign()
		clear(next)
		clear(weight)
		for i := range n {
			c := int(labels[i])
			weight[c]++
			for j, v := range x[i*d : (i+1)*d] {
				next[c*d+j] += v
			}
		}
		relocateEmpty(x, n, d, k, centers, next, weight, labels)
		shift := 0.0
		for c := range k {
			if weight[c] > 0 {
				for j := range d {
					next[c*d+j] /= weight[c]
				}
			}
			shift += sqDist(next[c*d:(c+1)*d], centers[c*d:(c+1)*d])
		}
		centers, next = next, centers
		if slicesEqual(labels, old) {
			strict = true
			break
		}
		if shift <= tol {
			break
		}
		copy(old, labels)
	}
	if !strict {
		assign()
	}
	return labels
}

func slicesEqual(a, b []int32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// kmeansTolerance is scikit-learn's _tolerance: mean_j var(x[:, j]) × 1e-4.
func kmeansTolerance(x []float64, n, d int) float64 {
	s := 0.0
	for j := range d {
		m := 0.0
		for i := range n {
			m += x[i*d+j]
		}
		m /= float64(n)
		v := 0.0
		for i := range n {
			t := x[i*d+j] - m
			v += t * t
		}
		s += v / float64(n)
	}
	return s / float64(d) * kmeansTol
}

// relocateEmpty gives each empty cluster (weight 0) the sample farthest
// from its current centre, farthest first, moving its sum out of its old
// cluster (sums and weights are before the division by the weight).
func relocateEmpty(x []float64, n, d, k int, centers, sums, weight []float64, labels []int32) {
	var empty []int
	for c := range k {
		if weight[c] == 0 {
			empty = append(empty, c)
		}
	}
	if len(empty) == 0 {
		return
	}
	dist := make([]float64, n)
	order := make([]int, n)
	for i := range n {
		c := int(labels[i])
		dist[i] = sqDist(x[i*d:(i+1)*d], centers[c*d:(c+1)*d])
		order[i] = i
	}
	sortByDesc(order, dist)
	for e, c := range empty {
		i := order[e]
		old := int(labels[i])
		for j, v := range x[i*d : (i+1)*d] {
			sums[old*d+j] -= v
			sums[c*d+j] = v
		}
		weight[c] = 1
		weight[old]--
	}
}

// sortByDesc sorts idx by decreasing key[idx] (lower index first on ties).
func sortByDesc(idx []int, key []float64) {
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key[b], key[a]) })
}

// gmmEM is scikit-learn's GaussianMixture(covariance_type='tied').fit from
// initial labels: responsibilities one-hot on the labels, _initialize
// (weights nk/n), then for up to 100 iterations the E-step (log
// responsibilities and the mean log-likelihood by logsumexp) and M-step
// (nk = Σ resp + 10·eps; means = respᵀx/nk; covariance = (xᵀx −
// Σ_k nk·μ_kμ_kᵀ)/Σnk + 1e-6·I; weights nk/Σnk; the precision's Cholesky
// factor by scipy's cholesky and solve_triangular), stopping when the
// lower bound changes by less than 1e-3.
func gmmEM(ctx context.Context, x []float64, n, d, k int, labels []int32) (*GMM, error) {
	resp := make([]float64, n*k)
	for i, c := range labels {
		resp[i*k+int(c)] = 1
	}
	g := &GMM{K: k, D: d}
	weights, means, cov := gmmMStep(x, resp, n, d, k)
	for c := range weights {
		weights[c] /= float64(n)
	}
	pc, err := precisionCholesky(cov, d)
	if err != nil {
		return nil, err
	}
	lower := math.Inf(-1)
	for it := 1; it <= gmmMaxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		prev := lower
		var lpn float64
		lpn = gmmEStep(x, n, d, k, means, pc, weights, resp)
		weights, means, cov = gmmMStep(x, resp, n, d, k)
		s := 0.0
		for _, w := range weights {
			s += w
		}
		for c := range weights {
			weights[c] /= s
		}
		if pc, err = precisionCholesky(cov, d); err != nil {
			return nil, err
		}
		lower = lpn
		g.Iterations = it
		if math.Abs(lower-prev) < gmmTol {
			g.Converged = true
			break
		}
	}
	g.Means, g.Weights, g.LowerBound = means, weights, lower
	// precisions_ = prec_chol · prec_cholᵀ
	g.Precision = make([]float64, d*d)
	impl.Dgemm(blas.NoTrans, blas.Trans, d, d, d, 1, pc, d, pc, d, 0, g.Precision, d)
	return g, nil
}

// gmmMStep returns nk (unnormalised weights), the means and the tied
// covariance (scikit-learn's _estimate_gaussian_parameters, 'tied') of
// responsibilities resp (n×k), which it reads as probabilities.
func gmmMStep(x, resp []float64, n, d, k int) (nk, means, cov []float64) {
	nk = make([]float64, k)
	for i := range n {
		for c := range k {
			nk[c] += resp[i*k+c]
		}
	}
	for c := range nk {
		nk[c] += 10 * float64Eps
	}
	means = make([]float64, k*d)
	impl.Dgemm(blas.Trans, blas.NoTrans, k, d, n, 1, resp, k, x, d, 0, means, d)
	for c := range k {
		for j := range d {
			means[c*d+j] /= nk[c]
		}
	}
	cov = make([]float64, d*d)
	impl.Dgemm(blas.Trans, blas.NoTrans, d, d, n, 1, x, d, x, d, 0, cov, d)
	sn := 0.0
	wm := make([]float64, k*d) // nk·means (row c scaled)
	for c := range k {
		sn += nk[c]
		for j := range d {
			wm[c*d+j] = nk[c] * means[c*d+j]
		}
	}
	impl.Dgemm(blas.Trans, blas.NoTrans, d, d, k, -1, wm, d, means, d, 1, cov, d)
	for i := range cov {
		cov[i] /= sn
	}
	for j := range d {
		cov[j*d+j] += gmmRegCovar
	}
	return nk, means, cov
}

// precisionCholesky is scikit-learn's _compute_precision_cholesky for a
// tied covariance: L = cholesky(cov, lower), prec_chol = (L⁻¹)ᵀ (upper
// triangular, d×d row-major).
func precisionCholesky(cov []float64, d int) ([]float64, error) {
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(d, symData(cov, d))) {
		return nil, errorf("gmm: the fitted covariance is not positive definite (a component collapsed); scikit-learn suggests more data or a larger reg_covar")
	}
	var u mat.TriDense
	ch.UTo(&u) // cov = UᵀU, L = Uᵀ
	var inv mat.TriDense
	if err := inv.InverseTri(&u); err != nil { // U⁻¹ = (L⁻¹)ᵀ
		return nil, errorf("gmm: precision: %w", err)
	}
	out := make([]float64, d*d)
	for i := range d {
		for j := i; j < d; j++ {
			out[i*d+j] = inv.At(i, j)
		}
	}
	return out, nil
}

// gmmEStep writes the log responsibilities' exponentials into resp and
// returns the mean log-likelihood (scikit-learn's _estimate_log_prob_resp
// with _estimate_log_gaussian_prob for 'tied': y = x·P − μ_k·P with P the
// precision's Cholesky factor, −½(d·ln 2π + Σ y²) + Σ ln P_jj + ln w_k,
// normalised by logsumexp).
func gmmEStep(x []float64, n, d, k int, means, pc, weights, resp []float64) float64 {
	logDet := 0.0
	for j := range d {
		logDet += math.Log(pc[j*d+j])
	}
	xp := make([]float64, n*d)
	impl.Dgemm(blas.NoTrans, blas.NoTrans, n, d, d, 1, x, d, pc, d, 0, xp, d)
	mp := make([]float64, k*d)
	impl.Dgemm(blas.NoTrans, blas.NoTrans, k, d, d, 1, means, d, pc, d, 0, mp, d)
	logW := make([]float64, k)
	for c, w := range weights {
		logW[c] = math.Log(w)
	}
	c0 := float64(d) * math.Log(2*math.Pi)
	total := 0.0
	row := make([]float64, k)
	for i := range n {
		xi := xp[i*d : (i+1)*d]
		mx := math.Inf(-1)
		for c := range k {
			row[c] = -0.5*(c0+sqDist(xi, mp[c*d:(c+1)*d])) + logDet + logW[c]
			mx = max(mx, row[c])
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		lse := math.Log(s) + mx
		if math.IsInf(mx, -1) {
			lse = mx
		}
		total += lse
		for c, v := range row {
			resp[i*k+c] = math.Exp(v - lse)
		}
	}
	return total / float64(n)
}

// FitGMMLayer is OpenOOD's get_GMM_stat for one layer with reduce
// "pca_<dim>": PCA(dim) fitted on rows (FitPCA, seeded by seed), the rows
// projected on the components without centring (OpenOOD's transform
// matrix pca.components_.T), and a tied GMM of components components fitted
// to the projection (FitGMM, seeded by seed+1).
func FitGMMLayer(ctx context.Context, rows Rows, dim, components int, seed uint64) (*PCA, *GMM, error) {
	p, err := FitPCA(ctx, rows, dim, seed)
	if err != nil {
		return nil, nil, err
	}
	proj, err := p.Project(ctx, rows)
	if err != nil {
		return nil, nil, err
	}
	n, _ := rows.Dims()
	g, err := FitGMM(ctx, proj, n, dim, components, seed+1)
	if err != nil {
		return nil, nil, err
	}
	return p, g, nil
}
