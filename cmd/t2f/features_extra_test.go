package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// TestFeaturesExtra: --extra prints its cost, writes extra/<dataset>_<split>.parquet
// with the rows of the feature file, and t2f score then runs the network
// methods; unknown, pending and inapplicable methods fail with what to do.
func TestFeaturesExtra(t *testing.T) {
	f := newFeatFixture(t)
	out := filepath.Join(t.TempDir(), "feats")
	code, msg := runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", f.id.dir, "--data", f.ood.dir, "--out", out,
		"--batch-size", "8", "--threads", "1", "--extra", "odin,iodin,adascale_a,dropout")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if !strings.Contains(msg, "--extra odin,iodin,adascale_a,dropout costs, besides the plain extraction (1 forward), 19 forward + 5 backward passes per image") {
		t.Errorf("output does not state the cost up front:\n%s", msg)
	}
	for _, s := range []featShard{f.id, f.ood} {
		tab, err := features.ReadFile(filepath.Join(out, filepath.Base(s.dir[:len(s.dir)-len("-test")])+"_test.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := features.ReadExtra(features.ExtraPath(out, tab.Meta.Dataset, tab.Meta.Split))
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() != tab.Len() || x.Meta.CheckpointSHA256 != tab.Meta.CheckpointSHA256 {
			t.Fatalf("extra file: %d rows from %s, feature file %d from %s", x.Len(), x.Meta.CheckpointSHA256, tab.Len(), tab.Meta.CheckpointSHA256)
		}
		if len(x.Columns) != 17 || x.Columns[0].Name != "odin_t1_n0.0014" || x.Columns[16].Name != features.ColAdaScalePerturbed || x.Columns[16].Width != 84 {
			t.Errorf("extra columns %v, want 8 odin, 8 iodin, adascale_perturbed (84)", x.Columns)
		}
		for _, v := range x.Values["odin_t1000_n0.0014"] {
			if !(v > 0 && v <= 1) {
				t.Fatalf("ODIN confidence %v outside (0, 1]", v)
			}
		}
	}

	var so, se bytes.Buffer
	args := []string{"t2f", "score", "--features", out, "--id", "digits", "--far", "noise", "--methods", "odin,iodin,dropout",
		"--out", filepath.Join(t.TempDir(), "res"), "-q"}
	if code := run(context.Background(), args, &so, &se); code != 0 {
		t.Fatalf("score: exit %d: %s%s", code, so.String(), se.String())
	}

	// One ODIN setting: one gradient, one perturbed forward, one column;
	// t2f score uses it as the default setting.
	one := filepath.Join(t.TempDir(), "one")
	code, msg = runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", f.id.dir, "--data", f.ood.dir, "--out", one,
		"--threads", "1", "--extra", "odin", "--odin-temperatures", "1000", "--odin-noises", "0.0014")
	if code != 0 || !strings.Contains(msg, "--extra odin costs, besides the plain extraction (1 forward), 2 forward + 1 backward passes per image") {
		t.Fatalf("one setting: exit %d: %s", code, msg)
	}
	if x, err := features.ReadExtra(features.ExtraPath(one, "digits", "test")); err != nil || len(x.Columns) != 1 || x.Columns[0].Name != "odin_t1000_n0.0014" {
		t.Fatalf("one setting: columns %v, %v", x, err)
	}
	so.Reset()
	se.Reset()
	args[3] = one
	args[9] = "odin"
	if code := run(context.Background(), args, &so, &se); code != 0 {
		t.Fatalf("score one setting: exit %d: %s%s", code, so.String(), se.String())
	}
	code, msg = runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", f.id.dir, "--out", one, "--quiet", "--extra", "odin", "--odin-temperatures", "5")
	if code != exitUsage || !strings.Contains(msg, "not in OpenOOD's sweep") {
		t.Errorf("--odin-temperatures 5: exit %d %q", code, msg)
	}

	for _, c := range []struct{ extra, want string }{
		{"gram", "needs the ID train split among --data"},
		{"nope", "unknown method"},
		{"rankfeat", "lenet has 0 stages"},
		{"mds_ensemble", "needs the ID train split among --data"},
		{"gmm", "needs the ID train split among --data"},
	} {
		code, msg := runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", f.id.dir, "--out", filepath.Join(t.TempDir(), "x"),
			"--quiet", "--extra", c.extra)
		if code == 0 || !strings.Contains(msg, c.want) {
			t.Errorf("--extra %s: exit %d %q, want a failure containing %q", c.extra, code, msg, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, features.ExtraDirName)); err != nil {
		t.Error(err)
	}
}

// TestFeaturesExtraGram: --extra gram estimates its statistics on the train
// split among --data first, writes gram_deviation for the other splits
// (not for train), and t2f score runs gram from it.
func TestFeaturesExtraGram(t *testing.T) {
	f := newFeatFixture(t)
	tr := writeFeatShard(t, filepath.Join(t.TempDir(), "digits-train"), "digits", "train", f.classes, 40, 3)
	out := filepath.Join(t.TempDir(), "feats")
	code, msg := runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", tr.dir, "--data", f.id.dir, "--data", f.ood.dir, "--out", out,
		"--batch-size", "8", "--threads", "1", "--extra", "gram")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if !strings.Contains(msg, "--extra gram costs, besides the plain extraction (1 forward), 1 forward + 0 backward passes per image, after 1.1 forwards per ID-train image for the statistics") {
		t.Errorf("output does not state the cost up front:\n%s", msg)
	}
	if _, err := os.Stat(features.ExtraPath(out, "digits", "train")); err == nil {
		t.Error("an extra file for the train split")
	}
	for _, ds := range []string{"digits", "noise"} {
		x, err := features.ReadExtra(features.ExtraPath(out, ds, "test"))
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Columns) != 1 || x.Columns[0] != (features.ExtraColumn{Name: features.ColGramDeviation, Width: 1}) {
			t.Fatalf("%s: extra columns %v, want gram_deviation (1)", ds, x.Columns)
		}
		for i, v := range x.Values[features.ColGramDeviation] {
			if !(v >= 0) {
				t.Fatalf("%s row %d: deviation %v, want ≥ 0", ds, i, v)
			}
		}
	}
	var so, se bytes.Buffer
	args := []string{"t2f", "score", "--features", out, "--id", "digits", "--far", "noise", "--methods", "gram",
		"--out", filepath.Join(t.TempDir(), "res"), "-q"}
	if code := run(context.Background(), args, &so, &se); code != 0 {
		t.Fatalf("score: exit %d: %s%s", code, so.String(), se.String())
	}
}

// TestFeaturesExtraGMM: --extra gmm fits PCA and the mixture on the train
// split among --data first (reporting the fit), writes gmm_score for the
// other splits, leaves no spill file in --out, gives the same columns for
// the same --seed, and t2f score runs gmm from them.
func TestFeaturesExtraGMM(t *testing.T) {
	f := newFeatFixture(t)
	m, err := nn.New(cpu.New(1), nn.Config{Arch: nn.ArchSmallResNet, InChannels: 1, ImageSize: 28, Classes: 3, Head: nn.HeadLinear}, 7)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), train.BestFile)
	if err := m.Save(ckpt, nil); err != nil {
		t.Fatal(err)
	}
	tr := writeFeatShard(t, filepath.Join(t.TempDir(), "digits-train"), "digits", "train", f.classes, 64, 3)
	cols := func(out, seed string) map[string][]float32 {
		t.Helper()
		code, msg := runFeaturesCLI(t, "--checkpoint", ckpt, "--data", tr.dir, "--data", f.id.dir, "--data", f.ood.dir, "--out", out,
			"--batch-size", "16", "--threads", "1", "--extra", "gmm", "--seed", seed)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, msg)
		}
		for _, want := range []string{"--extra gmm costs, besides the plain extraction (1 forward), 1 forward + 0 backward passes per image, after 1 forward per ID-train image for the statistics", "features: gmm: 64 train maps of", "PCA(50), tied GMM of 50 components"} {
			if !strings.Contains(msg, want) {
				t.Errorf("output lacks %q:\n%s", want, msg)
			}
		}
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".t2f-stage-rows") {
				t.Errorf("spill file %s left in --out", e.Name())
			}
		}
		if _, err := os.Stat(features.ExtraPath(out, "digits", "train")); err == nil {
			t.Error("an extra file for the train split")
		}
		got := map[string][]float32{}
		for _, ds := range []string{"digits", "noise"} {
			x, err := features.ReadExtra(features.ExtraPath(out, ds, "test"))
			if err != nil {
				t.Fatal(err)
			}
			if len(x.Columns) != 1 || x.Columns[0] != (features.ExtraColumn{Name: features.ColGMMScore, Width: 1}) {
				t.Fatalf("%s: extra columns %v, want gmm_score (1)", ds, x.Columns)
			}
			for i, v := range x.Values[features.ColGMMScore] {
				if !(v >= -103.28 && v <= 0) {
					t.Fatalf("%s row %d: log-density %v outside [log 1.4e-45, log 1]", ds, i, v)
				}
			}
			got[ds] = x.Values[features.ColGMMScore]
		}
		return got
	}
	out := filepath.Join(t.TempDir(), "feats")
	a, b := cols(out, "3"), cols(filepath.Join(t.TempDir(), "again"), "3")
	for ds := range a {
		if !slices.Equal(a[ds], b[ds]) {
			t.Errorf("%s: --seed 3 twice gave different columns", ds)
		}
	}
	var so, se bytes.Buffer
	args := []string{"t2f", "score", "--features", out, "--id", "digits", "--far", "noise", "--methods", "gmm",
		"--out", filepath.Join(t.TempDir(), "res"), "-q"}
	if code := run(context.Background(), args, &so, &se); code != 0 {
		t.Fatalf("score: exit %d: %s%s", code, so.String(), se.String())
	}
}
