package evaluate

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/t2f/t2f/internal/provenance"
)

// ComparisonLinks are folders, relative to the Markdown file, that the
// report links plots from; an empty folder leaves its plots out.
type ComparisonLinks struct {
	Plots    string // where WriteComparisonPlots wrote NormRatioPlot
	Baseline string // the baseline's `t2f score --out` folder (norm_<set>.png, roc_msp.png, ...)
	T2FNorm  string // the T2FNorm model's
}

// statCell is a table cell of a value over runs: "mean ± std" when any
// side has several runs, the mean alone otherwise, "–" when missing.
func statCell(s Stat, multi bool) string {
	if math.IsNaN(s.Mean) {
		return "–"
	}
	if multi {
		return fmt.Sprintf("%.2f ± %.2f", s.Mean, s.Std)
	}
	return fmt.Sprintf("%.2f", s.Mean)
}

// deltaCell is a difference cell, marked ✓/✗ when it passes the
// significance rule either way.
func deltaCell(d Delta) string {
	mark := ""
	switch d.Outcome {
	case Better:
		mark = " ✓"
	case Worse:
		mark = " ✗"
	}
	return fmt.Sprintf("%+.2f%s", d.Diff, mark)
}

// writeHeadlineTable writes the baseline-vs-method table: ID accuracy, then
// every OOD set and the near/far means (in bold), each metric on both
// models with the difference and its mark.
func writeHeadlineTable(b *strings.Builder, label string, acc Delta, rows []RowDelta, cell func(Stat) string) {
	fmt.Fprintf(b, "| dataset | FPR@95 base | FPR@95 %[1]s | Δ | AUROC base | AUROC %[1]s | Δ | AUPR_IN base | AUPR_IN %[1]s | AUPR_OUT base | AUPR_OUT %[1]s |\n", label)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| ID accuracy | | | | %s | %s | %s | | | | |\n", cell(acc.Base), cell(acc.T2F), deltaCell(acc))
	for _, r := range rows {
		name := r.Dataset
		if r.Kind == KindNearOOD || r.Kind == KindFarOOD {
			name = "**" + name + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			cell(r.FPR95.Base), cell(r.FPR95.T2F), deltaCell(r.FPR95), cell(r.AUROC.Base), cell(r.AUROC.T2F), deltaCell(r.AUROC),
			cell(r.AUPRIn.Base), cell(r.AUPRIn.T2F), cell(r.AUPROut.Base), cell(r.AUPROut.T2F))
	}
}

// WriteComparison writes the comparison as Markdown: the answer, the
// headline table, every OOD set, the other methods and the feature norms,
// with the plots of links.
func WriteComparison(w io.Writer, c *Comparison, links ComparisonLinks) error {
	var b strings.Builder
	multi := len(c.Baseline.Runs) > 1 || len(c.T2FNorm.Runs) > 1
	cell := func(s Stat) string { return statCell(s, multi) }
	fmt.Fprintf(&b, "# Cross-entropy baseline vs T2FNorm on %s\n\n", c.ID)
	fmt.Fprintf(&b, "- near-OOD: %s\n- far-OOD: %s\n", orNone(c.Near), orNone(c.Far))
	for _, m := range []struct {
		name string
		r    *Results
	}{{"baseline", c.Baseline}, {"T2FNorm", c.T2FNorm}} {
		fmt.Fprintf(&b, "- %s (`%s`): %d run(s):", m.name, m.r.Path, len(m.r.Runs))
		for _, r := range m.r.Runs {
			fmt.Fprintf(&b, " %s (%s, τ=%g)", r.Name, r.Model, r.Tau)
		}
		b.WriteString("\n")
	}
	if multi {
		b.WriteString("\nValues ×100, mean ± population std over seeds.")
	} else {
		b.WriteString("\nValues ×100, one seed per model.")
	}
	fmt.Fprintf(&b, " Δ = T2FNorm − baseline; ✓/✗ mark a difference larger than the threshold (%.1f points AUROC/AUPR, %.1f FPR@95, %.1f accuracy, or twice the standard error of the difference when there are several seeds). FPR@95 is OpenOOD v1.5's (OOD positive); lower is better.\n",
		MinEffectAUROC, MinEffectFPR, MinEffectACC)

	if c.Baseline.Code == c.T2FNorm.Code {
		fmt.Fprintf(&b, "\n%s\n", madeBy(c.Baseline.Code))
	} else {
		fmt.Fprintf(&b, "\nMade by t2f %s (baseline) and t2f %s (T2FNorm).\n", orUnknown(c.Baseline.Code), orUnknown(c.T2FNorm.Code))
	}
	if c.CodeNote != "" {
		fmt.Fprintf(&b, "\n**Warning:** %s.\n", c.CodeNote)
	}

	fmt.Fprintf(&b, "\n## Did T2FNorm help?\n\n**%s**\n\n", c.Verdict.Summary)
	for _, e := range c.Verdict.Evidence {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	for _, m := range []struct {
		name string
		r    *Results
	}{{"the baseline", c.Baseline}, {"T2FNorm", c.T2FNorm}} {
		for _, f := range m.r.Methods {
			if f.Error != "" {
				fmt.Fprintf(&b, "- %s failed on %s and is left out: %s\n", f.Method, m.name, f.Error)
			}
		}
	}

	fmt.Fprintf(&b, "\n## %s on the baseline vs %s on T2FNorm\n\n", c.BaselineMethod, c.T2FNormMethod)
	writeHeadlineTable(&b, "T2FNorm", c.Accuracy, c.Headline, cell)

	if len(c.Methods) > 0 {
		b.WriteString("\n## Every post-hoc method on both models (near / far means)\n\n")
		b.WriteString("On T2FNorm every method except msp scores the OOD forward (feature f/τ, logits W·f/τ + b); msp on T2FNorm is MSP of the normalised training forward.\n\n")
		b.WriteString("| method | near AUROC base | near AUROC T2FNorm | Δ | near FPR@95 base | near FPR@95 T2FNorm | far AUROC base | far AUROC T2FNorm | Δ | far FPR@95 base | far FPR@95 T2FNorm |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range c.Methods {
			fmt.Fprintf(&b, "| %s", m.Method)
			for _, kind := range []string{KindNearOOD, KindFarOOD} {
				r := rowOf(m.Rows, kind)
				if r == nil {
					b.WriteString(" | – | – | – | – | –")
					continue
				}
				fmt.Fprintf(&b, " | %s | %s | %s | %s | %s", cell(r.AUROC.Base), cell(r.AUROC.T2F), deltaCell(r.AUROC), cell(r.FPR95.Base), cell(r.FPR95.T2F))
			}
			b.WriteString(" |\n")
		}
	}

	if len(c.Norms) > 0 {
		b.WriteString("\n## Feature norms ‖f‖ (penultimate feature, before any normalisation)\n\n")
		b.WriteString("T2FNorm's claims: norms shrink for every sample, and more for OOD — a lower OOD/ID ratio than the baseline's.\n\n")
		b.WriteString("| dataset | split | role | mean ‖f‖ base | mean ‖f‖ T2FNorm | ratio to ID base | ratio to ID T2FNorm |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---:|\n")
		ncell := func(s Stat) string {
			if multi {
				return fmt.Sprintf("%.3g ± %.2g", s.Mean, s.Std)
			}
			return fmt.Sprintf("%.3g", s.Mean)
		}
		rcell := func(s Stat) string {
			if multi {
				return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std)
			}
			return fmt.Sprintf("%.3f", s.Mean)
		}
		for _, n := range c.Norms {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", n.Dataset, n.Split, n.Role,
				ncell(n.Mean.Base), ncell(n.Mean.T2F), rcell(n.Ratio.Base), rcell(n.Ratio.T2F))
		}
		if links.Plots != "" {
			fmt.Fprintf(&b, "\n![OOD/ID norm ratio, both models](%s)\n", joinRel(links.Plots, NormRatioPlot))
		}
		if links.Baseline != "" && links.T2FNorm != "" {
			b.WriteString("\nNorm histograms (ID test vs each OOD set, first seed), baseline left, T2FNorm right:\n\n")
			for _, n := range c.Norms {
				if n.Role == RoleNear || n.Role == RoleFar {
					f := "norm_" + fileSafe(n.Dataset) + ".png"
					fmt.Fprintf(&b, "![%s, baseline](%s) ![%s, T2FNorm](%s)\n", n.Dataset, joinRel(links.Baseline, f), n.Dataset, joinRel(links.T2FNorm, f))
				}
			}
		}
	}
	if links.Baseline != "" && links.T2FNorm != "" {
		fmt.Fprintf(&b, "\nROC curves: ![%s on the baseline](%s) ![%s on T2FNorm](%s)\n\nEvery method's OpenOOD tables, ROC curves and score histograms: [`%s/report.md`](%s) and [`%s/report.md`](%s).\n",
			c.BaselineMethod, joinRel(links.Baseline, "roc_"+fileSafe(c.BaselineMethod)+".png"),
			c.T2FNormMethod, joinRel(links.T2FNorm, "roc_"+fileSafe(c.T2FNormMethod)+".png"),
			links.Baseline, joinRel(links.Baseline, ReportFileName), links.T2FNorm, joinRel(links.T2FNorm, ReportFileName))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

func orUnknown(code string) string {
	if code == "" {
		return provenance.Unknown
	}
	return code
}
