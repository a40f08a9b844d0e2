package posthoc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Param is one hyper-parameter of a method: its OpenOOD name, its default
// (postprocessor_args) and its sweep (postprocessor_sweep), in config order.
type Param struct {
	Name    string
	Default float64
	Sweep   []float64 // nil: OpenOOD has no sweep for it
	Bool    bool      // values are 1 (True) / 0 (False)
}

// Value is one named hyper-parameter value.
type Value struct {
	Name  string
	Value float64
	Bool  bool
}

// Setting is a method's hyper-parameter values in OpenOOD's order.
type Setting []Value

// String formats s as "name=value ...", booleans as True/False.
func (s Setting) String() string {
	parts := make([]string, len(s))
	for i, v := range s {
		var val string
		switch {
		case v.Bool && v.Value != 0:
			val = "True"
		case v.Bool:
			val = "False"
		default:
			val = strconv.FormatFloat(v.Value, 'g', -1, 64)
		}
		parts[i] = v.Name + "=" + val
	}
	return strings.Join(parts, " ")
}

// Tunable is a Scorer with hyper-parameters.
type Tunable interface {
	Scorer
	// Params lists the hyper-parameters in OpenOOD's args order.
	Params() []Param
	// Setting reports the current values.
	Setting() Setting
	// Set sets the values, in Params order, like OpenOOD's set_hyperparam;
	// statistics that depend on them are recomputed when already fitted.
	Set(values ...float64) error
}

// Trial is one evaluated combination of a search.
type Trial struct {
	Setting Setting
	AUROC   float64 // NaN when Skipped
	Skipped error   // non-nil: not applicable to this data (ErrNotApplicable)
}

// Grid is the Cartesian product of the sweeps of s in OpenOOD's order
// (Evaluator.recursive_generator: the first parameter varies fastest).
func Grid(s Tunable) ([][]float64, error) {
	ps := s.Params()
	if len(ps) == 0 {
		return nil, fmt.Errorf("posthoc: %s: has no hyper-parameters to search", s.Name())
	}
	combos := [][]float64{{}}
	for _, p := range ps {
		if len(p.Sweep) == 0 {
			return nil, fmt.Errorf("posthoc: %s: hyper-parameter %s has no sweep", s.Name(), p.Name)
		}
		next := make([][]float64, 0, len(combos)*len(p.Sweep))
		for _, v := range p.Sweep {
			for _, c := range combos {
				next = append(next, append(append([]float64(nil), c...), v))
			}
		}
		combos = next
	}
	return combos, nil
}

// Search runs OpenOOD's automatic hyper-parameter search (APS): it fits s on
// in, then for each combination of Grid(s) scores idVal and oodVal and
// computes auroc over their union (ID samples keep their class labels, OOD
// samples get −1), keeping the combination with the highest AUROC (strict >,
// starting from 0, so the first maximum wins). s is left set to the chosen
// combination and ready to Score. Combinations that are not applicable to the
// data (ErrNotApplicable) are skipped; OpenOOD would crash or score a
// constant there (docs/posthoc.md).
func Search(s Scorer, in FitInput, idVal, oodVal *Data, auroc func(scores []float64, labels []int32) float64) (Setting, error) {
	best, _, err := SearchTrials(s, in, idVal, oodVal, auroc)
	return best, err
}

// SearchTrials is Search that also returns every trial, in grid order.
func SearchTrials(s Scorer, in FitInput, idVal, oodVal *Data, auroc func(scores []float64, labels []int32) float64) (Setting, []Trial, error) {
	t, ok := s.(Tunable)
	if !ok {
		return nil, nil, fmt.Errorf("posthoc: %s: has no hyper-parameters to search", s.Name())
	}
	if auroc == nil {
		return nil, nil, fmt.Errorf("posthoc: %s: search needs an AUROC function, got nil", s.Name())
	}
	if idVal == nil || oodVal == nil {
		return nil, nil, fmt.Errorf("posthoc: %s: search needs ID val and OOD val data (got ID val %v, OOD val %v)", s.Name(), idVal != nil, oodVal != nil)
	}
	if len(idVal.Labels) != idVal.N {
		return nil, nil, fmt.Errorf("posthoc: %s: ID val has %d labels, want N = %d", s.Name(), len(idVal.Labels), idVal.N)
	}
	for i, l := range idVal.Labels {
		if l < 0 {
			return nil, nil, fmt.Errorf("posthoc: %s: ID val sample %d has label %d, want a class ≥ 0", s.Name(), i, l)
		}
	}
	grid, err := Grid(t)
	if err != nil {
		return nil, nil, err
	}
	if err := s.Fit(in); err != nil {
		return nil, nil, err
	}
	labels := make([]int32, idVal.N+oodVal.N)
	copy(labels, idVal.Labels)
	for i := idVal.N; i < len(labels); i++ {
		labels[i] = -1
	}
	var pre map[float64]sweepResult
	if sw, ok := t.(sweeper); ok && len(t.Params()) == 1 {
		if pre, err = presweep(sw, grid, idVal, oodVal); err != nil {
			return nil, nil, err
		}
	}
	trials := make([]Trial, 0, len(grid))
	bestIdx, bestAUROC := -1, 0.0
	for _, combo := range grid {
		tr, err := trial(t, combo, idVal, oodVal, labels, auroc, pre)
		if err != nil {
			return nil, trials, err
		}
		trials = append(trials, tr)
		if tr.Skipped == nil && tr.AUROC > bestAUROC {
			bestIdx, bestAUROC = len(trials)-1, tr.AUROC
		}
	}
	if bestIdx < 0 {
		skipped := 0
		for _, tr := range trials {
			if tr.Skipped != nil {
				skipped++
			}
		}
		if skipped == len(trials) {
			return nil, trials, fmt.Errorf("posthoc: %s: none of the %d swept settings applies to this data (first: %w)", s.Name(), skipped, trials[0].Skipped)
		}
		return nil, trials, fmt.Errorf("posthoc: %s: no hyper-parameter setting reached an AUROC above 0 on ID val ∪ OOD val", s.Name())
	}
	if err := t.Set(grid[bestIdx]...); err != nil {
		return nil, trials, err
	}
	return t.Setting(), trials, nil
}

// sweeper is implemented by one-parameter methods that can score every value
// of their sweep in one pass (KNN: one search for the largest K).
type sweeper interface {
	scoreSweep(d *Data, values []float64) ([][]float64, []error, error)
}

type sweepResult struct {
	scores []float64 // ID val then OOD val
	err    error     // per value (ErrNotApplicable)
}

func presweep(sw sweeper, grid [][]float64, idVal, oodVal *Data) (map[float64]sweepResult, error) {
	vals := make([]float64, len(grid))
	for i, c := range grid {
		vals[i] = c[0]
	}
	id, idErr, err := sw.scoreSweep(idVal, vals)
	if err != nil {
		return nil, err
	}
	ood, oodErr, err := sw.scoreSweep(oodVal, vals)
	if err != nil {
		return nil, err
	}
	out := make(map[float64]sweepResult, len(vals))
	for i, v := range vals {
		r := sweepResult{err: errors.Join(idErr[i], oodErr[i])}
		if r.err == nil {
			r.scores = append(append(r.scores, id[i]...), ood[i]...)
		}
		out[v] = r
	}
	return out, nil
}

func trial(t Tunable, combo []float64, idVal, oodVal *Data, labels []int32, auroc func([]float64, []int32) float64, pre map[float64]sweepResult) (Trial, error) {
	if err := t.Set(combo...); err != nil {
		if errors.Is(err, ErrNotApplicable) {
			return Trial{Setting: namedSetting(t.Params(), combo), AUROC: math.NaN(), Skipped: err}, nil
		}
		return Trial{}, err
	}
	tr := Trial{Setting: t.Setting(), AUROC: math.NaN()}
	var id []float64
	var err error
	if r, ok := pre[combo[0]]; ok && len(combo) == 1 {
		id, err = r.scores, r.err
	} else {
		id, err = t.Score(idVal)
		if err == nil {
			var ood []float64
			ood, err = t.Score(oodVal)
			id = append(id, ood...)
		}
	}
	if errors.Is(err, ErrNotApplicable) {
		tr.Skipped = err
		return tr, nil
	}
	if err != nil {
		return Trial{}, fmt.Errorf("posthoc: %s: search at %v: %w", t.Name(), tr.Setting, err)
	}
	for i, v := range id {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Trial{}, fmt.Errorf("posthoc: %s: search at %v: score of sample %d is %v", t.Name(), tr.Setting, i, v)
		}
	}
	tr.AUROC = auroc(id, labels)
	return tr, nil
}

func namedSetting(ps []Param, vals []float64) Setting {
	s := make(Setting, len(ps))
	for i, p := range ps {
		s[i] = Value{Name: p.Name, Value: vals[i], Bool: p.Bool}
	}
	return s
}

// params is the embedded hyper-parameter store of tunable methods.
type params struct {
	defs []Param
	vals []float64
}

func newParams(defs ...Param) params {
	p := params{defs: defs, vals: make([]float64, len(defs))}
	for i, d := range defs {
		p.vals[i] = d.Default
	}
	return p
}

func (p *params) Params() []Param  { return p.defs }
func (p *params) Setting() Setting { return namedSetting(p.defs, p.vals) }

// setVals checks the count and stores values.
func (p *params) setVals(method string, v []float64) error {
	if len(v) != len(p.defs) {
		return fmt.Errorf("posthoc: %s: Set got %d values, want %d (%v)", method, len(v), len(p.defs), p.Setting())
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("posthoc: %s: %s = %v", method, p.defs[i].Name, x)
		}
	}
	copy(p.vals, v)
	return nil
}

// intParam checks that v is a whole number ≥ lo and returns it.
func intParam(method, name string, v float64, lo int) (int, error) {
	if v != math.Trunc(v) || v < float64(lo) {
		return 0, fmt.Errorf("posthoc: %s: %s = %v, want a whole number ≥ %d", method, name, v, lo)
	}
	return int(v), nil
}

// percentParam checks 0 ≤ v ≤ 100.
func percentParam(method, name string, v float64) error {
	if v < 0 || v > 100 {
		return fmt.Errorf("posthoc: %s: %s = %v, want a percentile in [0, 100]", method, name, v)
	}
	return nil
}
