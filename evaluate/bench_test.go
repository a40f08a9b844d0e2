package evaluate

import (
	"context"
	"testing"

	"github.com/t2f/t2f/features"
)

// BenchmarkEvaluateCIFARShape scores a CIFAR-10-sized evaluation (10,000 ID
// test rows, six OOD sets of 10,000, D = 512, C = 10) with the four
// logit-only methods: the orchestration, views and metrics around the
// methods.
func BenchmarkEvaluateCIFARShape(b *testing.B) {
	g := newGen(40, "t2fnorm")
	g.D, g.C = 512, 10
	g.classes = make([]string, 10)
	for i := range g.classes {
		g.classes[i] = string(rune('a' + i))
	}
	g2 := newGen(40, "t2fnorm") // fresh head of the right shape
	g.W, g.B = make([]float32, g.C*g.D), make([]float32, g.C)
	for c := range g.C {
		for j := range g.D {
			g.W[c*g.D+j] = float32(g2.rng.NormFloat64() * 0.05)
		}
	}
	run := Run{Name: "bench", Head: g.head(), HeadPath: "mem/" + features.HeadFileName}
	add := func(t *features.Table) { run.Splits = append(run.Splits, Split{Path: t.Meta.Dataset, Table: t}) }
	add(g.table("cifar10", "test", 10000, false, 1))
	near := []string{"cifar100", "tin"}
	far := []string{"mnist", "svhn", "texture", "places365"}
	for _, n := range append(append([]string{}, near...), far...) {
		add(g.table(n, "test", 10000, true, 1))
	}
	cfg := Config{ID: "cifar10", Near: near, Far: far, Methods: []string{"msp", "t2fnorm", "mls", "ebo"}}
	b.ReportAllocs()
	for b.Loop() {
		res, err := Evaluate(context.Background(), cfg, []Run{run})
		if err != nil {
			b.Fatal(err)
		}
		if err := res.Failed(); err != nil {
			b.Fatal(err)
		}
	}
}
