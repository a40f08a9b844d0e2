package evaluate

import (
	"fmt"
	"math"
)

// SaturationPairs is the share of (ID, OOD) test-sample pairs tied at a
// method's top score from which the score counts as saturated: AUROC counts
// a tied pair as half right, so such ties alone move it by up to half their
// share, and FPR@95 cuts through them arbitrarily.
const SaturationPairs = 0.01

// TopTie measures how many samples share a method's highest score. A
// saturated score — e.g. the float32 softmax of logits tens apart, which
// returns exactly 1 — ties many ID and OOD samples at the top, so their
// relative order (and FPR@95 with it) is arbitrary.
type TopTie struct {
	Value   float64 `json:"value"`   // the highest ID or OOD test score (of the first run)
	IDPct   float64 `json:"id_pct"`  // mean over runs: % of ID test samples scoring exactly their run's highest score
	OODPct  float64 `json:"ood_pct"` // the same for the near- and far-OOD test samples
	Samples int     `json:"samples"` // ID + OOD test samples of the first run
}

// TiedPairs is the share of (ID, OOD) pairs tied at the top, from the mean
// percentages.
func (t TopTie) TiedPairs() float64 { return t.IDPct / 100 * t.OODPct / 100 }

// Saturated reports whether the tie is large enough to distort the metrics.
func (t TopTie) Saturated() bool { return t.TiedPairs() >= SaturationPairs }

// topTie computes the TopTie of one method's scores over runs runs.
func topTie(scores []Scores, runs int) TopTie {
	var t TopTie
	counted := 0
	for r := range runs {
		top := math.Inf(-1)
		for _, s := range scores {
			if s.Run == r && isTestRole(s.Role) {
				for _, v := range s.Values {
					top = max(top, v)
				}
			}
		}
		if math.IsInf(top, -1) {
			continue
		}
		var id, idAtTop, ood, oodAtTop, n int
		for _, s := range scores {
			if s.Run != r || !isTestRole(s.Role) {
				continue
			}
			at := 0
			for _, v := range s.Values {
				if v == top {
					at++
				}
			}
			n += len(s.Values)
			if s.Role == RoleID {
				id, idAtTop = id+len(s.Values), idAtTop+at
			} else {
				ood, oodAtTop = ood+len(s.Values), oodAtTop+at
			}
		}
		if counted == 0 {
			t.Value, t.Samples = top, n
		}
		counted++
		if id > 0 {
			t.IDPct += 100 * float64(idAtTop) / float64(id)
		}
		if ood > 0 {
			t.OODPct += 100 * float64(oodAtTop) / float64(ood)
		}
	}
	if counted > 0 {
		t.IDPct /= float64(counted)
		t.OODPct /= float64(counted)
	}
	return t
}

func isTestRole(role string) bool { return role == RoleID || role == RoleNear || role == RoleFar }

// saturationNote is the Result note for a saturated method.
func saturationNote(method string, t TopTie) string {
	return fmt.Sprintf("%s: %.1f%% of ID test and %.1f%% of OOD test samples tie at its top score %.9g (%.1f%% of ID–OOD pairs) — the score saturates "+
		"(e.g. float32 softmax of logits far apart), so their order, and FPR@95 with it, is arbitrary; a logit-based score (mls, ebo) ranks the same model without the tie",
		method, t.IDPct, t.OODPct, t.Value, 100*t.TiedPairs())
}
