package metrics

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkEvaluate2M is the speed target: all metrics for 2,000,000
// scores (1M ID ~ N(1,1), 1M OOD ~ N(0,1)) in ≤ 0.3 s. The scikit-learn
// reference on the same distribution is
// `/usr/bin/python3 scripts/gen_metric_fixtures.py --bench`.
func BenchmarkEvaluate2M(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1_000_000
	id := make([]float64, n)
	ood := make([]float64, n)
	for i := range id {
		id[i] = rng.NormFloat64() + 1
		ood[i] = rng.NormFloat64()
	}
	b.ReportAllocs()
	b.SetBytes(2 * n * 8)
	for b.Loop() {
		if _, err := Evaluate(id, ood); err != nil {
			b.Fatal(err)
		}
	}
}
