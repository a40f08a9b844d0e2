package evaluate

import (
	"context"
	"math"
	"strings"
	"testing"
)

// Bad input fails with an error that names the file (and row); nothing is
// dropped silently.
func TestInputErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(r *Run)
		cfg    func(c *Config)
		want   []string
	}{
		{"mixed checkpoints", func(r *Run) { r.split("n2", "test").Meta.CheckpointSHA256 = "other-sha-000000" },
			nil, []string{"mixes checkpoints", "r/n2_test.parquet", "other-sha-00"}},
		{"head from another checkpoint", func(r *Run) { r.Head.CheckpointSHA256 = "zzz" },
			nil, []string{"mixes checkpoints", "head mem/head.safetensors"}},
		{"NaN feature", func(r *Run) { r.split("f1", "test").Feature[3*12+5] = float32(math.NaN()) },
			nil, []string{"r/f1_test.parquet", "column feature row 3", "not finite"}},
		{"mismatched dimension", func(r *Run) {
			tb := r.split("n1", "test")
			tb.Dim = 6
			tb.Feature = tb.Feature[:6*tb.Len()]
			tb.FeatureNormalized = tb.FeatureNormalized[:6*tb.Len()]
		}, nil, []string{"r/n1_test.parquet has feature dimension 6", "r/cif_test.parquet has 12"}},
		{"OOD set with class labels", func(r *Run) { r.split("f1", "test").Labels[7] = 2 },
			nil, []string{"r/f1_test.parquet", "used as an OOD set", "row 7", "label 2"}},
		{"ID set with OOD labels", func(r *Run) { r.split("cif", "test").Labels[4] = -1 },
			nil, []string{"r/cif_test.parquet", "used as an ID set", "row 4", "label -1"}},
		{"CSID label out of range", func(r *Run) { r.split("cc", "test").Labels[0] = 9 },
			func(c *Config) { c.CSID = []string{"cc"} }, []string{"r/cc_test.parquet", "label 9", "[0, 4)"}},
		{"no ID test", func(r *Run) { r.split("cif", "test").Meta.Split = "testing" },
			nil, []string{`dataset "cif" has no split "test"`}},
		{"head does not match logits_ood", func(r *Run) { r.Head.Bias[1] += 5 },
			nil, []string{"r/cif_test.parquet", "logits_ood", "do not belong together"}},
		{"same dataset twice", nil, func(c *Config) { c.Far = append(c.Far, "n1") }, []string{`"n1" given as near-OOD and as far-OOD`}},
		{"unknown method", nil, func(c *Config) { c.Methods = []string{"godin"} }, []string{`unknown method "godin"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := newGen(7, "t2fnorm").run("r")
			if c.mutate != nil {
				c.mutate(&run)
			}
			cfg := baseConfig("msp")
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			_, err := Evaluate(context.Background(), cfg, []Run{run})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "evaluate: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestRunsFromOneCheckpoint(t *testing.T) {
	g := newGen(8, "linear")
	a, b := g.run("a"), g.run("b")
	_, err := Evaluate(context.Background(), baseConfig("msp"), []Run{a, b})
	if err == nil || !strings.Contains(err.Error(), "runs a and b come from the same checkpoint") {
		t.Errorf("error %v", err)
	}
	lin, t2 := newGen(8, "linear").run("a"), newGen(9, "t2fnorm").run("b")
	if _, err := Evaluate(context.Background(), baseConfig("msp"), []Run{lin, t2}); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("linear + t2fnorm runs: %v", err)
	}
}

// A method whose ID train or val split is missing fails by itself, naming
// the file it expected; the other methods still run.
func TestMissingSplitFailsOnlyThatMethod(t *testing.T) {
	run := newGen(11, "t2fnorm").run("r")
	var kept []Split
	for _, s := range run.Splits {
		if s.Table.Meta.Split != "train" && s.Table.Meta.Split != "val" {
			kept = append(kept, s)
		}
	}
	run.Splits = kept
	res, err := Evaluate(context.Background(), baseConfig("knn", "msp", "react"), []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	knn, msp, react := res.Methods[0], res.Methods[1], res.Methods[2]
	if knn.Err == nil || !strings.Contains(knn.Err.Error(), "needs ID train features") || !strings.Contains(knn.Err.Error(), "cif_train.parquet") {
		t.Errorf("knn error %v", knn.Err)
	}
	if react.Err == nil || !strings.Contains(react.Err.Error(), "cif_val.parquet") {
		t.Errorf("react error %v", react.Err)
	}
	if msp.Err != nil || len(msp.Rows) != 5 {
		t.Errorf("msp: %v, %d rows", msp.Err, len(msp.Rows))
	}
	if err := res.Failed(); err == nil || !strings.Contains(err.Error(), "knn") || !strings.Contains(err.Error(), "react") {
		t.Errorf("Failed() = %v", err)
	}
}

func TestNoHeadFailsHeadMethods(t *testing.T) {
	run := newGen(12, "t2fnorm").run("r")
	run.Head = nil
	res, err := Evaluate(context.Background(), baseConfig("vim", "t2fnorm"), []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Methods[0].Err; e == nil || !strings.Contains(e.Error(), "no head file") {
		t.Errorf("vim error %v", e)
	}
	if e := res.Methods[1].Err; e != nil {
		t.Errorf("t2fnorm: %v", e)
	}
	if len(res.Notes) == 0 {
		t.Error("no note about the missing head")
	}
}
