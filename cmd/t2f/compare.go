package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/internal/atomicfile"
)

func newCompareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "compare a cross-entropy baseline with T2FNorm and other training methods from 't2f score' outputs: tables, norms and \"did it help?\"",
		UsageText: "t2f compare --baseline SCORE_DIR [--t2fnorm SCORE_DIR] [--method NAME=SCORE_DIR ...] --out REPORT.md",
		Description: `Reads the results.json of 't2f score' runs on the same ID, near and far sets — one of
cross-entropy (linear head) models scored with msp, and with --t2fnorm one of T2FNorm models
scored with t2fnorm, each over one or more seeds — and writes a Markdown report:

   - the answer to "did T2FNorm help?", computed from near/far AUROC and FPR@95 (MSP on the
     baseline vs the T2FNorm scorer on T2FNorm, the paper's comparison), ID accuracy, every
     other post-hoc method scored on both, and the feature norms;
   - the headline table per OOD set with Δ = T2FNorm − baseline;
   - near/far AUROC and FPR@95 of every method on both models;
   - mean ‖f‖ of ID and each OOD set for both models and the OOD/ID ratio,
     plotted beside the report as norm_ratio.png.

With --method NAME=DIR (logitnorm, oe, t2fnorm+oe; t2fnorm is --t2fnorm) the report also
compares every training method with the baseline: one table of all methods side by side (near/far
AUROC and FPR@95, ID accuracy, mean ± std over seeds, the verdict), then per method its verdict
and table against the baseline. Each method is judged by OpenOOD's headline scorer for it — msp
for LogitNorm and OE, t2fnorm for T2FNorm and T2FNorm+OE — against MSP on the baseline. The
CE-vs-T2FNorm report above stays first when --t2fnorm is given.

A difference counts as better/worse only above a threshold: 0.5 points AUROC/AUPR, 1 point
FPR@95, 0.3 points accuracy, or twice the standard error of the difference with several seeds.
The verdict lines (one per method) are also printed on stdout.

Example:
   t2f score --features runs/ce/features --id mnist --near fashionmnist,letters --far textures,gaussian \
       --methods all --ood-val letters:val --out runs/score-ce
   t2f score --features runs/t2f/features --id mnist --near fashionmnist,letters --far textures,gaussian \
       --methods all --ood-val letters:val --out runs/score-t2f
   t2f compare --baseline runs/score-ce --t2fnorm runs/score-t2f --out runs/report.md
   t2f compare --baseline runs/score-ce --t2fnorm runs/score-t2f \
       --method logitnorm=runs/score-logitnorm --method oe=runs/score-oe --out runs/report.md \
       --note "oe-s4 left out: its training diverged at step 869 (epoch 2)"`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "baseline", Required: true, Usage: "score output directory (or its results.json) of the cross-entropy model(s)"},
			&cli.StringFlag{Name: "t2fnorm", Usage: "score output directory (or its results.json) of the T2FNorm model(s); the same as --method t2fnorm=DIR"},
			&cli.StringSliceFlag{Name: "method", Usage: "a training method (" + strings.Join(compareTrainMethods, ", ") + ") and the score output directory of its model(s); repeat for each method"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "Markdown report to write; norm_ratio.png goes beside it"},
			&cli.StringSliceFlag{Name: "note", Usage: "a line for the report's closing Notes section, e.g. which runs were left out and why; repeat for several"},
		},
		Action: func(c *cli.Context) error {
			methods, err := compareMethodFlags(c.String("t2fnorm"), c.StringSlice("method"))
			if err != nil {
				return err
			}
			read := func(p string) (*evaluate.Results, error) {
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					p = filepath.Join(p, evaluate.ResultsFileName)
				}
				return evaluate.ReadResults(p)
			}
			base, err := read(c.String("baseline"))
			if err != nil {
				return err
			}
			var others []evaluate.MethodResults
			t2fDir := ""
			for _, m := range methods {
				r, err := read(m.dir)
				if err != nil {
					return err
				}
				others = append(others, evaluate.MethodResults{Method: m.name, Results: r})
				if m.name == evaluate.TrainT2FNorm {
					t2fDir = m.dir
				}
			}
			out := c.String("out")
			dir := filepath.Dir(out)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			var b bytes.Buffer
			var summaries, notes, plots []string
			twoWay := t2fDir != ""
			if twoWay {
				var t2f *evaluate.Results
				for _, o := range others {
					if o.Method == evaluate.TrainT2FNorm {
						t2f = o.Results
					}
				}
				cmp, err := evaluate.Compare(base, t2f)
				if err != nil {
					return err
				}
				if plots, err = evaluate.WriteComparisonPlots(dir, cmp); err != nil {
					return err
				}
				var links evaluate.ComparisonLinks
				if len(plots) > 0 {
					links.Plots = "."
				}
				links.Baseline, links.T2FNorm = relDir(dir, c.String("baseline")), relDir(dir, t2fDir)
				if err := evaluate.WriteComparison(&b, cmp, links); err != nil {
					return err
				}
				summaries = append(summaries, cmp.Verdict.Summary)
				if cmp.CodeNote != "" {
					notes = append(notes, cmp.CodeNote)
				}
			}
			// The N-way tables: every method against the baseline and side by
			// side; a lone T2FNorm has its report above.
			if !twoWay || len(others) > 1 {
				n, err := evaluate.CompareMethods(base, others)
				if err != nil {
					return err
				}
				if err := evaluate.WriteMethodsComparison(&b, n, !twoWay); err != nil {
					return err
				}
				for _, m := range n.Methods {
					if !twoWay || m.Method != evaluate.TrainT2FNorm {
						summaries = append(summaries, m.Verdict.Summary)
					}
				}
				if n.CodeNote != "" && !slices.Contains(notes, n.CodeNote) {
					notes = append(notes, n.CodeNote)
				}
			}
			if extra := c.StringSlice("note"); len(extra) > 0 {
				b.WriteString("\n## Notes\n\n")
				for _, n := range extra {
					fmt.Fprintf(&b, "- %s\n", strings.Join(strings.Fields(n), " "))
				}
			}
			if err := atomicfile.WriteFile(out, b.Bytes()); err != nil {
				return fmt.Errorf("compare: write --out %q: %w", out, err)
			}
			for _, note := range notes {
				fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", note)
			}
			for _, s := range summaries {
				fmt.Fprintln(c.App.Writer, s)
			}
			fmt.Fprintf(c.App.ErrWriter, "wrote %s", out)
			for _, p := range plots {
				fmt.Fprintf(c.App.ErrWriter, ", %s", p)
			}
			fmt.Fprintln(c.App.ErrWriter)
			return nil
		},
	}
}

// compareTrainMethods are the training methods --method takes.
var compareTrainMethods = []string{evaluate.TrainT2FNorm, evaluate.TrainLogitNorm, evaluate.TrainOE, evaluate.TrainT2FNormOE}

type compareMethod struct{ name, dir string }

// compareMethodFlags reads --t2fnorm DIR and the --method NAME=DIR flags,
// in that order, each method at most once.
func compareMethodFlags(t2fnorm string, flags []string) ([]compareMethod, error) {
	var ms []compareMethod
	if t2fnorm != "" {
		ms = append(ms, compareMethod{evaluate.TrainT2FNorm, t2fnorm})
	}
	for _, f := range flags {
		name, dir, ok := strings.Cut(f, "=")
		if !ok || dir == "" {
			return nil, usageError{fmt.Sprintf("compare: --method %q: want NAME=DIR, e.g. --method logitnorm=runs/score-logitnorm", f)}
		}
		if !slices.Contains(compareTrainMethods, name) {
			return nil, usageError{fmt.Sprintf("compare: --method %q: unknown training method %q; want one of %s (the baseline is --baseline)", f, name, strings.Join(compareTrainMethods, ", "))}
		}
		for _, m := range ms {
			if m.name == name {
				return nil, usageError{fmt.Sprintf("compare: --method %q: %s is given twice (--t2fnorm is --method t2fnorm=DIR)", f, name)}
			}
		}
		ms = append(ms, compareMethod{name, dir})
	}
	if len(ms) == 0 {
		return nil, usageError{"compare: nothing to compare with the baseline: give --t2fnorm DIR or --method NAME=DIR"}
	}
	return ms, nil
}

// relDir is a score folder (or its results.json) relative to the report's
// folder, for links; "" when it cannot be.
func relDir(dir, p string) string {
	if filepath.Ext(p) == ".json" {
		p = filepath.Dir(p)
	}
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(r)
}
