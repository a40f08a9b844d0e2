package evaluate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/t2f/t2f/internal/provenance"
)

// MethodResults is one training method's `t2f score` results, for
// CompareMethods.
type MethodResults struct {
	Method  string // training method (TrainT2FNorm, TrainLogitNorm, ...)
	Results *Results
}

// MethodComparison compares one training method, scored with its headline
// scorer (ScoringView), with MSP on the cross-entropy baseline.
type MethodComparison struct {
	Method, Label string // training method and its table name (MethodLabel)
	Scorer        string // its headline post-hoc scorer
	Results       *Results
	Accuracy      Delta      // ID test accuracy, percent (T2F = this method)
	Headline      []RowDelta // every OOD set and nearood / farood
	Verdict       Verdict
}

// MethodsComparison is an N-way comparison: each training method against
// the same cross-entropy baseline, with the significance rule of Compare.
type MethodsComparison struct {
	ID             string
	Near, Far      []string
	Baseline       *Results
	BaselineMethod string // msp
	Methods        []MethodComparison
	// CodeNote is "" when one clean commit of t2f scored every result;
	// otherwise it says which builds did.
	CodeNote string
}

// CompareMethods compares each training method's results with the
// cross-entropy baseline's: the method's headline scorer (ScoringView: msp
// for ce, logitnorm and oe, t2fnorm for t2fnorm and t2fnorm+oe) against MSP
// on the baseline, per OOD set and group, with ID accuracy and a verdict per
// method. Every result needs the baseline's ID, near and far sets; each run
// must have been trained with the method it is given as.
func CompareMethods(base *Results, methods []MethodResults) (*MethodsComparison, error) {
	if len(methods) == 0 {
		return nil, fmt.Errorf("evaluate: compare: no training method to compare with the baseline %s", base.Path)
	}
	for _, r := range base.Runs {
		if m := r.TrainingMethod(); m != TrainCE {
			return nil, fmt.Errorf("evaluate: compare: baseline %s: run %s was trained with %s, want ce (cross-entropy)", base.Path, r.Name, m)
		}
	}
	n := &MethodsComparison{ID: base.ID, Near: base.Near, Far: base.Far, Baseline: base, BaselineMethod: ScoringView(TrainCE)}
	bm := base.method(n.BaselineMethod)
	if bm == nil {
		return nil, fmt.Errorf("evaluate: compare: %s has no successful %s results; score the baseline with --methods including msp", base.Path, n.BaselineMethod)
	}
	for _, m := range methods {
		o := m.Results
		if o.ID != base.ID || !slices.Equal(o.Near, base.Near) || !slices.Equal(o.Far, base.Far) {
			return nil, fmt.Errorf("evaluate: compare: %s scores ID %s near %v far %v, %s (%s) scores ID %s near %v far %v; all need the same sets",
				base.Path, base.ID, base.Near, base.Far, o.Path, m.Method, o.ID, o.Near, o.Far)
		}
		for _, r := range o.Runs {
			if got := r.TrainingMethod(); got != m.Method {
				return nil, fmt.Errorf("evaluate: compare: %s: run %s was trained with %s, given as %s", o.Path, r.Name, got, m.Method)
			}
		}
		mc := MethodComparison{Method: m.Method, Label: MethodLabel(m.Method), Scorer: ScoringView(m.Method), Results: o}
		om := o.method(mc.Scorer)
		if om == nil {
			return nil, fmt.Errorf("evaluate: compare: %s (%s) has no successful %s results; score it with --methods including %s", o.Path, m.Method, mc.Scorer, mc.Scorer)
		}
		mc.Headline = rowDeltas(bm, om)
		if len(bm.Rows) > 0 && len(om.Rows) > 0 {
			mc.Accuracy = compare(perRun(bm.Rows[0], func(v ResultsValues) float64 { return v.ACC }),
				perRun(om.Rows[0], func(v ResultsValues) float64 { return v.ACC }), MinEffectACC, true)
		}
		mc.Verdict = methodVerdict(n, &mc)
		n.Methods = append(n.Methods, mc)
	}
	all := []*Results{base}
	for _, m := range n.Methods {
		all = append(all, m.Results)
	}
	n.CodeNote = codeNoteAll(all)
	return n, nil
}

// codeNoteAll is codeNote for several results: "" when one clean commit
// scored them all.
func codeNoteAll(rs []*Results) string {
	if len(rs) == 2 {
		return codeNote(rs[0], rs[1])
	}
	same, equal := true, true
	paths := make([]string, len(rs))
	for i, r := range rs {
		paths[i] = r.Path
		same = same && provenance.Same(rs[0].Code, r.Code)
		equal = equal && r.Code == rs[0].Code
	}
	switch {
	case same:
		return ""
	case equal:
		return fmt.Sprintf("%s were all scored by %s, whose exact code cannot be told (no commit, or uncommitted changes)", strings.Join(paths, ", "), buildName(rs[0]))
	}
	by := make([]string, len(rs))
	for i, r := range rs {
		by[i] = r.Path + " by " + buildName(r)
	}
	return "different code scored the results: " + strings.Join(by, ", ")
}

// methodVerdict answers "did this training method beat the baseline?" from
// its headline near/far AUROC (FPR@95 as evidence, and whether a scorer
// saturates) and the ID accuracy, by the rule of the CE-vs-T2FNorm verdict.
func methodVerdict(n *MethodsComparison, m *MethodComparison) Verdict {
	v := Verdict{Accuracy: m.Accuracy.Outcome}
	better, worse := headlineEvidence(&v, m.Headline)
	saturationEvidence(&v, "the baseline", n.Baseline, n.BaselineMethod)
	saturationEvidence(&v, m.Label, m.Results, m.Scorer)
	v.Evidence = append(v.Evidence, fmt.Sprintf("ID accuracy %s — %s", pct(m.Accuracy), accWord(m.Accuracy.Outcome)))
	v.Answer = answer(better, worse)
	runs := fmt.Sprintf("%d baseline and %d %s run(s); %s on the baseline vs %s on %s", len(n.Baseline.Runs), len(m.Results.Runs), m.Label, n.BaselineMethod, m.Scorer, m.Label)
	acc := accWord(v.Accuracy)
	switch v.Answer {
	case "yes":
		v.Summary = fmt.Sprintf("Yes: %s improved OOD detection on %s over the baseline (%s; %s), ID accuracy %s.", m.Label, n.ID, strings.Join(better, ", "), runs, acc)
	case "partly":
		v.Summary = fmt.Sprintf("Partly: %s improved %s on %s over the baseline; the other OOD group changed by less than the threshold (%s), ID accuracy %s.", m.Label, strings.Join(better, ", "), n.ID, runs, acc)
	case "mixed":
		v.Summary = fmt.Sprintf("Mixed: on %s %s improved %s but worsened %s against the baseline (%s), ID accuracy %s.", n.ID, m.Label, strings.Join(better, ", "), strings.Join(worse, ", "), runs, acc)
	default:
		if len(worse) > 0 {
			v.Summary = fmt.Sprintf("No: on %s %s made OOD detection worse than the baseline (%s; %s), ID accuracy %s.", n.ID, m.Label, strings.Join(worse, ", "), runs, acc)
		} else {
			v.Summary = fmt.Sprintf("No: on %s %s changed near- and far-OOD AUROC by less than the threshold against the baseline (%s), ID accuracy %s.", n.ID, m.Label, runs, acc)
		}
	}
	return v
}

// WriteMethodsComparison writes the N-way comparison as Markdown: all
// methods side by side (near/far AUROC and FPR@95, ID accuracy), then one
// section per method against the baseline with its verdict and table.
// Its sections are level-2 headings; standalone starts it with a title and
// the provenance lines (a report of its own), otherwise it follows the
// CE-vs-T2FNorm report of WriteComparison, which has them.
func WriteMethodsComparison(w io.Writer, n *MethodsComparison, standalone bool) error {
	var b strings.Builder
	multi := len(n.Baseline.Runs) > 1
	for _, m := range n.Methods {
		multi = multi || len(m.Results.Runs) > 1
	}
	cell := func(s Stat) string { return statCell(s, multi) }
	if standalone {
		fmt.Fprintf(&b, "# Training methods vs the cross-entropy baseline on %s\n\n", n.ID)
		fmt.Fprintf(&b, "- near-OOD: %s\n- far-OOD: %s\n", orNone(n.Near), orNone(n.Far))
		fmt.Fprintf(&b, "- baseline CE (`%s`): %d run(s)\n", n.Baseline.Path, len(n.Baseline.Runs))
		for _, m := range n.Methods {
			fmt.Fprintf(&b, "- %s (`%s`): %d run(s)\n", m.Label, m.Results.Path, len(m.Results.Runs))
		}
	}
	heading := fmt.Sprintf("\n## All training methods side by side on %s\n", n.ID)
	if !standalone {
		b.WriteString(heading)
	}
	// Provenance: the two-way report before a non-standalone one says who
	// made the baseline and T2FNorm; the other methods' builds are named
	// here when they differ.
	codes := []string{n.Baseline.Code}
	for _, m := range n.Methods {
		if !slices.Contains(codes, m.Results.Code) {
			codes = append(codes, m.Results.Code)
		}
	}
	if len(codes) == 1 && standalone {
		fmt.Fprintf(&b, "\n%s\n", madeBy(codes[0]))
	} else if len(codes) > 1 {
		fmt.Fprintf(&b, "\nMade by t2f %s (baseline)", orUnknown(n.Baseline.Code))
		for _, m := range n.Methods {
			fmt.Fprintf(&b, ", t2f %s (%s)", orUnknown(m.Results.Code), m.Label)
		}
		b.WriteString(".\n")
	}
	// After the two-way report, which warns about its own two results, only
	// another method's build is news.
	if n.CodeNote != "" && (standalone || len(codes) > 1) {
		fmt.Fprintf(&b, "\n**Warning:** %s.\n", n.CodeNote)
	}
	if standalone {
		b.WriteString(heading)
	}
	if multi {
		b.WriteString("\nValues ×100, mean ± population std over seeds.")
	} else {
		b.WriteString("\nValues ×100, one seed per model.")
	}
	fmt.Fprintf(&b, " Each training method is scored with OpenOOD's headline scorer for it (msp for CE, LogitNorm and OE; t2fnorm for T2FNorm and T2FNorm+OE) against %s on the CE baseline; Δ = method − baseline, ✓/✗ mark a difference larger than the threshold (%.1f points AUROC, %.1f FPR@95, %.1f accuracy, or twice the standard error of the difference when there are several seeds). FPR@95 is OpenOOD v1.5's (OOD positive); lower is better.\n",
		n.BaselineMethod, MinEffectAUROC, MinEffectFPR, MinEffectACC)

	b.WriteString("\n")
	b.WriteString("| training method | scorer | runs | near AUROC | far AUROC | near FPR@95 | far FPR@95 | ID accuracy | verdict vs CE |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	stats := func(rows []RowDelta, kind string, base bool) (auroc, fpr Stat) {
		r := rowOf(rows, kind)
		if r == nil {
			return Stat{Mean: math.NaN()}, Stat{Mean: math.NaN()}
		}
		if base {
			return r.AUROC.Base, r.FPR95.Base
		}
		return r.AUROC.T2F, r.FPR95.T2F
	}
	row := func(label, scorer string, runs int, rows []RowDelta, acc Stat, base bool, verdict string) {
		na, nf := stats(rows, KindNearOOD, base)
		fa, ff := stats(rows, KindFarOOD, base)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", label, scorer, runs, cell(na), cell(fa), cell(nf), cell(ff), cell(acc), verdict)
	}
	first := n.Methods[0]
	row(MethodLabel(TrainCE)+" (baseline)", n.BaselineMethod, len(n.Baseline.Runs), first.Headline, first.Accuracy.Base, true, "–")
	for _, m := range n.Methods {
		row(m.Label, m.Scorer, len(m.Results.Runs), m.Headline, m.Accuracy.T2F, false, m.Verdict.Answer)
	}

	for _, m := range n.Methods {
		fmt.Fprintf(&b, "\n## %s vs the CE baseline: did %s help?\n\n**%s**\n\n", m.Label, m.Label, m.Verdict.Summary)
		for _, e := range m.Verdict.Evidence {
			fmt.Fprintf(&b, "- %s\n", e)
		}
		b.WriteString("\n")
		writeHeadlineTable(&b, m.Label, m.Accuracy, m.Headline, cell)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
