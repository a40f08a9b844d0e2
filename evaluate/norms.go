package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/t2f/t2f/features"
)

// NormStats is the distribution of the raw feature norm ‖f‖ (the
// feature_norm column) of one dataset split of one run.
type NormStats struct {
	Run     int     `json:"run"` // 0-based index into Result.Runs
	Dataset string  `json:"dataset"`
	Split   string  `json:"split"`
	Role    string  `json:"role"` // RoleIDTrain, RoleIDVal, RoleID, RoleCSID, RoleNear, RoleFar, RoleOODVal
	Count   int     `json:"count"`
	Mean    float64 `json:"mean"`
	Std     float64 `json:"std"` // population std
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	// Q05 … Q95 are quantiles with numpy's default linear interpolation.
	Q05 float64 `json:"q05"`
	Q25 float64 `json:"q25"`
	Q50 float64 `json:"q50"`
	Q75 float64 `json:"q75"`
	Q95 float64 `json:"q95"`
	// RatioToID is Mean / mean of the ID test split: NaN when the ID mean is
	// 0 (a collapsed network), written as null in results.json.
	RatioToID float64 `json:"-"`
}

// normStatsJSON is NormStats as results.json holds it: JSON has no NaN.
type normStatsJSON struct {
	normStatsFields
	RatioToID *float64 `json:"ratio_to_id"`
}

type normStatsFields NormStats // the same fields without the methods below

// MarshalJSON writes RatioToID as null when it is not finite.
func (n NormStats) MarshalJSON() ([]byte, error) {
	j := normStatsJSON{normStatsFields: normStatsFields(n)}
	if !math.IsNaN(n.RatioToID) && !math.IsInf(n.RatioToID, 0) {
		j.RatioToID = &n.RatioToID
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a null RatioToID back as NaN.
func (n *NormStats) UnmarshalJSON(b []byte) error {
	var j normStatsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*n = NormStats(j.normStatsFields)
	n.RatioToID = math.NaN()
	if j.RatioToID != nil {
		n.RatioToID = *j.RatioToID
	}
	return nil
}

// NormSample is the per-sample ‖f‖ of one dataset split of one run.
type NormSample struct {
	Run                  int
	Dataset, Split, Role string
	Values               []float32
}

func (p *prepared) norms(run int) []NormStats {
	var out []NormStats
	for _, u := range p.all {
		out = append(out, normStats(run, u.Table, u.role))
	}
	idMean := normStats(run, p.idTest.Table, RoleID).Mean
	for i := range out {
		out[i].RatioToID = out[i].Mean / idMean
		if idMean == 0 {
			out[i].RatioToID = math.NaN() // 0/0 for the ID split itself
		}
	}
	if idMean == 0 {
		p.notes = append(p.notes, collapsedNote(p.info.Name))
	}
	return out
}

func normStats(run int, t *features.Table, role string) NormStats {
	v := make([]float64, len(t.FeatureNorm))
	var sum float64
	for i, x := range t.FeatureNorm {
		v[i] = float64(x)
		sum += v[i]
	}
	n := float64(len(v))
	mean := sum / n
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sort.Float64s(v)
	return NormStats{Run: run, Dataset: t.Meta.Dataset, Split: t.Meta.Split, Role: role, Count: len(v),
		Mean: mean, Std: math.Sqrt(ss / n), Min: v[0], Max: v[len(v)-1],
		Q05: quantile(v, 0.05), Q25: quantile(v, 0.25), Q50: quantile(v, 0.5), Q75: quantile(v, 0.75), Q95: quantile(v, 0.95)}
}

// quantile of sorted v with numpy's default "linear" method.
func quantile(v []float64, q float64) float64 {
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	frac := pos - float64(lo)
	return v[lo] + (v[hi]-v[lo])*frac
}

// collapsedNote says that a run's network has collapsed: every penultimate
// feature of the ID test split is 0 (all ReLUs dead, typically after a
// divergent first epoch), so every score is constant and its AUROC 50.
func collapsedNote(run string) string {
	return fmt.Sprintf("run %s: every ID test feature is 0 (‖f‖ = 0 for all samples): the network collapsed in training (dead ReLUs), its scores are constant and carry no information; its epochs.csv shows when (val_feature_norm 0); retrain it with a lower --lr or a longer --warmup-epochs", run)
}
