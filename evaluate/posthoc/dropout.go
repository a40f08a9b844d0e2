package posthoc

import (
	"math/rand/v2"
	"slices"
)

// dropout is OpenOOD's DropoutPostProcessor on DropoutNet: dropout_times
// passes of the head over the penultimate feature with dropout p
// (F.dropout2d on an N×D feature: each element kept with probability 1−p
// and scaled by 1/(1−p)), the logits averaged, score = max softmax. The
// backbone is deterministic in eval mode, so the feature column suffices:
// no --extra. Masks come from a PCG generator seeded with Seed (default 0)
// and the sample index, so scores do not depend on batching; they are not
// torch's masks (docs/posthoc.md: the agreement is statistical). No APS.
type dropout struct {
	head  linearHead
	P     float64
	Times int
	Seed  uint64
}

func newDropout() *dropout { return &dropout{P: 0.5, Times: 5} }

func (*dropout) Name() string            { return "dropout" }
func (*dropout) Needs() Needs            { return Needs{Feature: true, Head: true} }
func (o *dropout) Fit(in FitInput) error { return o.head.loadAlone("dropout", in.Head) }
func (o *dropout) Score(d *Data) ([]float64, error) {
	if err := o.head.scoreData("dropout", d); err != nil {
		return nil, err
	}
	D, C := o.head.D, o.head.C
	keep := 1 / (1 - o.P)
	out := make([]float64, d.N)
	mean := make([]float64, C)
	p32, z32 := make([]float32, C), make([]float32, C)
	g := make([]float64, D)
	for i := range out {
		r := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		f := d.Feature[i*D : (i+1)*D]
		clear(mean)
		for range o.Times {
			for j, v := range f {
				g[j] = 0
				if r.Float64() >= o.P {
					g[j] = float64(v) * keep
				}
			}
			for c := range C {
				s := o.head.b[c]
				for j, w := range o.head.w[c*D : (c+1)*D] {
					s += w * g[j]
				}
				mean[c] += s
			}
		}
		for c := range C {
			z32[c] = float32(mean[c] / float64(o.Times))
		}
		softmax32(p32, z32, 1)
		out[i] = float64(slices.Max(p32))
	}
	return out, nil
}
