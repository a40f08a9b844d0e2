package posthoc

import "math"

// rankFeat is RankFeat (accelerate False, temperature 1): score =
// T·logsumexp(z/T) of the fused logits z = (logits1 + logits2)/2 that `t2f
// features --extra rankfeat` computed with the network (rank-1 part removed
// from the layer-4 map, and from the layer-3 map before layer 4); the
// logsumexp in float32 like torch.logsumexp. No APS.
type rankFeat struct{ T float64 }

func (*rankFeat) Name() string          { return "rankfeat" }
func (*rankFeat) Needs() Needs          { return Needs{Extra: []string{"rankfeat"}} }
func (*rankFeat) Fit(in FitInput) error { return nil }
func (r *rankFeat) Score(d *Data) ([]float64, error) {
	if d == nil || d.C <= 0 {
		return nil, errorf("rankfeat: scored data needs its class count C (logits)")
	}
	z, err := extraColumn("rankfeat", "scored data", d, "rankfeat", d.C, false)
	if err != nil {
		return nil, err
	}
	T := float32(r.T)
	out := make([]float64, d.N)
	for i := range out {
		out[i] = float64(T * logSumExp32(z[i*d.C:(i+1)*d.C], T))
	}
	return out, nil
}

// logSumExp32 is torch.logsumexp(z/t) in float32: max + log Σ exp(z/t − max).
func logSumExp32(z []float32, t float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range z {
		m = max(m, v/t)
	}
	var s float32
	for _, v := range z {
		s += float32(math.Exp(float64(v/t - m)))
	}
	return m + float32(math.Log(float64(s)))
}
