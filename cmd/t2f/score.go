package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/evaluate/posthoc"
)

func newScoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "score",
		Usage: "score feature files with post-hoc OOD methods: OpenOOD v1.5 metrics, tables, norms, plots",
		UsageText: "t2f score --features DIR [--features DIR ...] --id NAME [--near A,B] [--far C,D] [--csid E]\n" +
			"          [--ood-val NAME[:SPLIT]] [--methods msp,t2fnorm,...|all] --out DIR [--json]",
		Description: `Reads only feature files (written by 't2f features'): one directory per trained model.
Several --features directories are several runs (seeds): every cell becomes mean ± population std.

Which file is which: every feature file records its dataset and split. --id NAME uses the splits
"test" (always), "train" (methods fitted on training features: knn mds rmds vim dice she nnguide
fdbd nci relation cfood openmax) and "val" (react vra klm temp_scaling residual, and the search)
of dataset NAME. An OOD or CSID set is NAME (its "test" split, else its only file) or NAME:SPLIT.
--ood-val NAME (split "val", else its only file) turns on OpenOOD's hyper-parameter search (APS)
for ebo react ash scale knn vim gen fdbd nci vra relation: each setting is scored on ID val + OOD
val, the best AUROC wins. Without it the defaults are used.

Metrics are OpenOOD v1.5's, tie-exact with scikit-learn, ×100:
   FPR@95        OOD positive (OpenOOD v1.5): % of ID flagged OOD when 95% of OOD is caught
   FPR@95_IDpos  classic, ID positive: % of OOD accepted when 95% of ID is kept
   AUROC, AUPR_IN (ID positive), AUPR_OUT (OOD positive): trapezoidal areas
   ACC           ID test accuracy of the plain forward (FSOOD: ID test + CSID sets)
Rows: each near set, nearood (plain mean), each far set, farood. With --csid a second,
full-spectrum table uses ID test + CSID sets as ID.

On a T2FNorm model, msp scores the training (normalised) forward, t2fnorm and every other method
the OOD forward W·f/τ + b with feature f/τ, as OpenOOD's post-processors see it.

Written to --out (each file atomically):
   <method>.csv, <method>_fsood.csv   OpenOOD's layout
   scores.parquet                     method, run, dataset, split, id, label, score
   norms.csv                          ‖f‖ per run and split: count, mean, std, quantiles, ratio to ID
   results.json                       everything, full precision
   report.md                          the tables, norms and notes as Markdown with the plots
   norm_<set>.png, scores_<method>.png, roc_<method>.png   plots (first run)

Methods: ` + strings.Join(posthoc.Names(), " ") + `
ensemble scores all --features runs as one ensemble (mean logits, OpenOOD's EnsemblePostprocessor).
Methods that read columns computed by the network at feature time name their --extra: a missing
one fails with "compute them with ` + "`t2f features --extra NAME`" + `" (with --methods all it is
reported and skipped). Out of scope (they need a specially trained network; docs/posthoc.md):
   ` + strings.Join(outOfScopeNames(), " ") + `

Examples:
   t2f score --features runs/t2f-s0/features --id cifar10 --near cifar100,tin \
      --far mnist,svhn,texture,places365 --methods msp,t2fnorm --out results/t2f-s0
   t2f score --features runs/s0/feat --features runs/s1/feat --features runs/s2/feat \
      --id mnist --near notmnist,fashionmnist --far texture,cifar10,tin,places365 \
      --ood-val notmnist:val --methods all --out results/mnist --json > mnist.json`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "features", Usage: "feature directory of one run (repeat for several seeds)", Required: true},
			&cli.StringFlag{Name: "id", Usage: "ID dataset name", Required: true},
			&cli.StringSliceFlag{Name: "near", Usage: "near-OOD sets, NAME or NAME:SPLIT, comma-separated"},
			&cli.StringSliceFlag{Name: "far", Usage: "far-OOD sets, NAME or NAME:SPLIT, comma-separated"},
			&cli.StringSliceFlag{Name: "csid", Usage: "covariate-shifted ID sets (adds full-spectrum tables)"},
			&cli.StringFlag{Name: "ood-val", Usage: "OOD validation set for the hyper-parameter search, NAME or NAME:SPLIT"},
			&cli.StringFlag{Name: "methods", Value: "msp,t2fnorm", Usage: "comma-separated methods, or all"},
			&cli.StringFlag{Name: "out", Usage: "output directory", Required: true},
			&cli.BoolFlag{Name: "json", Usage: "print results as JSON on stdout instead of tables"},
			&cli.IntFlag{Name: "threads", Usage: "threads for the knn / nnguide searches (0 = all cores)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		},
		Action: runScore,
	}
}

func runScore(c *cli.Context) error {
	methods := scoreList([]string{c.String("methods")})
	all := len(methods) == 1 && methods[0] == "all"
	if all {
		methods = posthoc.Names()
	}
	for _, m := range methods {
		if reason, ok := posthoc.IsOutOfScope(m); ok {
			return usageError{fmt.Sprintf("--methods: %s is an OpenOOD post-processor t2f does not implement: it %s (out of scope: %s; see docs/posthoc.md)",
				m, reason, strings.Join(outOfScopeNames(), ","))}
		}
		if !slices.Contains(posthoc.Names(), m) {
			return usageError{fmt.Sprintf("--methods: unknown method %q (known: %s, or all; out of scope: %s)", m,
				strings.Join(posthoc.Names(), ","), strings.Join(outOfScopeNames(), ","))}
		}
	}
	if c.Int("threads") < 0 {
		return usageError{fmt.Sprintf("--threads %d: want ≥ 0", c.Int("threads"))}
	}
	cfg := evaluate.Config{
		ID:      c.String("id"),
		Near:    scoreList(c.StringSlice("near")),
		Far:     scoreList(c.StringSlice("far")),
		CSID:    scoreList(c.StringSlice("csid")),
		OODVal:  c.String("ood-val"),
		Methods: methods,
		Options: posthoc.Options{Threads: c.Int("threads")},
		Code:    buildStamp().String(),
	}
	if len(cfg.Near)+len(cfg.Far) == 0 {
		return usageError{"give at least one OOD set with --near or --far"}
	}
	dirs := scoreList(c.StringSlice("features"))
	quiet := c.Bool("quiet")
	var runs []evaluate.Run
	load := newProgress(c.App.ErrWriter, quiet, "load", int64(len(dirs)))
	for i, dir := range dirs {
		run, err := evaluate.LoadRun(dir, cfg)
		if err != nil {
			load.Finish()
			return err
		}
		runs = append(runs, *run)
		load.Update(int64(i+1), dir)
	}
	load.Finish()
	bar := newProgress(c.App.ErrWriter, quiet, "score", int64(len(methods)*len(runs)))
	cfg.Progress = func(done, _ int, what string) { bar.Update(int64(done), what) }
	res, err := evaluate.Evaluate(c.Context, cfg, runs)
	bar.Finish()
	if err != nil {
		return err
	}
	lock, err := lockOut("score", c.String("out"))
	if err != nil {
		return err
	}
	defer lock.Release()
	paths, err := evaluate.WriteOutputs(c.String("out"), res)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if err := evaluate.WriteJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		if err := evaluate.WriteTable(c.App.Writer, res); err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, "\nfeature norms ‖f‖ (raw penultimate feature)")
		if err := evaluate.WriteNormTable(c.App.Writer, res); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %d files to %s\n", len(paths), c.String("out"))
	return scoreFailure(res, all)
}

// scoreFailure is the error that fails the command: any failed method, except
// that with --methods all a method that cannot apply to these features (e.g.
// ViM with a feature dimension below its dim) or whose `t2f features --extra`
// columns are absent is only reported, in the table and in results.json.
func scoreFailure(res *evaluate.Result, all bool) error {
	err := res.Failed()
	if !all || err == nil {
		return err
	}
	var failed []error
	for _, m := range res.Methods {
		if m.Err != nil && !errors.Is(m.Err, posthoc.ErrNotApplicable) && !errors.Is(m.Err, posthoc.ErrMissingExtra) {
			failed = append(failed, m.Err)
		}
	}
	return errors.Join(failed...)
}

// scoreList flattens comma-separated flag values, dropping empty items.
func scoreList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// outOfScopeNames lists the OpenOOD post-processors t2f refuses.
func outOfScopeNames() []string {
	var out []string
	for _, e := range posthoc.OutOfScope() {
		out = append(out, e.Name)
	}
	return out
}
