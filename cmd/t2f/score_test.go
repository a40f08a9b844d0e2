package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/features"
)

// writeScoreFixture writes a small linear-head feature directory: ID "toy"
// test/train, near "nn", far "ff", with a head file.
func writeScoreFixture(t *testing.T, dir, sha string, seed uint64) {
	writeScoreFixtureSplits(t, dir, sha, seed, false)
}

// writeScoreFixtureSplits is writeScoreFixture with an ID val split too when
// withVal.
func writeScoreFixtureSplits(t *testing.T, dir, sha string, seed uint64, withVal bool) {
	t.Helper()
	const D, C = 6, 3
	rng := rand.New(rand.NewPCG(seed, 1))
	w := make([]float32, C*D)
	b := make([]float32, C)
	for i := range w {
		if i%D%C == i/D {
			w[i] = 1
		}
	}
	meta := func(ds, split string) features.Meta {
		return features.Meta{Dataset: ds, Split: split, Model: "toy", Width: 1, Head: "linear", Tau: 1,
			Classes: []string{"a", "b", "c"}, CheckpointSHA256: sha}
	}
	table := func(ds, split string, n int, ood bool) *features.Table {
		tb := &features.Table{Meta: meta(ds, split), Dim: D, NumClasses: C}
		for i := range n {
			label := int32(-1)
			if !ood {
				label = int32(rng.IntN(C))
			}
			var ss float64
			f := make([]float32, D)
			for j := range f {
				x := math.Abs(rng.NormFloat64())
				if !ood && j%C == int(label) {
					x += 2
				}
				f[j] = float32(x)
				ss += x * x
			}
			z := make([]float32, C)
			pred := int32(0)
			for c := range C {
				for j := range D {
					z[c] += w[c*D+j] * f[j]
				}
				if z[c] > z[pred] {
					pred = int32(c)
				}
			}
			fn := make([]float32, D)
			for j := range f {
				fn[j] = float32(float64(f[j]) / math.Sqrt(ss))
			}
			tb.IDs = append(tb.IDs, int64(i))
			tb.Labels = append(tb.Labels, label)
			tb.Preds = append(tb.Preds, pred)
			tb.Feature = append(tb.Feature, f...)
			tb.FeatureNormalized = append(tb.FeatureNormalized, fn...)
			tb.FeatureNorm = append(tb.FeatureNorm, float32(math.Sqrt(ss)))
			tb.Logits = append(tb.Logits, z...)
			tb.LogitsOOD = append(tb.LogitsOOD, z...)
		}
		return tb
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tables := []*features.Table{table("toy", "test", 80, false), table("toy", "train", 120, false),
		table("nn", "test", 50, true), table("ff", "test", 40, true)}
	if withVal {
		tables = append(tables, table("toy", "val", 60, false))
	}
	for _, tb := range tables {
		if err := features.WriteFile(filepath.Join(dir, features.FileName(tb.Meta.Dataset, tb.Meta.Split)), tb); err != nil {
			t.Fatal(err)
		}
	}
	h := features.Head{Kind: "linear", Model: "toy", Width: 1, Classes: []string{"a", "b", "c"}, CheckpointSHA256: sha,
		Dim: D, NumClasses: C, Weight: w, Bias: b, Tau: 1}
	if err := features.WriteHead(dir, h); err != nil {
		t.Fatal(err)
	}
}

func TestScoreCommand(t *testing.T) {
	tmp := t.TempDir()
	writeScoreFixture(t, filepath.Join(tmp, "s0"), "aaaa", 1)
	writeScoreFixture(t, filepath.Join(tmp, "s1"), "bbbb", 2)
	out := filepath.Join(tmp, "out")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"t2f", "score", "--features", filepath.Join(tmp, "s0"), "--features", filepath.Join(tmp, "s1"),
		"--id", "toy", "--near", "nn", "--far", "ff", "--methods", "msp,knn,mls", "--out", out, "-q"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, w := range []string{"msp", "knn", "nearood", "farood", "±", "feature norms"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
		}
	}
	for _, f := range []string{"msp.csv", "knn.csv", "mls.csv", "scores.parquet", "norms.csv", "results.json", "roc_knn.png", "norm_ff.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// --json prints parseable JSON.
	stdout.Reset()
	code = run(context.Background(), []string{"t2f", "score", "--features", filepath.Join(tmp, "s0"), "--id", "toy", "--far", "ff,nn",
		"--out", out, "--json", "-q"}, &stdout, &stderr)
	var j map[string]any
	if code != exitOK || json.Unmarshal(stdout.Bytes(), &j) != nil || j["units"] != "percent" {
		t.Errorf("--json: exit %d, %q", code, stdout.String())
	}
}

func TestScoreCommandErrors(t *testing.T) {
	tmp := t.TempDir()
	writeScoreFixture(t, filepath.Join(tmp, "s0"), "aaaa", 1)
	base := []string{"t2f", "score", "--features", filepath.Join(tmp, "s0"), "--id", "toy", "--out", filepath.Join(tmp, "out"), "-q"}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no OOD set", nil, exitUsage, "--near or --far"},
		{"unknown method", []string{"--far", "ff", "--methods", "msp,nosuch"}, exitUsage, `unknown method "nosuch"`},
		{"out-of-scope method", []string{"--far", "ff", "--methods", "msp,godin"}, exitUsage, "godin is an OpenOOD post-processor t2f does not implement: it needs a G-ODIN network"},
		{"missing set", []string{"--far", "svhn"}, exitFailure, `no feature file with dataset "svhn"`},
		{"ID val missing for a method", []string{"--far", "ff", "--methods", "klm,msp"}, exitFailure, "toy_val.parquet"},
		{"ID dataset as OOD", []string{"--far", "toy:train"}, exitFailure, `"toy" given as ID and as far-OOD`},
		{"same run twice", []string{"--far", "ff", "--features", filepath.Join(tmp, "s0")}, exitFailure, "same checkpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(append([]string{}, base...), c.args...), &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d (want %d), stderr %q lacks %q", code, c.code, stderr.String(), c.want)
			}
		})
	}
}

// With --methods all, a method that cannot apply to the features (ViM's dim
// 256 exceeds this fixture's feature dimension) is reported, not fatal; asked
// for by name it fails the command.
func TestScoreAllSkipsInapplicableMethods(t *testing.T) {
	tmp := t.TempDir()
	writeScoreFixtureSplits(t, filepath.Join(tmp, "s0"), "aaaa", 1, true)
	args := []string{"t2f", "score", "--features", filepath.Join(tmp, "s0"), "--id", "toy", "--near", "nn", "--far", "ff", "--out", filepath.Join(tmp, "out"), "-q"}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append(args, "--methods", "all"), &stdout, &stderr); code != exitOK {
		t.Fatalf("--methods all: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "vim: not applicable") || !strings.Contains(stdout.String(), "nnguide") {
		t.Errorf("table lacks the not-applicable note or the other methods:\n%s", stdout.String())
	}
	stderr.Reset()
	if code := run(context.Background(), append(args, "--methods", "vim"), &stdout, &stderr); code != exitFailure || !strings.Contains(stderr.String(), "vim") {
		t.Errorf("--methods vim: exit %d, %q; want %d naming vim", code, stderr.String(), exitFailure)
	}
}
