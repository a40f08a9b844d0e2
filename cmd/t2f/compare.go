package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/internal/atomicfile"
)

func newCompareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "compare a cross-entropy baseline with T2FNorm from two 't2f score' outputs: tables, norms and \"did T2FNorm help?\"",
		UsageText: "t2f compare --baseline SCORE_DIR --t2fnorm SCORE_DIR --out REPORT.md",
		Description: `Reads the results.json of two 't2f score' runs on the same ID, near and far sets — one of
cross-entropy (linear head) models scored with msp, one of T2FNorm models scored with t2fnorm,
each over one or more seeds — and writes a Markdown report:

   - the answer to "did T2FNorm help?", computed from near/far AUROC and FPR@95 (MSP on the
     baseline vs the T2FNorm scorer on T2FNorm, the paper's comparison), ID accuracy, every
     other post-hoc method scored on both, and the feature norms;
   - the headline table per OOD set with Δ = T2FNorm − baseline;
   - near/far AUROC and FPR@95 of every method on both models;
   - mean ‖f‖ of ID and each OOD set for both models and the OOD/ID ratio,
     plotted beside the report as norm_ratio.png.

A difference counts as better/worse only above a threshold: 0.5 points AUROC/AUPR, 1 point
FPR@95, 0.3 points accuracy, or twice the standard error of the difference with several seeds.
The verdict line is also printed on stdout.

Example:
   t2f score --features runs/ce/features --id mnist --near fashionmnist,letters --far textures,gaussian \
       --methods all --ood-val letters:val --out runs/score-ce
   t2f score --features runs/t2f/features --id mnist --near fashionmnist,letters --far textures,gaussian \
       --methods all --ood-val letters:val --out runs/score-t2f
   t2f compare --baseline runs/score-ce --t2fnorm runs/score-t2f --out runs/report.md`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "baseline", Required: true, Usage: "score output directory (or its results.json) of the cross-entropy model(s)"},
			&cli.StringFlag{Name: "t2fnorm", Required: true, Usage: "score output directory (or its results.json) of the T2FNorm model(s)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "Markdown report to write; norm_ratio.png goes beside it"},
		},
		Action: func(c *cli.Context) error {
			read := func(flag string) (*evaluate.Results, error) {
				p := c.String(flag)
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					p = filepath.Join(p, evaluate.ResultsFileName)
				}
				return evaluate.ReadResults(p)
			}
			base, err := read("baseline")
			if err != nil {
				return err
			}
			t2f, err := read("t2fnorm")
			if err != nil {
				return err
			}
			cmp, err := evaluate.Compare(base, t2f)
			if err != nil {
				return err
			}
			out := c.String("out")
			dir := filepath.Dir(out)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			plots, err := evaluate.WriteComparisonPlots(dir, cmp)
			if err != nil {
				return err
			}
			var links evaluate.ComparisonLinks
			if len(plots) > 0 {
				links.Plots = "."
			}
			// The score folders' plots, linked relative to the report.
			rel := func(flag string) string {
				p := c.String(flag)
				if filepath.Ext(p) == ".json" {
					p = filepath.Dir(p)
				}
				r, err := filepath.Rel(dir, p)
				if err != nil {
					return ""
				}
				return filepath.ToSlash(r)
			}
			links.Baseline, links.T2FNorm = rel("baseline"), rel("t2fnorm")
			var b bytes.Buffer
			if err := evaluate.WriteComparison(&b, cmp, links); err != nil {
				return err
			}
			if err := atomicfile.WriteFile(out, b.Bytes()); err != nil {
				return fmt.Errorf("compare: write --out %q: %w", out, err)
			}
			if cmp.CodeNote != "" {
				fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", cmp.CodeNote)
			}
			fmt.Fprintln(c.App.Writer, cmp.Verdict.Summary)
			fmt.Fprintf(c.App.ErrWriter, "wrote %s", out)
			for _, p := range plots {
				fmt.Fprintf(c.App.ErrWriter, ", %s", p)
			}
			fmt.Fprintln(c.App.ErrWriter)
			return nil
		},
	}
}
