package evaluate

import (
	"fmt"
	"io"
	"strings"

	"github.com/t2f/t2f/internal/provenance"
)

// WriteMarkdown writes a report: the setup, each method's table(s) with
// its plots, the feature-norm table and the notes. Plot links assume the
// file sits beside the PNGs (as WriteOutputs puts it).
func WriteMarkdown(w io.Writer, res *Result) error {
	var b strings.Builder
	cfg := res.Config
	fmt.Fprintf(&b, "# OOD evaluation: %s\n\n", cfg.ID)
	fmt.Fprintf(&b, "- near-OOD: %s\n- far-OOD: %s\n", orNone(cfg.Near), orNone(cfg.Far))
	if len(cfg.CSID) > 0 {
		fmt.Fprintf(&b, "- covariate-shifted ID (full-spectrum tables): %s\n", strings.Join(cfg.CSID, ", "))
	}
	if cfg.OODVal != "" {
		fmt.Fprintf(&b, "- hyper-parameter search on ID val ∪ %s\n", cfg.OODVal)
	} else {
		b.WriteString("- no hyper-parameter search (OpenOOD defaults)\n")
	}
	fmt.Fprintf(&b, "- runs (%d):", len(res.Runs))
	for _, r := range res.Runs {
		fmt.Fprintf(&b, " `%s` (%s, %s head, τ=%g, trained with %s, checkpoint %s)", r.Name, r.Model, r.Head, r.Tau,
			MethodLabel(r.TrainingMethod()), short(r.CheckpointSHA256))
	}
	if len(res.Runs) > 0 {
		m := res.Runs[0].TrainingMethod()
		fmt.Fprintf(&b, "\n- scoring view: OpenOOD reports %s models by `%s`", MethodLabel(m), ScoringView(m))
		switch m {
		case TrainLogitNorm:
			b.WriteString(" on the plain logits W·f + b (LogitNorm normalises the logits in its training loss only)")
		case TrainT2FNorm, TrainT2FNormOE:
			b.WriteString(" (the OOD forward W·f/τ + b); `msp` here scores the training forward W·(f/‖f‖)/τ + b")
		}
	}
	b.WriteString("\n\nValues ×100")
	if len(res.Runs) > 1 {
		b.WriteString(", mean ± population std over runs")
	}
	b.WriteString(". FPR@95: OOD positive (OpenOOD v1.5); FPR@95_IDpos: ID positive (classic). ")
	b.WriteString("AUPRs are trapezoidal areas; ACC is the plain-forward ID accuracy, ECE its expected calibration error (15 bins).\n")
	for _, m := range res.Methods {
		fmt.Fprintf(&b, "\n## %s\n\n", m.Method)
		if m.Err != nil {
			fmt.Fprintf(&b, "**Failed:** %v\n", m.Err)
			continue
		}
		if note := settingNote(m); note != "" {
			fmt.Fprintf(&b, "Hyper-parameters: %s\n\n", strings.Trim(note, " []"))
		}
		mdTable(&b, m.Rows)
		if m.FSOOD != nil {
			b.WriteString("\nFull-spectrum (ID = ID test ∪ CSID):\n\n")
			mdTable(&b, m.FSOOD)
		}
		name := fileSafe(m.Method)
		fmt.Fprintf(&b, "\n![ROC of %s](roc_%s.png)\n![scores of %s](scores_%s.png)\n", m.Method, name, m.Method, name)
	}
	b.WriteString("\n## Feature norms ‖f‖\n\n")
	b.WriteString("| run | dataset | split | role | count | mean | std | q05 | median | q95 | ratio to ID |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range res.Norms {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %.4g | %.4g | %.4g | %.4g | %.4g | %.3f |\n",
			n.Run+1, n.Dataset, n.Split, n.Role, n.Count, n.Mean, n.Std, n.Q05, n.Q50, n.Q95, n.RatioToID)
	}
	seen := map[string]bool{}
	for _, s := range res.NormSamples {
		if s.Run == 0 && (s.Role == RoleNear || s.Role == RoleFar || s.Role == RoleCSID) && !seen[s.Dataset] {
			seen[s.Dataset] = true
			fmt.Fprintf(&b, "\n![norms of %s](norm_%s.png)", s.Dataset, fileSafe(s.Dataset))
		}
	}
	b.WriteString("\n")
	if len(res.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", madeBy(cfg.Code))
	_, err := io.WriteString(w, b.String())
	return err
}

func mdTable(b *strings.Builder, rows []Row) {
	b.WriteString("| " + strings.Join(csvHeader, " | ") + " |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		name := r.Dataset
		if r.Kind == KindNearOOD || r.Kind == KindFarOOD {
			name = "**" + name + "**"
		}
		b.WriteString("| " + name + " | " + strings.Join(r.cells(2), " | ") + " |\n")
	}
}

// madeBy is the line that names the code behind a table ("Made by t2f
// COMMIT."); docs/ copies it with the tables, and a test checks the commit
// is in the repository's history.
func madeBy(code string) string {
	if code == "" {
		code = provenance.Unknown
	}
	return "Made by t2f " + code + "."
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
