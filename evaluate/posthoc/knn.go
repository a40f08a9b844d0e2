package posthoc

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/t2f/t2f/kernels"
)

// Block sizes of the nearest-neighbour search: a worker computes a
// knnQueryBlock × knnBankBlock tile of α·⟨q, x⟩ with one GEMM, then adds
// term[j] and feeds each row into its query's bounded heap. Larger query
// blocks stream the bank from memory fewer times; larger bank blocks re-pack
// the queries fewer times.
const (
	knnQueryBlock = 512
	knnBankBlock  = 2048
)

// bank is a row-major float32 matrix searched by smallestK.
type bank struct {
	n, d int
	x    []float32 // n×d
	term []float32 // n: added to alpha·⟨q, x_j⟩
}

// smallestK returns, for each of the nq queries q (nq×d row-major), the k
// smallest values of term[j] + alpha·⟨q, x_j⟩ over the bank, ascending
// (nq×k row-major). The inner products are blocked float32 GEMMs
// (kernels.Gemm); each of threads workers owns whole query blocks.
func (b *bank) smallestK(q []float32, nq, k int, alpha float32, threads int) []float32 {
	out := make([]float32, nq*k)
	// Query blocks of knnQueryBlock, smaller when there are too few queries
	// to give every worker one (the APS val sets).
	qb := min(knnQueryBlock, max(64, (nq+threads-1)/threads))
	nBlocks := (nq + qb - 1) / qb
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(threads, nBlocks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemm := kernels.NewGemm(1)
			tile := make([]float32, qb*knnBankBlock)
			heaps := make([]float32, qb*k)
			for {
				blk := int(next.Add(1) - 1)
				if blk >= nBlocks {
					return
				}
				q0 := blk * qb
				m := min(qb, nq-q0)
				b.searchBlock(gemm, q[q0*b.d:(q0+m)*b.d], m, k, alpha, tile, heaps[:m*k], out[q0*k:(q0+m)*k])
			}
		}()
	}
	wg.Wait()
	return out
}

func (b *bank) searchBlock(gemm *kernels.Gemm, q []float32, m, k int, alpha float32, tile, heaps, out []float32) {
	inf := float32(math.Inf(1))
	for i := range heaps {
		heaps[i] = inf
	}
	for j0 := 0; j0 < b.n; j0 += knnBankBlock {
		nb := min(knnBankBlock, b.n-j0)
		t := tile[:m*nb]
		gemm.Sgemm(false, true, m, nb, b.d, alpha, q, b.d, b.x[j0*b.d:(j0+nb)*b.d], b.d, 0, t, nb)
		term := b.term[j0 : j0+nb]
		for i := 0; i < m; i++ {
			h := heaps[i*k : (i+1)*k]
			top := h[0]
			row := t[i*nb : (i+1)*nb]
			row = row[:len(term)]
			for j, v := range row {
				if v += term[j]; v < top {
					heapReplaceTop(h, v)
					top = h[0]
				}
			}
		}
	}
	for i := 0; i < m; i++ {
		o := out[i*k : (i+1)*k]
		copy(o, heaps[i*k:(i+1)*k])
		slices.Sort(o)
	}
}

// heapReplaceTop replaces the maximum of the max-heap h with v and restores
// the heap property.
func heapReplaceTop(h []float32, v float32) {
	n := len(h)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r] > h[l] {
			c = r
		}
		if h[c] <= v {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = v
}

// normalizeRows is OpenOOD's normalizer x/‖x‖₂ + 1e-10 (the epsilon added
// after the division, element-wise), in float32. It also returns ‖x̂‖² per
// row. A zero row is an error (numpy would produce NaN).
func normalizeRows(method, what string, x []float32, n, d int) ([]float32, []float32, error) {
	out := make([]float32, n*d)
	sq := make([]float32, n)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			return nil, nil, errorf("%s: %s sample %d has an all-zero feature vector (cannot be normalised)", method, what, i)
		}
		nrm := float32(math.Sqrt(s))
		var s2 float64
		o := out[i*d : (i+1)*d]
		for j, v := range row {
			o[j] = v/nrm + 1e-10
			s2 += float64(o[j]) * float64(o[j])
		}
		sq[i] = float32(s2)
	}
	return out, sq, nil
}

// knn is KNN: bank = normalised ID-train features; score = −(squared L2
// distance from the normalised query to its K-th nearest bank vector),
// computed as faiss IndexFlatL2 does (‖q‖² + ‖x‖² − 2⟨q, x⟩ in float32,
// clamped at 0). K default 50, sweep [50 100 200 500 1000], APS on.
type knn struct {
	params
	threads int
	bank    bank
}

func newKNN(o Options) *knn {
	return &knn{
		params:  newParams(Param{Name: "K", Default: 50, Sweep: []float64{50, 100, 200, 500, 1000}}),
		threads: o.threads(),
	}
}

func (*knn) Name() string { return "knn" }
func (*knn) Needs() Needs { return Needs{Feature: true, Train: true, APS: true} }

func (kn *knn) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("knn", "ID train", true, false, false); err != nil {
		return err
	}
	x, sq, err := normalizeRows("knn", "ID train", t.Feature, t.N, t.D)
	if err != nil {
		return err
	}
	kn.bank = bank{n: t.N, d: t.D, x: x, term: sq}
	return nil
}

func (kn *knn) Set(v ...float64) error {
	old := kn.vals[0]
	if err := kn.setVals("knn", v); err != nil {
		return err
	}
	if _, err := intParam("knn", "K", v[0], 1); err != nil {
		kn.vals[0] = old
		return err
	}
	return nil
}

func (kn *knn) Score(d *Data) ([]float64, error) {
	if kn.bank.x == nil {
		return nil, errNotFitted("knn")
	}
	out, errs, err := kn.scoreSweep(d, kn.vals[:1])
	if err != nil {
		return nil, err
	}
	return out[0], errs[0]
}

// scoreSweep scores d for each K in ks with one search for the largest
// applicable K (the K-th smallest distance is read off the sorted list).
// errs[i] is ErrNotApplicable when ks[i] exceeds the bank.
func (kn *knn) scoreSweep(d *Data, ks []float64) ([][]float64, []error, error) {
	if kn.bank.x == nil {
		return nil, nil, errNotFitted("knn")
	}
	if err := d.check("knn", "scored data", true, false, false); err != nil {
		return nil, nil, err
	}
	if err := d.sameShape("knn", "scored data", kn.bank.d, 0); err != nil {
		return nil, nil, err
	}
	kmax := 0
	errs := make([]error, len(ks))
	for i, k := range ks {
		if int(k) > kn.bank.n {
			errs[i] = errorf("knn: K = %d exceeds the %d ID-train features: %w", int(k), kn.bank.n, ErrNotApplicable)
			continue
		}
		kmax = max(kmax, int(k))
	}
	out := make([][]float64, len(ks))
	if kmax == 0 {
		return out, errs, nil
	}
	q, qsq, err := normalizeRows("knn", "scored data", d.Feature, d.N, d.D)
	if err != nil {
		return nil, nil, err
	}
	vals := kn.bank.smallestK(q, d.N, kmax, -2, kn.threads)
	for j, k := range ks {
		if errs[j] != nil {
			continue
		}
		K := int(k)
		o := make([]float64, d.N)
		for i := range o {
			dist := qsq[i] + vals[i*kmax+K-1]
			o[i] = -float64(max(dist, 0))
		}
		out[j] = o
	}
	return out, errs, nil
}

// nnguide is NNGuide: the bank is the first batches of ID train (batches of
// Options.BatchSize, stopping after the first batch count b with
// b·batch > int(N·α)), each normalised feature scaled by the energy
// logsumexp(z) of its logits; score = mean of the K largest inner products
// ⟨f̂, bank⟩ × logsumexp(z) of the query. α default 0.01, K default 100;
// sweep K [100] × alpha [0.01], APS off.
type nnguide struct {
	params
	threads, batch int
	train          *Data
	bank           bank
}

func newNNGuide(o Options) *nnguide {
	return &nnguide{
		params: newParams(
			Param{Name: "K", Default: 100, Sweep: []float64{100}},
			Param{Name: "alpha", Default: 0.01, Sweep: []float64{0.01}},
		),
		threads: o.threads(),
		batch:   o.batchSize(),
	}
}

func (*nnguide) Name() string { return "nnguide" }
func (*nnguide) Needs() Needs { return Needs{Feature: true, Logits: true, Train: true} }

// nnguideBankSize is how many training samples OpenOOD's setup loop reads.
func nnguideBankSize(n, batch int, alpha float64) int {
	limit := int(float64(n) * alpha)
	return min(n, batch*(limit/batch+1))
}

func (g *nnguide) Fit(in FitInput) error {
	t := in.Train
	if err := t.check("nnguide", "ID train", true, true, false); err != nil {
		return err
	}
	g.train = t
	return g.build()
}

func (g *nnguide) build() error {
	t := g.train
	nb := nnguideBankSize(t.N, g.batch, g.vals[1])
	x, _, err := normalizeRows("nnguide", "ID train", t.Feature[:nb*t.D], nb, t.D)
	if err != nil {
		return err
	}
	z := make([]float64, t.C)
	for i := 0; i < nb; i++ {
		e := float32(logSumExp(row64(z, t.Logits[i*t.C:(i+1)*t.C])))
		for j := range x[i*t.D : (i+1)*t.D] {
			x[i*t.D+j] *= e
		}
	}
	g.bank = bank{n: nb, d: t.D, x: x, term: make([]float32, nb)}
	return nil
}

func (g *nnguide) Set(v ...float64) error {
	old := slices.Clone(g.vals)
	if err := g.setVals("nnguide", v); err != nil {
		return err
	}
	if _, err := intParam("nnguide", "K", v[0], 1); err != nil {
		copy(g.vals, old)
		return err
	}
	if v[1] < 0 || v[1] > 1 {
		copy(g.vals, old)
		return errorf("nnguide: alpha = %v, want a fraction in [0, 1]", v[1])
	}
	if g.train != nil && v[1] != old[1] {
		return g.build()
	}
	return nil
}

func (g *nnguide) Score(d *Data) ([]float64, error) {
	if g.train == nil {
		return nil, errNotFitted("nnguide")
	}
	if err := d.check("nnguide", "scored data", true, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("nnguide", "scored data", g.bank.d, g.train.C); err != nil {
		return nil, err
	}
	K := int(g.vals[0])
	if K > g.bank.n {
		return nil, errorf("nnguide: K = %d exceeds the %d-sample bank: %w", K, g.bank.n, ErrNotApplicable)
	}
	q, _, err := normalizeRows("nnguide", "scored data", d.Feature, d.N, d.D)
	if err != nil {
		return nil, err
	}
	vals := g.bank.smallestK(q, d.N, K, -1, g.threads) // smallest −⟨q, x⟩
	out := make([]float64, d.N)
	z := make([]float64, d.C)
	for i := range out {
		var s float64
		for _, v := range vals[i*K : (i+1)*K] {
			s -= float64(v)
		}
		out[i] = s / float64(K) * logSumExp(row64(z, d.Logits[i*d.C:(i+1)*d.C]))
	}
	return out, nil
}
