package evaluate

import (
	"fmt"
	"strings"
)

// Verdict is the answer to "did T2FNorm help?", computed from the numbers.
type Verdict struct {
	Answer    string   // "yes", "partly", "mixed" or "no"
	Summary   string   // one plain sentence
	Evidence  []string // one line per claim checked
	Near, Far Outcome  // headline AUROC (MSP on the baseline vs the T2FNorm scorer)
	Accuracy  Outcome  // ID accuracy
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
	v.Accuracy = c.Accuracy.Outcome
	better, worse := headlineEvidence(&v, c.Headline)
	for _, m := range []struct {
		model string
		r     *Results
		name  string
	}{{"the baseline", c.Baseline, c.BaselineMethod}, {"T2FNorm", c.T2FNorm, c.T2FNormMethod}} {
		saturationEvidence(&v, m.model, m.r, m.name)
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
	v.Answer = answer(better, worse)
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

// headlineEvidence sets v's Near and Far from the headline nearood and
// farood AUROC, adds their evidence lines (AUROC and FPR@95), and returns
// the groups whose AUROC is better and worse.
func headlineEvidence(v *Verdict, headline []RowDelta) (better, worse []string) {
	for _, g := range []struct {
		name string
		row  *RowDelta
		out  *Outcome
	}{{"near-OOD", rowOf(headline, KindNearOOD), &v.Near}, {"far-OOD", rowOf(headline, KindFarOOD), &v.Far}} {
		if g.row == nil {
			continue
		}
		*g.out = g.row.AUROC.Outcome
		v.Evidence = append(v.Evidence, fmt.Sprintf("%s AUROC %s — %s; FPR@95 %s — %s", g.name, pct(g.row.AUROC), g.row.AUROC.Outcome, pct(g.row.FPR95), g.row.FPR95.Outcome))
		switch g.row.AUROC.Outcome {
		case Better:
			better = append(better, fmt.Sprintf("%s AUROC %+.2f", g.name, g.row.AUROC.Diff))
		case Worse:
			worse = append(worse, fmt.Sprintf("%s AUROC %+.2f", g.name, g.row.AUROC.Diff))
		}
	}
	return better, worse
}

// saturationEvidence adds a line when scorer saturates on the model's
// results (see TopTie).
func saturationEvidence(v *Verdict, model string, r *Results, scorer string) {
	if t := r.method(scorer).TopTie; t != nil && t.Saturated() {
		v.Evidence = append(v.Evidence, fmt.Sprintf("%s on %s saturates: %.1f%% of ID test and %.1f%% of OOD test samples score exactly its top value %.9g and tie (%.1f%% of ID–OOD pairs), so its FPR@95 and up to half that share of its AUROC reflect arbitrary order (mls or ebo rank the same model without the tie)",
			scorer, model, t.IDPct, t.OODPct, t.Value, 100*t.TiedPairs()))
	}
}

// answer is the verdict from the better and worse OOD groups: yes when both
// are better and none worse, partly when one is, mixed when some are better
// and some worse, no otherwise.
func answer(better, worse []string) string {
	switch {
	case len(better) == 2 && len(worse) == 0:
		return "yes"
	case len(better) > 0 && len(worse) == 0:
		return "partly"
	case len(better) > 0:
		return "mixed"
	}
	return "no"
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
