package evaluate

import (
	"fmt"
	"math"
	"slices"

	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/evaluate/posthoc"
)

// methodOut is one method's outcome on one run.
type methodOut struct {
	setting  string
	searched bool
	values   []Values // per OOD set, near then far
	fsValues []Values // FSOOD, per OOD set; nil without CSID
	scores   []Scores
	warnings []string // the method's posthoc.Warner warnings after scoring
}

// method fits and runs one method on the run (index r).
//
// Views: msp sees the plain view (its score is the MSP of the training
// forward's logits); every other method sees the scoring view (for T2FNorm:
// f/τ and logits_ood, i.e. OpenOOD's fc(f/τ); t2fnorm is MSP on it).
func (p *prepared) method(name string, cfg Config, r int) (methodOut, error) {
	var out methodOut
	s, err := posthoc.NewWithOptions(name, cfg.Options)
	if err != nil {
		return out, err
	}
	nd := s.Needs()
	scoring := name != posthoc.MethodMSP
	if err := p.checkExtra(name, nd, cfg, scoring); err != nil {
		return out, err
	}
	in := posthoc.FitInput{}
	if h := p.run.Head; h != nil {
		in.Head = h
	} else if nd.Head {
		return out, fmt.Errorf("needs the classifier head (W, b) but run %s has no head file", p.run.Name)
	}
	if nd.Train {
		if p.idTrain == nil {
			return out, fmt.Errorf("needs ID train features: missing %s", expected(p.run, cfg.ID, "train"))
		}
		in.Train = p.view(p.idTrain, scoring, nd.Feature)
	}
	search := nd.APS && cfg.OODVal != ""
	if nd.Val || search {
		if p.idVal == nil {
			why := "needs ID val features"
			if !nd.Val {
				why = "the hyper-parameter search (--ood-val) needs ID val features"
			}
			return out, fmt.Errorf("%s: missing %s", why, expected(p.run, cfg.ID, "val"))
		}
		in.Val = p.view(p.idVal, scoring, nd.Feature)
	}
	if search {
		in.OODVal = p.view(p.oodVal, scoring, nd.Feature)
		setting, err := posthoc.Search(s, in, in.Val, in.OODVal, auroc)
		if err != nil {
			return out, err
		}
		out.setting, out.searched = setting.String(), true
	} else {
		if err := s.Fit(in); err != nil {
			return out, err
		}
		if t, ok := s.(posthoc.Tunable); ok {
			out.setting = t.Setting().String()
		}
	}
	score := func(sp *Split, role string) ([]float64, error) {
		d := p.view(sp, scoring, nd.Feature)
		if nd.Members {
			var err error
			if d, err = p.members(d, sp); err != nil {
				return nil, err
			}
		}
		v, err := s.Score(d)
		if err != nil {
			return nil, fmt.Errorf("scoring %s: %w", sp.Path, err)
		}
		if len(v) != sp.Table.Len() {
			return nil, fmt.Errorf("scoring %s: %d scores for %d rows", sp.Path, len(v), sp.Table.Len())
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("scoring %s: row %d (id %d) scored %v", sp.Path, i, sp.Table.IDs[i], x)
			}
		}
		t := sp.Table
		out.scores = append(out.scores, Scores{Run: r, Dataset: t.Meta.Dataset, Split: t.Meta.Split, Role: role,
			IDs: t.IDs, Labels: t.Labels, Values: v})
		return v, nil
	}
	idScores, err := score(p.idTest, RoleID)
	if err != nil {
		return out, err
	}
	defer func() {
		if w, ok := s.(posthoc.Warner); ok {
			out.warnings = w.Warnings()
		}
	}()
	fsScores := slices.Clone(idScores)
	for _, c := range p.csid {
		v, err := score(c, RoleCSID)
		if err != nil {
			return out, err
		}
		fsScores = append(fsScores, v...)
	}
	for i, o := range p.ood {
		role := RoleFar
		if i < len(cfg.Near) {
			role = RoleNear
		}
		v, err := score(o, role)
		if err != nil {
			return out, err
		}
		m, err := metrics.Evaluate(idScores, v)
		if err != nil {
			return out, fmt.Errorf("%s vs %s: %w", p.idTest.Path, o.Path, err)
		}
		out.values = append(out.values, values(m, p.acc, p.ece))
		if len(p.csid) > 0 {
			m, err := metrics.Evaluate(fsScores, v)
			if err != nil {
				return out, fmt.Errorf("FSOOD vs %s: %w", o.Path, err)
			}
			out.fsValues = append(out.fsValues, values(m, p.fsAcc, p.fsECE))
		}
	}
	return out, nil
}

func values(m metrics.Result, acc, ece float64) Values {
	return Values{FPR95: m.FPR95, AUROC: m.AUROC, AUPRIn: m.AUPRIn, AUPROut: m.AUPROut, ACC: acc, FPR95ID: m.FPR95ID, ECE: ece}
}

// auroc adapts metrics to posthoc.Search's callback; invalid input scores NaN,
// which never wins the search.
func auroc(scores []float64, labels []int32) float64 {
	r, err := metrics.Compute(scores, labels)
	if err != nil {
		return math.NaN()
	}
	return r.AUROC
}
