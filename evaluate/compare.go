package evaluate

import (
	"fmt"
	"slices"

	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/internal/provenance"
)

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
		if r.Head != features.HeadLinear {
			return nil, fmt.Errorf("evaluate: compare: baseline %s: run %s has a %s head, want linear (cross-entropy)", base.Path, r.Name, r.Head)
		}
	}
	for _, r := range t2f.Runs {
		if r.Head != features.HeadT2FNorm {
			return nil, fmt.Errorf("evaluate: compare: %s: run %s has a %s head, want t2fnorm", t2f.Path, r.Name, r.Head)
		}
	}
	c := &Comparison{ID: base.ID, Near: base.Near, Far: base.Far, Baseline: base, T2FNorm: t2f, BaselineMethod: posthoc.MethodMSP, T2FNormMethod: posthoc.MethodT2FNorm}
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
	if a.Code == b.Code {
		return fmt.Sprintf("%s and %s were both scored by %s, whose exact code cannot be told (no commit, or uncommitted changes)", a.Path, b.Path, buildName(a))
	}
	return fmt.Sprintf("%s was scored by %s, %s by %s: different code made them", a.Path, buildName(a), b.Path, buildName(b))
}

// buildName names the build that scored r.
func buildName(r *Results) string {
	if r.Code == "" {
		return "an unstamped build"
	}
	return "t2f " + r.Code
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
