package posthoc

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/t2f/t2f/kernels"
)

// relationThreshold is OpenOOD's cut-off for small relation-graph edges
// (get_relation's thres).
const relationThreshold = 0.03

// relation is the Neural Relation Graph score (OpenOOD
// RelationPostprocessor): features are normalised as f/√(Σf² + 1e-10) and
// p = softmax(z) (float32); the edge to ID-train sample t is r_t =
// max(⟨f̂, f̂_t⟩, 0)·⟨p, p_t⟩, and score = Σ_{t: r_t > 0.03} r_t^pow over all
// of ID train. The inner products are float32 GEMMs like torch's. pow
// default 1, sweep [1 2 4 6 8]; APS on.
type relation struct {
	params
	threads int
	C, D    int
	n       int
	feat    []float32 // n×D normalised ID-train features
	prob    []float32 // n×C ID-train softmaxes
}

func newRelation(o Options) *relation {
	return &relation{params: newParams(Param{Name: "pow", Default: 1, Sweep: []float64{1, 2, 4, 6, 8}}), threads: o.threads()}
}

func (*relation) Name() string { return "relation" }
func (*relation) Needs() Needs {
	return Needs{Feature: true, Logits: true, Train: true, APS: true}
}

// relationInputs returns the normalised features and float32 softmaxes of d.
func relationInputs(d *Data) (feat, prob []float32) {
	feat = make([]float32, d.N*d.D)
	prob = make([]float32, d.N*d.C)
	for i := 0; i < d.N; i++ {
		f := d.Feature[i*d.D : (i+1)*d.D]
		var s float32
		for _, v := range f {
			s += v * v
		}
		nrm := float32(math.Sqrt(float64(s + 1e-10)))
		o := feat[i*d.D : (i+1)*d.D]
		for j, v := range f {
			o[j] = v / nrm
		}
		softmax32(prob[i*d.C:(i+1)*d.C], d.Logits[i*d.C:(i+1)*d.C], 1)
	}
	return feat, prob
}

func (r *relation) Fit(in FitInput) error {
	if err := in.Train.check("relation", "ID train", true, true, false); err != nil {
		return err
	}
	r.n, r.D, r.C = in.Train.N, in.Train.D, in.Train.C
	r.feat, r.prob = relationInputs(in.Train)
	return nil
}

func (r *relation) Set(v ...float64) error {
	old := r.vals[0]
	if err := r.setVals("relation", v); err != nil {
		return err
	}
	if _, err := intParam("relation", "pow", v[0], 1); err != nil {
		r.vals[0] = old
		return err
	}
	return nil
}

// relationBlock is the number of queries (and bank rows) per GEMM tile.
const relationBlock = 256

func (r *relation) Score(d *Data) ([]float64, error) {
	if r.feat == nil {
		return nil, errNotFitted("relation")
	}
	if err := d.check("relation", "scored data", true, true, false); err != nil {
		return nil, err
	}
	if err := d.sameShape("relation", "scored data", r.D, r.C); err != nil {
		return nil, err
	}
	feat, prob := relationInputs(d)
	pow := int(r.vals[0])
	out := make([]float64, d.N)
	nBlocks := (d.N + relationBlock - 1) / relationBlock
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(r.threads, nBlocks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemm := kernels.NewGemm(1)
			dot := make([]float32, relationBlock*relationBlock)
			sim := make([]float32, relationBlock*relationBlock)
			for {
				blk := int(next.Add(1) - 1)
				if blk >= nBlocks {
					return
				}
				q0 := blk * relationBlock
				m := min(relationBlock, d.N-q0)
				for t0 := 0; t0 < r.n; t0 += relationBlock {
					nb := min(relationBlock, r.n-t0)
					gemm.Sgemm(false, true, m, nb, r.D, 1, feat[q0*r.D:(q0+m)*r.D], r.D, r.feat[t0*r.D:(t0+nb)*r.D], r.D, 0, dot[:m*nb], nb)
					gemm.Sgemm(false, true, m, nb, r.C, 1, prob[q0*r.C:(q0+m)*r.C], r.C, r.prob[t0*r.C:(t0+nb)*r.C], r.C, 0, sim[:m*nb], nb)
					for i := 0; i < m; i++ {
						var s float64
						for j, x := range dot[i*nb : (i+1)*nb] {
							rel := max(x, 0) * sim[i*nb+j]
							if rel > relationThreshold {
								s += intPow(float64(rel), pow)
							}
						}
						out[q0+i] += s
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// intPow is x^k for a small whole k ≥ 1.
func intPow(x float64, k int) float64 {
	p := x
	for ; k > 1; k-- {
		p *= x
	}
	return p
}
