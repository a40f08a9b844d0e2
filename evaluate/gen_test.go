package evaluate

import (
	"math"
	"math/rand/v2"

	"github.com/t2f/t2f/features"
)

// gen builds synthetic feature tables of one model: ID rows cluster around
// their class direction, OOD rows are weaker and unstructured, so scores
// separate them imperfectly.
type gen struct {
	rng     *rand.Rand
	D, C    int
	W, B    []float32
	tau     float64
	kind    string // "t2fnorm" or "linear"
	sha     string
	classes []string
}

func newGen(seed uint64, kind string) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, 99)), D: 12, C: 4, tau: 0.1, kind: kind, sha: "sha-" + string(rune('a'+seed%26)) + "0123456789abcdef"}
	if kind == "linear" {
		g.tau = 1
	}
	g.classes = []string{"c0", "c1", "c2", "c3"}
	g.W = make([]float32, g.C*g.D)
	g.B = make([]float32, g.C)
	for c := range g.C {
		for j := range g.D {
			w := 0.1 * g.rng.NormFloat64()
			if j%g.C == c {
				w += 1
			}
			g.W[c*g.D+j] = float32(w)
		}
		g.B[c] = float32(0.1 * g.rng.NormFloat64())
	}
	return g
}

func (g *gen) head() *features.Head {
	h := g.featuresHead()
	return &h
}

func (g *gen) featuresHead() features.Head {
	return features.Head{Kind: g.kind, Model: "toy", Width: 1, Classes: g.classes, CheckpointSHA256: g.sha,
		Dim: g.D, NumClasses: g.C, Weight: g.W, Bias: g.B, Tau: g.tau}
}

// table makes n rows; ood rows get label −1. strength scales the class
// signal (ID) or the noise (OOD).
func (g *gen) table(dataset, split string, n int, ood bool, strength float64) *features.Table {
	D, C := g.D, g.C
	t := &features.Table{
		Meta: features.Meta{Dataset: dataset, Split: split, Model: "toy", Width: 1, Head: g.kind, Tau: g.tau,
			Classes: g.classes, CheckpointSHA256: g.sha},
		Dim: D, NumClasses: C,
	}
	for i := range n {
		label := int32(-1)
		if !ood {
			label = int32(g.rng.IntN(C))
		}
		f := make([]float32, D)
		var ss float64
		for j := range f {
			x := g.rng.NormFloat64()
			if !ood && j%C == int(label) {
				x += 2 * strength
			}
			if ood {
				x *= strength
			}
			f[j] = float32(math.Max(0, x) + 0.01)
			ss += float64(f[j]) * float64(f[j])
		}
		norm := math.Sqrt(ss)
		fn := make([]float32, D)
		for j := range f {
			fn[j] = float32(float64(f[j]) / norm)
		}
		logits := g.logits(fn, 1/g.tau)
		if g.kind == "linear" {
			logits = g.logits(f, 1)
		}
		logitsOOD := g.logits(f, 1/g.tau)
		pred := int32(0)
		for c := range logits {
			if logits[c] > logits[pred] {
				pred = int32(c)
			}
		}
		t.IDs = append(t.IDs, int64(1000+i))
		t.Labels = append(t.Labels, label)
		t.Preds = append(t.Preds, pred)
		t.Feature = append(t.Feature, f...)
		t.FeatureNormalized = append(t.FeatureNormalized, fn...)
		t.FeatureNorm = append(t.FeatureNorm, float32(norm))
		t.Logits = append(t.Logits, logits...)
		t.LogitsOOD = append(t.LogitsOOD, logitsOOD...)
	}
	return t
}

// logits is W·(x·s) + b in float64, rounded to float32.
func (g *gen) logits(x []float32, s float64) []float32 {
	out := make([]float32, g.C)
	for c := range g.C {
		z := float64(g.B[c])
		for j, v := range x {
			z += float64(g.W[c*g.D+j]) * float64(v) * s
		}
		out[c] = float32(z)
	}
	return out
}

// run builds a standard run: ID "cif" train/val/test, near "n1", "n2", far
// "f1", OOD val "tin:val" (and "tin:test"), CSID "cc".
func (g *gen) run(name string) Run {
	r := Run{Name: name, Head: g.head(), HeadPath: "mem/" + features.HeadFileName}
	add := func(t *features.Table) {
		r.Splits = append(r.Splits, Split{Path: name + "/" + features.FileName(t.Meta.Dataset, t.Meta.Split), Table: t})
	}
	add(g.table("cif", "train", 200, false, 1))
	add(g.table("cif", "val", 60, false, 1))
	add(g.table("cif", "test", 150, false, 1))
	add(g.table("n1", "test", 90, true, 1.2))
	add(g.table("n2", "test", 70, true, 0.8))
	add(g.table("f1", "test", 110, true, 0.5))
	add(g.table("tin", "val", 50, true, 1))
	add(g.table("tin", "test", 80, true, 1))
	add(g.table("cc", "test", 100, false, 0.6))
	return r
}

func (r *Run) split(dataset, split string) *features.Table {
	for _, s := range r.Splits {
		if s.Table.Meta.Dataset == dataset && s.Table.Meta.Split == split {
			return s.Table
		}
	}
	panic("no split " + dataset + ":" + split)
}

// msp is max softmax of row i of logits (N×C), in float64.
func mspRef(logits []float32, C, i int) float64 {
	row := logits[i*C : (i+1)*C]
	m := math.Inf(-1)
	for _, z := range row {
		m = math.Max(m, float64(z))
	}
	var s float64
	for _, z := range row {
		s += math.Exp(float64(z) - m)
	}
	return 1 / s
}
