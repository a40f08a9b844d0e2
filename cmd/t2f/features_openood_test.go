package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/shards"
)

// openoodFixtures are the OpenOOD-format checkpoints made by OpenOOD's own
// classes (scripts/gen_openood_ckpt_fixtures.py) and OpenOOD's evaluation
// of them.
const openoodFixtures = "../../train/checkpoint/testdata"

type openoodEval struct {
	Scores                             []float64
	FPR95, AUROC, AUPRIn, AUPROut, ACC float64
}

func (e *openoodEval) UnmarshalJSON(b []byte) error {
	var v struct {
		Scores  []float64
		FPR95   float64 `json:"fpr95"`
		AUROC   float64 `json:"auroc"`
		AUPRIn  float64 `json:"aupr_in"`
		AUPROut float64 `json:"aupr_out"`
		ACC     float64 `json:"acc"`
	}
	err := json.Unmarshal(b, &v)
	*e = openoodEval{v.Scores, v.FPR95, v.AUROC, v.AUPRIn, v.AUPROut, v.ACC}
	return err
}

// fixtureImage is image n of set s of the fixture generator (see
// scripts/gen_openood_ckpt_fixtures.py): S×S×3 uint8 HWC, halved for s = 1.
func fixtureImage(s, n, size int) []uint8 {
	img := make([]uint8, size*size*3)
	for k := range img {
		v := uint8((uint32(s*1000003+n*7919+k) * 2654435761) >> 24)
		if s == 1 {
			v >>= 1
		}
		img[k] = v
	}
	return img
}

// writeFixtureShards writes the generator's set 0 as cifar10/test (10
// classes, label n mod 10) and set 1 as svhn/test (OOD), n images each.
func writeFixtureShards(t *testing.T, root string, n int) (id, ood string) {
	t.Helper()
	classes := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	for s, name := range []string{"cifar10", "svhn"} {
		dir := filepath.Join(root, name)
		cls := classes
		if s == 1 {
			cls = nil
		}
		meta := shards.Meta{Dataset: name, Split: "test", Classes: cls, Height: 32, Width: 32, Channels: 3}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := shards.NewWriter(dir, meta)
		if err != nil {
			t.Fatal(err)
		}
		m := &shards.Manifest{Format: shards.Format, Dataset: name, Split: "test", Classes: cls, Height: 32, Width: 32,
			Channels: 3, Layout: shards.Layout, ClassCounts: make([]int64, len(cls)), Rows: int64(n)}
		for i := range n {
			label := int32(-1)
			if s == 0 {
				label = int32(i % 10)
				m.ClassCounts[label]++
			} else {
				m.OODCount++
			}
			if err := w.Append(int64(i), label, fixtureImage(s, i, 32), "gen"); err != nil {
				t.Fatal(err)
			}
		}
		if m.Shards, err = w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := shards.WriteManifest(dir, m); err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			id = dir
		} else {
			ood = dir
		}
	}
	return id, ood
}

// TestOpenOODCheckpointScores is the end-to-end check: OpenOOD-format
// best.ckpt files of ResNet-18 32×32 (T2FNormNet with its tau; a linear
// head under DataParallel's module.; a T2FNormNet without tau, given
// --tau) go through `t2f features` with only --checkpoint/--data (+ --tau)
// and `t2f score`, and every per-sample score and metric equals OpenOOD's
// evaluation of PyTorch's forward.
func TestOpenOODCheckpointScores(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(openoodFixtures, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Cases map[string]struct {
			N    int
			Eval map[string]openoodEval `json:"openood_eval"`
		}
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		extra []string
	}{
		{"r18_32_t2fnorm.ckpt", nil},
		{"r18_32_linear_module.ckpt", nil},
		{"r18_32_t2fnorm_notau.ckpt", []string{"--tau", "0.5"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := exp.Cases[tc.file]
			root := t.TempDir()
			id, ood := writeFixtureShards(t, root, c.N)
			feats, scores := filepath.Join(root, "features"), filepath.Join(root, "scores")
			args := append([]string{"--checkpoint", filepath.Join(openoodFixtures, tc.file), "--data", id, "--data", ood,
				"--out", feats, "--quiet"}, tc.extra...)
			if code, msg := runFeaturesCLI(t, args...); code != 0 {
				t.Fatalf("features: exit %d: %s", code, msg)
			}
			var out, errb strings.Builder
			if code := run(context.Background(), []string{"t2f", "score", "--features", feats, "--id", "cifar10", "--far", "svhn",
				"--methods", "msp,t2fnorm", "--out", scores, "--quiet"}, &out, &errb); code != 0 {
				t.Fatalf("score: exit %d: %s", code, errb.String())
			}
			res, err := evaluate.ReadResults(filepath.Join(scores, evaluate.ResultsFileName))
			if err != nil {
				t.Fatal(err)
			}
			// Per-sample scores: t2f's MSP and T2FNorm are max softmax of
			// logits and logits_ood, recomputed here from the feature files.
			tabs := map[string]*features.Table{}
			for _, name := range []string{"cifar10", "svhn"} {
				if tabs[name], err = features.ReadFile(filepath.Join(feats, features.FileName(name, "test"))); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range res.Methods {
				want, ok := c.Eval[m.Method]
				if !ok {
					t.Fatalf("method %s not in the fixture", m.Method)
				}
				for i, name := range []string{"cifar10", "svhn"} {
					tab := tabs[name]
					z := tab.Logits
					if m.Method == "t2fnorm" {
						z = tab.LogitsOOD
					}
					for r := range c.N {
						got := maxSoftmax(z[r*tab.NumClasses : (r+1)*tab.NumClasses])
						if w := want.Scores[i*c.N+r]; math.Abs(got-w) > 1e-5 {
							t.Fatalf("%s %s row %d: score %v, PyTorch %v", m.Method, name, r, got, w)
						}
					}
				}
				var row *evaluate.ResultsRow
				for i := range m.Rows {
					if m.Rows[i].Dataset == "svhn" {
						row = &m.Rows[i]
					}
				}
				if row == nil {
					t.Fatalf("%s: no svhn row in %+v", m.Method, m.Rows)
				}
				g := row.Mean
				for _, v := range []struct {
					name      string
					got, want float64
				}{
					{"FPR@95", g.FPR95, want.FPR95}, {"AUROC", g.AUROC, want.AUROC}, {"AUPR-In", g.AUPRIn, want.AUPRIn},
					{"AUPR-Out", g.AUPROut, want.AUPROut}, {"ACC", g.ACC, want.ACC},
				} {
					if math.Abs(v.got-v.want) > 1e-9 && math.Abs(v.got-100*v.want) > 1e-7 {
						t.Errorf("%s %s = %v, OpenOOD %v", m.Method, v.name, v.got, v.want)
					}
				}
			}
		})
	}
}

// TestOpenOODCheckpointRefusals: the CLI side of the refusals (exit codes,
// the hint in the message) and that a refused run leaves no feature file.
func TestOpenOODCheckpointRefusals(t *testing.T) {
	root := t.TempDir()
	id, ood := writeFixtureShards(t, root, 2)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--checkpoint", filepath.Join(openoodFixtures, "r18_32_t2fnorm_notau.ckpt")}, exitUsage, "Give --tau"},
		{[]string{"--checkpoint", filepath.Join(openoodFixtures, "r18_32_t2fnorm.ckpt"), "--tau", "1"}, exitUsage, "contradicts the checkpoint's tau 0.1"},
		{[]string{"--checkpoint", filepath.Join(openoodFixtures, "r18_32_linear_module.ckpt"), "--model", "resnet18_224x224"}, exitFailure, "check --model and --width"},
		{[]string{"--checkpoint", "../../formats/pth/testdata/views.pth"}, exitUsage, "t2f features import"},
		{[]string{"--checkpoint", "../../formats/pth/testdata/whole_model.pth"}, exitFailure, "whole_model.pth"},
	} {
		out := filepath.Join(root, "out")
		code, msg := runFeaturesCLI(t, append(tc.args, "--data", id, "--data", ood, "--out", out, "--quiet")...)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: exit %d %q, want %d containing %q", tc.args, code, msg, tc.code, tc.want)
		}
		if left, _ := filepath.Glob(filepath.Join(out, "*")); len(left) > 0 {
			t.Errorf("%v: left %v", tc.args, left)
		}
	}
}

func maxSoftmax(z []float32) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return 1 / s
}
