package evaluate

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/t2f/t2f/internal/provenance"
)

// Stat is a value over runs: the mean, the population std and the number of
// runs.
type Stat struct {
	Mean, Std float64
	N         int
}

func statOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{Mean: math.NaN(), Std: math.NaN()}
	}
	var s float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return Stat{Mean: m, Std: math.Sqrt(ss / float64(len(v))), N: len(v)}
}

// Outcome says how T2FNorm's value compares with the baseline's.
type Outcome int

const (
	Same   Outcome = iota // the difference is within the noise threshold
	Better                // T2FNorm is better by more than the threshold
	Worse                 // T2FNorm is worse by more than the threshold
)

func (o Outcome) String() string {
	switch o {
	case Better:
		return "better"
	case Worse:
		return "worse"
	}
	return "same"
}

// Delta compares one metric of the baseline with T2FNorm.
type Delta struct {
	Base, T2F Stat
	Diff      float64 // T2F.Mean − Base.Mean
	Threshold float64 // |Diff| must exceed this to count as better or worse
	Outcome   Outcome
}

// Minimum effects (percentage points) below which a difference counts as
// "same", whatever the seeds say. With several runs the threshold is also
// at least twice the standard error of the difference of the means.
const (
	MinEffectAUROC = 0.5
	MinEffectFPR   = 1.0
	MinEffectACC   = 0.3
)

// compare builds a Delta; higherBetter says which direction is better.
func compare(base, t2f []float64, minEffect float64, higherBetter bool) Delta {
	d := Delta{Base: statOf(base), T2F: statOf(t2f)}
	d.Diff = d.T2F.Mean - d.Base.Mean
	se := 0.0
	if d.Base.N > 1 || d.T2F.N > 1 {
		se = math.Sqrt(d.Base.Std*d.Base.Std/float64(d.Base.N) + d.T2F.Std*d.T2F.Std/float64(d.T2F.N))
	}
	d.Threshold = math.Max(minEffect, 2*se)
	switch {
	case math.IsNaN(d.Diff) || math.Abs(d.Diff) <= d.Threshold:
		d.Outcome = Same
	case (d.Diff > 0) == higherBetter:
		d.Outcome = Better
	default:
		d.Outcome = Worse
	}
	return d
}

// RowDelta compares one table row (an OOD set, or nearood / farood).
type RowDelta struct {
	Dataset, Kind                 string
	FPR95, AUROC, AUPRIn, AUPROut Delta
}

// MethodDelta compares one post-hoc method on both models.
type MethodDelta struct {
	Method string
	Rows   []RowDelta // the method's rows present in both results
}

// NormDelta compares the raw feature norm ‖f‖ of one dataset split.
type NormDelta struct {
	Dataset, Split, Role string
	Mean                 Delta // mean ‖f‖ (lower = "better": T2FNorm claims smaller norms)
	Ratio                Delta // mean ‖f‖ / mean ‖f‖ of ID test (lower = "better" for OOD sets)
}

// Verdict is the answer to "did T2FNorm help?", computed from the numbers.
type Verdict struct {
	Answer    string   // "yes", "partly", "mixed" or "no"
	Summary   string   // one plain sentence
	Evidence  []string // one line per claim checked
	Near, Far Outcome  // headline AUROC (MSP on the baseline vs the T2FNorm scorer)
	Accuracy  Outcome  // ID accuracy
}

// Comparison is a baseline-vs-T2FNorm comparison of two `t2f score` results
// on the same ID and OOD sets.
type Comparison struct {
	ID             string
	Near, Far      []string
	Baseline       *Results
	T2FNorm        *Results
	BaselineMethod string // the headline scorer on the baseline (msp)
	T2FNormMethod  string // the headline scorer on T2FNorm (t2fnorm)
	Accuracy       Delta  // ID test accuracy, percent
	Headline       []RowDelta
	Methods        []MethodDelta // every method scored on both models, in the baseline's order
	Norms          []NormDelta
	Verdict        Verdict
	// CodeNote is "" when one clean commit of t2f scored both results;
	// otherwise it says which builds did, since figures from different code
	// need not be comparable.
	CodeNote string
}

// Compare compares a cross-entropy baseline's results with a T2FNorm
// model's (both from `t2f score`, possibly over several seeds each): the
// headline is MSP on the baseline vs the T2FNorm scorer on T2FNorm (the
// paper's comparison); every other method present in both is compared
// method for method; feature norms per dataset split. Both must have the same
// ID, near and far sets; the baseline must have a linear head and msp, the
// T2FNorm model a t2fnorm head and t2fnorm.
func Compare(base, t2f *Results) (*Comparison, error) {
	switch {
	case base.ID != t2f.ID || !slices.Equal(base.Near, t2f.Near) || !slices.Equal(base.Far, t2f.Far):
		return nil, fmt.Errorf("evaluate: compare: %s scores ID %s near %v far %v, %s scores ID %s near %v far %v; both need the same sets",
			base.Path, base.ID, base.Near, base.Far, t2f.Path, t2f.ID, t2f.Near, t2f.Far)
	}
	for _, r := range base.Runs {
		if r.Head != "linear" {
			return nil, fmt.Errorf("evaluate: compare: baseline %s: run %s has a %s head, want linear (cross-entropy)", base.Path, r.Name, r.Head)
		}
	}
	for _, r := range t2f.Runs {
		if r.Head != "t2fnorm" {
			return nil, fmt.Errorf("evaluate: compare: %s: run %s has a %s head, want t2fnorm", t2f.Path, r.Name, r.Head)
		}
	}
	c := &Comparison{ID: base.ID, Near: base.Near, Far: base.Far, Baseline: base, T2FNorm: t2f, BaselineMethod: "msp", T2FNormMethod: "t2fnorm"}
	bm, tm := base.method(c.BaselineMethod), t2f.method(c.T2FNormMethod)
	if bm == nil {
		return nil, fmt.Errorf("evaluate: compare: %s has no successful %s results; score the baseline with --methods including msp", base.Path, c.BaselineMethod)
	}
	if tm == nil {
		return nil, fmt.Errorf("evaluate: compare: %s has no successful %s results; score the T2FNorm model with --methods including t2fnorm", t2f.Path, c.T2FNormMethod)
	}
	c.Headline = rowDeltas(bm, tm)
	if len(bm.Rows) > 0 && len(tm.Rows) > 0 {
		c.Accuracy = compare(perRun(bm.Rows[0], func(v ResultsValues) float64 { return v.ACC }),
			perRun(tm.Rows[0], func(v ResultsValues) float64 { return v.ACC }), MinEffectACC, true)
	}
	for _, m := range base.Methods {
		if m.Error != "" {
			continue
		}
		if o := t2f.method(m.Method); o != nil {
			c.Methods = append(c.Methods, MethodDelta{Method: m.Method, Rows: rowDeltas(&m, o)})
		}
	}
	c.Norms = normDeltas(base, t2f)
	c.Verdict = verdict(c)
	c.CodeNote = codeNote(base, t2f)
	return c, nil
}

// codeNote says when two results may come from different code.
func codeNote(a, b *Results) string {
	if provenance.Same(a.Code, b.Code) {
		return ""
	}
	name := func(r *Results) string {
		if r.Code == "" {
			return "an unstamped build"
		}
		return "t2f " + r.Code
	}
	if a.Code == b.Code {
		return fmt.Sprintf("%s and %s were both scored by %s, whose exact code cannot be told (no commit, or uncommitted changes)", a.Path, b.Path, name(a))
	}
	return fmt.Sprintf("%s was scored by %s, %s by %s: different code made them", a.Path, name(a), b.Path, name(b))
}

func perRun(r ResultsRow, f func(ResultsValues) float64) []float64 {
	runs := r.Runs
	if len(runs) == 0 {
		runs = []ResultsValues{r.Mean}
	}
	out := make([]float64, len(runs))
	for i, v := range runs {
		out[i] = f(v)
	}
	return out
}

func rowDeltas(b, t *ResultsMethod) []RowDelta {
	var out []RowDelta
	for _, br := range b.Rows {
		tr := t.row(br.Dataset)
		if tr == nil {
			continue
		}
		get := func(f func(ResultsValues) float64, min float64, higher bool) Delta {
			return compare(perRun(br, f), perRun(*tr, f), min, higher)
		}
		out = append(out, RowDelta{Dataset: br.Dataset, Kind: br.Kind,
			FPR95:   get(func(v ResultsValues) float64 { return v.FPR95 }, MinEffectFPR, false),
			AUROC:   get(func(v ResultsValues) float64 { return v.AUROC }, MinEffectAUROC, true),
			AUPRIn:  get(func(v ResultsValues) float64 { return v.AUPRIn }, MinEffectAUROC, true),
			AUPROut: get(func(v ResultsValues) float64 { return v.AUPROut }, MinEffectAUROC, true),
		})
	}
	return out
}

// normDeltas pairs the norm statistics of every dataset split present in
// both results (the ID test split first, then the OOD sets in table order,
// then the rest).
func normDeltas(b, t *Results) []NormDelta {
	type key struct{ dataset, split, role string }
	collect := func(r *Results) (map[key][2][]float64, []key) {
		m := map[key][2][]float64{}
		var order []key
		for _, n := range r.Norms {
			k := key{n.Dataset, n.Split, n.Role}
			v, ok := m[k]
			if !ok {
				order = append(order, k)
			}
			v[0] = append(v[0], n.Mean)
			v[1] = append(v[1], n.RatioToID)
			m[k] = v
		}
		return m, order
	}
	bm, order := collect(b)
	tm, _ := collect(t)
	rank := map[string]int{RoleID: 0, RoleNear: 1, RoleFar: 2, RoleCSID: 3, RoleIDVal: 4, RoleOODVal: 5, RoleIDTrain: 6}
	slices.SortStableFunc(order, func(x, y key) int { return rank[x.role] - rank[y.role] })
	var out []NormDelta
	for _, k := range order {
		tv, ok := tm[k]
		if !ok {
			continue
		}
		bv := bm[k]
		out = append(out, NormDelta{Dataset: k.dataset, Split: k.split, Role: k.role,
			Mean:  compare(bv[0], tv[0], 0, false),
			Ratio: compare(bv[1], tv[1], 0.01, false)})
	}
	return out
}

func rowOf(rows []RowDelta, dataset string) *RowDelta {
	for i := range rows {
		if rows[i].Dataset == dataset {
			return &rows[i]
		}
	}
	return nil
}

func pct(d Delta) string {
	return fmt.Sprintf("%.2f → %.2f (%+.2f)", d.Base.Mean, d.T2F.Mean, d.Diff)
}

// verdict answers "did T2FNorm help?" from the headline near/far AUROC and
// FPR@95, the ID accuracy, the other methods and the norms.
func verdict(c *Comparison) Verdict {
	v := Verdict{}
	near, far := rowOf(c.Headline, KindNearOOD), rowOf(c.Headline, KindFarOOD)
	v.Accuracy = c.Accuracy.Outcome
	var better, worse []string
	for _, g := range []struct {
		name string
		row  *RowDelta
		out  *Outcome
	}{{"near-OOD", near, &v.Near}, {"far-OOD", far, &v.Far}} {
		if g.row == nil {
			continue
		}
		*g.out = g.row.AUROC.Outcome
		line := fmt.Sprintf("%s AUROC %s — %s; FPR@95 %s — %s", g.name, pct(g.row.AUROC), g.row.AUROC.Outcome, pct(g.row.FPR95), g.row.FPR95.Outcome)
		v.Evidence = append(v.Evidence, line)
		switch g.row.AUROC.Outcome {
		case Better:
			better = append(better, fmt.Sprintf("%s AUROC %+.2f", g.name, g.row.AUROC.Diff))
		case Worse:
			worse = append(worse, fmt.Sprintf("%s AUROC %+.2f", g.name, g.row.AUROC.Diff))
		}
	}
	for _, m := range []struct {
		model string
		r     *Results
		name  string
	}{{"the baseline", c.Baseline, c.BaselineMethod}, {"T2FNorm", c.T2FNorm, c.T2FNormMethod}} {
		if t := m.r.method(m.name).TopTie; t != nil && t.Saturated() {
			v.Evidence = append(v.Evidence, fmt.Sprintf("%s on %s saturates: %.1f%% of ID test and %.1f%% of OOD test samples score exactly its top value %.9g and tie (%.1f%% of ID–OOD pairs), so its FPR@95 and up to half that share of its AUROC reflect arbitrary order (mls or ebo rank the same model without the tie)",
				m.name, m.model, t.IDPct, t.OODPct, t.Value, 100*t.TiedPairs()))
		}
	}
	v.Evidence = append(v.Evidence, fmt.Sprintf("ID accuracy %s — %s", pct(c.Accuracy), accWord(c.Accuracy.Outcome)))
	// Other post-hoc methods (the paper claims T2FNorm improves them too).
	var up, down, n int
	for _, m := range c.Methods {
		if m.Method == c.BaselineMethod || m.Method == c.T2FNormMethod {
			continue
		}
		for _, kind := range []string{KindNearOOD, KindFarOOD} {
			r := rowOf(m.Rows, kind)
			if r == nil {
				continue
			}
			n++
			switch r.AUROC.Outcome {
			case Better:
				up++
			case Worse:
				down++
			}
		}
	}
	if n > 0 {
		v.Evidence = append(v.Evidence, fmt.Sprintf("other post-hoc methods on T2FNorm vs the same method on the baseline: %d of %d near/far AUROC cells better, %d worse, %d within the threshold", up, n, down, n-up-down))
	}
	// Norms: smaller overall, and OOD shrinking more (a lower OOD/ID ratio).
	var idNorm *NormDelta
	var ratioDown, ratioN int
	for i := range c.Norms {
		nd := &c.Norms[i]
		switch nd.Role {
		case RoleID:
			idNorm = nd
		case RoleNear, RoleFar:
			ratioN++
			if nd.Ratio.Diff < 0 {
				ratioDown++
			}
		}
	}
	if idNorm != nil {
		v.Evidence = append(v.Evidence, fmt.Sprintf("mean ‖f‖ of ID test: %.3g (baseline) vs %.3g (T2FNorm); OOD/ID norm ratio lower with T2FNorm for %d of %d OOD sets", idNorm.Mean.Base.Mean, idNorm.Mean.T2F.Mean, ratioDown, ratioN))
	}
	switch {
	case len(better) > 0 && len(worse) == 0 && len(better) == 2:
		v.Answer = "yes"
	case len(better) > 0 && len(worse) == 0:
		v.Answer = "partly"
	case len(better) > 0:
		v.Answer = "mixed"
	default:
		v.Answer = "no"
	}
	runs := fmt.Sprintf("%d baseline and %d T2FNorm run(s)", len(c.Baseline.Runs), len(c.T2FNorm.Runs))
	switch v.Answer {
	case "yes":
		v.Summary = fmt.Sprintf("Yes: T2FNorm improved OOD detection on %s (%s; MSP on the baseline vs the T2FNorm scorer, %s), ID accuracy %s.", c.ID, strings.Join(better, ", "), runs, accWord(v.Accuracy))
	case "partly":
		v.Summary = fmt.Sprintf("Partly: T2FNorm improved %s on %s; the other OOD group changed by less than the threshold (%s), ID accuracy %s.", strings.Join(better, ", "), c.ID, runs, accWord(v.Accuracy))
	case "mixed":
		v.Summary = fmt.Sprintf("Mixed: on %s T2FNorm improved %s but worsened %s (%s), ID accuracy %s.", c.ID, strings.Join(better, ", "), strings.Join(worse, ", "), runs, accWord(v.Accuracy))
	default:
		if len(worse) > 0 {
			v.Summary = fmt.Sprintf("No: on %s T2FNorm made OOD detection worse (%s; %s), ID accuracy %s.", c.ID, strings.Join(worse, ", "), runs, accWord(v.Accuracy))
		} else {
			v.Summary = fmt.Sprintf("No: on %s T2FNorm changed near- and far-OOD AUROC by less than the threshold (%s), ID accuracy %s.", c.ID, runs, accWord(v.Accuracy))
		}
	}
	return v
}

func accWord(o Outcome) string {
	switch o {
	case Better:
		return "higher"
	case Worse:
		return "lower"
	}
	return "unchanged within the threshold"
}

// ComparisonLinks are folders, relative to the Markdown file, that the
// report links plots from; an empty folder leaves its plots out.
type ComparisonLinks struct {
	Plots    string // where WriteComparisonPlots wrote NormRatioPlot
	Baseline string // the baseline's `t2f score --out` folder (norm_<set>.png, roc_msp.png, ...)
	T2FNorm  string // the T2FNorm model's
}

// WriteComparison writes the comparison as Markdown: the answer, the
// headline table, every OOD set, the other methods and the feature norms,
// with the plots of links.
func WriteComparison(w io.Writer, c *Comparison, links ComparisonLinks) error {
	var b strings.Builder
	multi := len(c.Baseline.Runs) > 1 || len(c.T2FNorm.Runs) > 1
	cell := func(s Stat) string {
		if math.IsNaN(s.Mean) {
			return "–"
		}
		if multi {
			return fmt.Sprintf("%.2f ± %.2f", s.Mean, s.Std)
		}
		return fmt.Sprintf("%.2f", s.Mean)
	}
	dcell := func(d Delta) string {
		mark := ""
		switch d.Outcome {
		case Better:
			mark = " ✓"
		case Worse:
			mark = " ✗"
		}
		return fmt.Sprintf("%+.2f%s", d.Diff, mark)
	}
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
	b.WriteString("| dataset | FPR@95 base | FPR@95 T2FNorm | Δ | AUROC base | AUROC T2FNorm | Δ | AUPR_IN base | AUPR_IN T2FNorm | AUPR_OUT base | AUPR_OUT T2FNorm |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| ID accuracy | | | | %s | %s | %s | | | | |\n", cell(c.Accuracy.Base), cell(c.Accuracy.T2F), dcell(c.Accuracy))
	for _, r := range c.Headline {
		name := r.Dataset
		if r.Kind == KindNearOOD || r.Kind == KindFarOOD {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			cell(r.FPR95.Base), cell(r.FPR95.T2F), dcell(r.FPR95), cell(r.AUROC.Base), cell(r.AUROC.T2F), dcell(r.AUROC),
			cell(r.AUPRIn.Base), cell(r.AUPRIn.T2F), cell(r.AUPROut.Base), cell(r.AUPROut.T2F))
	}

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
				fmt.Fprintf(&b, " | %s | %s | %s | %s | %s", cell(r.AUROC.Base), cell(r.AUROC.T2F), dcell(r.AUROC), cell(r.FPR95.Base), cell(r.FPR95.T2F))
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

// NormRatioPlot is the file WriteComparisonPlots writes: grouped bars of the
// OOD/ID mean-norm ratio per OOD set, baseline vs T2FNorm.
const NormRatioPlot = "norm_ratio.png"

// WriteComparisonPlots writes NormRatioPlot into dir and returns its path
// (none when the results hold no OOD norms).
func WriteComparisonPlots(dir string, c *Comparison) ([]string, error) {
	var names []string
	var base, t2f plotter.Values
	for _, n := range c.Norms {
		if n.Role != RoleNear && n.Role != RoleFar {
			continue
		}
		names = append(names, n.Dataset)
		base = append(base, n.Ratio.Base.Mean)
		t2f = append(t2f, n.Ratio.T2F.Mean)
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("mean ‖f‖ of each OOD set / mean ‖f‖ of %s test", c.ID)
	p.Y.Label.Text = "OOD / ID mean feature norm"
	w := vg.Points(14)
	for i, s := range []struct {
		name string
		v    plotter.Values
	}{{"cross-entropy baseline", base}, {"T2FNorm", t2f}} {
		bars, err := plotter.NewBarChart(s.v, w)
		if err != nil {
			return nil, fmt.Errorf("evaluate: norm ratio plot: %w", err)
		}
		bars.Color = palette[i+1]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(2*i-1) * w / 2
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	one, _ := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(names)) - 0.5, Y: 1}})
	one.Color = color.Gray{Y: 120}
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	p.Legend.Top = true
	p.NominalX(names...)
	p.Y.Min = 0
	// Head room above the tallest bar (and the ratio-1 line) for the legend.
	top := 1.0
	for _, v := range append(slices.Clone(base), t2f...) {
		top = math.Max(top, v)
	}
	p.Y.Max = 1.3 * top
	path := filepath.Join(dir, NormRatioPlot)
	if err := savePNG(p, path); err != nil {
		return nil, err
	}
	return []string{path}, nil
}

func orUnknown(code string) string {
	if code == "" {
		return provenance.Unknown
	}
	return code
}
