package evaluate

import (
	"context"
	"math"
	"strings"
	"testing"
)

// The ensemble method scores all runs as one: the softmax of their mean
// OOD-inference logits, the same in every run's column.
func TestEnsembleAcrossRuns(t *testing.T) {
	runs := []Run{newGen(21, "t2fnorm").run("a"), newGen(22, "t2fnorm").run("b")}
	res, err := Evaluate(context.Background(), baseConfig("ensemble"), runs)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Failed(); err != nil {
		t.Fatal(err)
	}
	m := res.Methods[0]
	ta, tb := runs[0].split("f1", "test"), runs[1].split("f1", "test")
	C := ta.NumClasses
	mean := make([]float32, len(ta.LogitsOOD))
	for i := range mean {
		mean[i] = (ta.LogitsOOD[i] + tb.LogitsOOD[i]) / 2
	}
	for r := range runs {
		got := scoresOf(t, m, r, "f1")
		for i, v := range got {
			if want := mspRef(mean, C, i); math.Abs(v-want) > 1e-6 {
				t.Fatalf("run %d sample %d: ensemble %v, want %v", r, i, v, want)
			}
		}
	}
	one, err := Evaluate(context.Background(), baseConfig("ensemble"), runs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(one.Notes, "\n"), "ensemble: one --features run") {
		t.Errorf("one run: no note, notes %q", one.Notes)
	}
}
