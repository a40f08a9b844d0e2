package posthoc

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// randData makes a separable-ish random split: features |N(μ_label, 1)|,
// logits W·f + b.
func randData(rng *rand.Rand, n, d, c int, head Head, ood bool) *Data {
	x := &Data{N: n, D: d, C: c, Feature: make([]float32, n*d), Logits: make([]float32, n*c), Labels: make([]int32, n)}
	for i := 0; i < n; i++ {
		l := int32(rng.IntN(c))
		if ood {
			x.Labels[i] = -1
		} else {
			x.Labels[i] = l
		}
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			if !ood && j%c == int(l) {
				v += 3
			}
			if v < 0 {
				v = -v
			}
			x.Feature[i*d+j] = float32(v)
		}
		for k := 0; k < c; k++ {
			s := float64(head.B[k])
			for j := 0; j < d; j++ {
				s += float64(head.W[k*d+j]) * float64(x.Feature[i*d+j])
			}
			x.Logits[i*c+k] = float32(s)
		}
	}
	return x
}

func TestEveryMethodRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d, c = 16, 4
	head := Head{W: make([]float32, c*d), B: make([]float32, c)}
	for k := 0; k < c; k++ {
		for j := 0; j < d; j++ {
			if j%c == k {
				head.W[k*d+j] = 1
			}
			head.W[k*d+j] += float32(rng.NormFloat64() * 0.1)
		}
		head.B[k] = float32(rng.NormFloat64() * 0.1)
	}
	in := FitInput{Train: randData(rng, 1200, d, c, head, false), Val: randData(rng, 100, d, c, head, false), OODVal: randData(rng, 100, d, c, head, true), Head: head}
	test := randData(rng, 50, d, c, head, false)
	for _, name := range Names() {
		s, err := New(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Fit(in); err != nil {
			t.Fatalf("%s: Fit: %v", name, err)
		}
		sc, err := s.Score(test)
		if errors.Is(err, ErrNotApplicable) {
			t.Logf("%s: %v", name, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: Score: %v", name, err)
		}
		if len(sc) != test.N {
			t.Fatalf("%s: %d scores, want %d", name, len(sc), test.N)
		}
		if tu, ok := s.(Tunable); ok && s.Needs().APS {
			set, err := Search(s, in, in.Val, in.OODVal, testAUROC)
			if err != nil {
				t.Fatalf("%s: Search: %v", name, err)
			}
			t.Logf("%s: %v (%v)", name, set, tu.Setting())
		}
	}
}

// testAUROC is P(score_ID > score_OOD) + ½P(tie), by counting pairs.
func testAUROC(scores []float64, labels []int32) float64 {
	var num, den float64
	for i, a := range scores {
		if labels[i] < 0 {
			continue
		}
		for j, b := range scores {
			if labels[j] >= 0 {
				continue
			}
			den++
			switch {
			case a > b:
				num++
			case a == b:
				num += 0.5
			}
		}
	}
	return num / den
}
