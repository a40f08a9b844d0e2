package evaluate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
)

// Roles of a split in an evaluation.
const (
	RoleIDTrain = "id_train"
	RoleIDVal   = "id_val"
	RoleID      = "id"
	RoleCSID    = "csid"
	RoleNear    = "near"
	RoleFar     = "far"
	RoleOODVal  = "ood_val"
)

// parseRef splits "NAME[:SPLIT]".
func parseRef(ref string) (name, split string) {
	name, split, _ = strings.Cut(ref, ":")
	return name, split
}

// used is a split chosen for a role.
type used struct {
	*Split
	role string
}

// prepared is one validated run with its resolved splits and views.
type prepared struct {
	run     *Run
	info    RunInfo
	idTrain *Split // nil when absent
	idVal   *Split // nil when absent
	idTest  *Split
	csid    []*Split
	ood     []*Split // near then far, in cfg order
	oodVal  *Split   // nil without cfg.OODVal
	all     []used   // every split used, in norm-table order
	div     float32  // scoring-view feature divisor: feature f/div (τ for T2FNorm, else 1)
	acc     float64  // ID test accuracy (plain forward)
	fsAcc   float64  // ID test + CSID accuracy
	ece     float64  // ID test ECE (plain forward's max softmax)
	fsECE   float64  // ID test + CSID ECE
	views   map[*Split][2]*posthoc.Data
	notes   []string
	// peers are all runs of the evaluation (this one included), in run
	// order: the members of the ensemble method.
	peers []*prepared
}

// find resolves a dataset reference among the run's splits. With no split
// given, defSplit is taken if present, else the dataset's only file.
func find(run *Run, role, ref, defSplit string) (*Split, error) {
	name, split := parseRef(ref)
	var cands []*Split
	for i := range run.Splits {
		s := &run.Splits[i]
		if s.Table != nil && s.Table.Meta.Dataset == name {
			cands = append(cands, s)
		}
	}
	var have []string
	for _, c := range cands {
		have = append(have, c.Table.Meta.Split+" ("+c.Path+")")
	}
	pick := func(want string) *Split {
		for _, c := range cands {
			if c.Table.Meta.Split == want {
				return c
			}
		}
		return nil
	}
	switch {
	case split != "":
		if s := pick(split); s != nil {
			return s, nil
		}
	case pick(defSplit) != nil:
		return pick(defSplit), nil
	case len(cands) == 1:
		return cands[0], nil
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("evaluate: run %s: %s set %q: no feature file with dataset %q (files: %s)",
			run.Name, role, ref, name, listDatasets(run))
	}
	want := split
	if want == "" {
		want = defSplit
	}
	return nil, fmt.Errorf("evaluate: run %s: %s set %q: dataset %q has no split %q; it has %s (write NAME:SPLIT)",
		run.Name, role, ref, name, want, strings.Join(have, ", "))
}

func listDatasets(run *Run) string {
	var s []string
	for _, sp := range run.Splits {
		if sp.Table != nil {
			s = append(s, sp.Table.Meta.Dataset+":"+sp.Table.Meta.Split)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// expected names the file a missing ID split would be, for errors.
func expected(run *Run, dataset, split string) string {
	return fmt.Sprintf("a feature file with dataset %q and split %q (%s) in run %s", dataset, split, features.FileName(dataset, split), run.Name)
}

func prepare(run *Run, cfg Config, nd needs) (*prepared, error) {
	p, err := resolve(run, cfg, nd)
	if err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := p.setDivisor(); err != nil {
		return nil, err
	}
	t := p.idTest.Table
	p.info = RunInfo{Name: run.Name, Model: t.Meta.Model, Head: t.Meta.Head, Tau: t.Meta.Tau, Method: t.Meta.Method,
		CheckpointSHA256: t.Meta.CheckpointSHA256, Dim: t.Dim, NumClasses: t.NumClasses, ScoringDivisor: float64(p.div)}
	if p.acc, err = metrics.Accuracy(t.Preds, t.Labels); err != nil {
		return nil, fmt.Errorf("evaluate: %s: %w", p.idTest.Path, err)
	}
	preds, labels := slices.Clone(t.Preds), slices.Clone(t.Labels)
	for _, s := range p.csid {
		preds = append(preds, s.Table.Preds...)
		labels = append(labels, s.Table.Labels...)
	}
	if p.fsAcc, err = metrics.Accuracy(preds, labels); err != nil {
		return nil, fmt.Errorf("evaluate: run %s: CSID accuracy: %w", run.Name, err)
	}
	conf, err := maxSoftmax(p.idTest)
	if err != nil {
		return nil, err
	}
	if p.ece, err = metrics.ECE(conf, t.Preds, t.Labels); err != nil {
		return nil, fmt.Errorf("evaluate: %s: %w", p.idTest.Path, err)
	}
	for _, s := range p.csid {
		c, err := maxSoftmax(s)
		if err != nil {
			return nil, err
		}
		conf = append(conf, c...)
	}
	if p.fsECE, err = metrics.ECE(conf, preds, labels); err != nil {
		return nil, fmt.Errorf("evaluate: run %s: CSID ECE: %w", run.Name, err)
	}
	return p, nil
}

// resolve picks the splits cfg refers to; it reads only Table.Meta.
func resolve(run *Run, cfg Config, nd needs) (*prepared, error) {
	p := &prepared{run: run, views: map[*Split][2]*posthoc.Data{}}
	var err error
	if p.idTest, err = find(run, "ID", cfg.ID+":test", "test"); err != nil {
		return nil, err
	}
	if nd.train {
		p.idTrain, _ = find(run, "ID", cfg.ID+":train", "train") // absence is reported by the method that needs it
	}
	if nd.val || (nd.aps && cfg.OODVal != "") {
		p.idVal, _ = find(run, "ID", cfg.ID+":val", "val")
	}
	if p.idTrain != nil {
		p.all = append(p.all, used{p.idTrain, RoleIDTrain})
	}
	if p.idVal != nil {
		p.all = append(p.all, used{p.idVal, RoleIDVal})
	}
	p.all = append(p.all, used{p.idTest, RoleID})
	for _, ref := range cfg.CSID {
		s, err := find(run, "CSID", ref, "test")
		if err != nil {
			return nil, err
		}
		p.csid = append(p.csid, s)
		p.all = append(p.all, used{s, RoleCSID})
	}
	for _, g := range []struct {
		role, what string
		refs       []string
	}{{RoleNear, "near-OOD", cfg.Near}, {RoleFar, "far-OOD", cfg.Far}} {
		for _, ref := range g.refs {
			s, err := find(run, g.what, ref, "test")
			if err != nil {
				return nil, err
			}
			p.ood = append(p.ood, s)
			p.all = append(p.all, used{s, g.role})
		}
	}
	if cfg.OODVal != "" {
		if p.oodVal, err = find(run, "OOD validation", cfg.OODVal, "val"); err != nil {
			return nil, err
		}
		for _, u := range p.all {
			if u.Split == p.oodVal {
				p.notes = append(p.notes, fmt.Sprintf("run %s: the OOD validation set %s is also evaluated as %s: the search sees test data", run.Name, p.oodVal.Path, u.role))
			}
		}
		p.all = append(p.all, used{p.oodVal, RoleOODVal})
	}
	return p, nil
}

// validate checks every used split: the table itself, labels by role, and
// that all come from one checkpoint with one shape.
func (p *prepared) validate() error {
	ref := p.idTest
	for _, u := range p.all {
		t := u.Table
		if err := t.Check(); err != nil {
			return fmt.Errorf("evaluate: %s: %w", u.Path, err)
		}
		if t.Len() == 0 {
			return fmt.Errorf("evaluate: %s: no rows", u.Path)
		}
		switch u.role {
		case RoleNear, RoleFar, RoleOODVal:
			for i, l := range t.Labels {
				if l != -1 {
					return fmt.Errorf("evaluate: %s: used as an OOD set (%s) but row %d (id %d) has label %d, want −1; is it an ID or CSID set?",
						u.Path, u.role, i, t.IDs[i], l)
				}
			}
		default:
			for i, l := range t.Labels {
				if l < 0 || int(l) >= t.NumClasses {
					return fmt.Errorf("evaluate: %s: used as an ID set (%s) but row %d (id %d) has label %d, want a class in [0, %d)",
						u.Path, u.role, i, t.IDs[i], l, t.NumClasses)
				}
			}
		}
		r := ref.Table
		switch {
		case t.Meta.CheckpointSHA256 != r.Meta.CheckpointSHA256:
			return fmt.Errorf("evaluate: run %s mixes checkpoints: %s has checkpoint sha256 %s but %s has %s; extract all splits of a run with one checkpoint",
				p.run.Name, u.Path, short(t.Meta.CheckpointSHA256), ref.Path, short(r.Meta.CheckpointSHA256))
		case t.Dim != r.Dim || t.NumClasses != r.NumClasses:
			return fmt.Errorf("evaluate: run %s: %s has feature dimension %d and %d classes but %s has %d and %d",
				p.run.Name, u.Path, t.Dim, t.NumClasses, ref.Path, r.Dim, r.NumClasses)
		case t.Meta.Head != r.Meta.Head || t.Meta.Tau != r.Meta.Tau || t.Meta.Model != r.Meta.Model:
			return fmt.Errorf("evaluate: run %s: %s has model %s head %s τ=%g but %s has %s %s τ=%g",
				p.run.Name, u.Path, t.Meta.Model, t.Meta.Head, t.Meta.Tau, ref.Path, r.Meta.Model, r.Meta.Head, r.Meta.Tau)
		}
	}
	if h := p.run.Head; h != nil {
		r := ref.Table
		switch {
		case h.CheckpointSHA256 != r.Meta.CheckpointSHA256:
			return fmt.Errorf("evaluate: run %s mixes checkpoints: head %s has checkpoint sha256 %s but %s has %s",
				p.run.Name, p.run.HeadPath, short(h.CheckpointSHA256), ref.Path, short(r.Meta.CheckpointSHA256))
		case len(h.Weight) != r.NumClasses*r.Dim || len(h.Bias) != r.NumClasses:
			return fmt.Errorf("evaluate: run %s: head %s has W with %d values and b with %d, want %d×%d and %d (from %s)",
				p.run.Name, p.run.HeadPath, len(h.Weight), len(h.Bias), r.NumClasses, r.Dim, r.NumClasses, ref.Path)
		case h.Kind != r.Meta.Head || h.Tau != r.Meta.Tau:
			return fmt.Errorf("evaluate: run %s: head %s is %s with τ=%g but %s says %s with τ=%g",
				p.run.Name, p.run.HeadPath, h.Kind, h.Tau, ref.Path, r.Meta.Head, r.Meta.Tau)
		}
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "(none)"
	}
	return sha
}

// setDivisor fixes the scoring-view divisor d (feature f/d, logits
// logits_ood = W·(f/d) + b) and, when the head is known, checks it on the
// first rows of the ID test split. T2FNorm uses d = τ, except for models
// whose OOD forward does not divide by τ (OpenOOD's 1000-class rule), which
// the check detects; a linear head uses d = 1.
func (p *prepared) setDivisor() error {
	t := p.idTest.Table
	cands := []float32{1}
	if t.Meta.Head == features.HeadT2FNorm {
		if !(t.Meta.Tau > 0) || math.IsInf(t.Meta.Tau, 0) {
			return fmt.Errorf("evaluate: %s: T2FNorm head with τ=%v, want τ > 0", p.idTest.Path, t.Meta.Tau)
		}
		cands = []float32{float32(t.Meta.Tau), 1}
	}
	h := p.run.Head
	if h == nil {
		p.div = cands[0]
		p.notes = append(p.notes, fmt.Sprintf("run %s: no head file: methods that need W and b cannot run, and logits_ood is not checked against W·f/%g + b", p.run.Name, p.div))
		return nil
	}
	for _, d := range cands {
		if row, got, want := consistent(t, h, d); row < 0 {
			p.div = d
			return nil
		} else if d == cands[len(cands)-1] {
			return fmt.Errorf("evaluate: %s: row %d: logits_ood[%d] is %g but the head %s gives W·(f/d) + b = %g for d in %v; features and head do not belong together",
				p.idTest.Path, row/t.NumClasses, row%t.NumClasses, want, p.run.HeadPath, got, cands)
		}
	}
	return nil
}

// consistent compares logits_ood with W·(f/d) + b on the first rows; it
// returns −1 or the first mismatching flat index with the two values.
func consistent(t *features.Table, h *features.Head, d float32) (idx int, got, want float64) {
	D, C := t.Dim, t.NumClasses
	for r := range min(t.Len(), 32) {
		f := t.Feature[r*D : (r+1)*D]
		for c := range C {
			w := h.Weight[c*D : (c+1)*D]
			var z, mag float64
			for j, fj := range f {
				x := float64(w[j]) * float64(fj/d)
				z += x
				mag += math.Abs(x)
			}
			z += float64(h.Bias[c])
			want := float64(t.LogitsOOD[r*C+c])
			if math.Abs(z-want) > 1e-4*(1+mag+math.Abs(float64(h.Bias[c]))) {
				return r*C + c, z, want
			}
		}
	}
	return -1, 0, 0
}

// view returns the plain (feature f, logits) or scoring (feature f/div,
// logits_ood) view of a split, built once. Without withFeature the view has
// no Feature (nil): methods that declare no need for features (posthoc
// Needs.Feature false) then cost no f/τ copy.
func (p *prepared) view(s *Split, scoring, withFeature bool) *posthoc.Data {
	v := p.views[s]
	i := 0
	if scoring {
		i = 1
	}
	t := s.Table
	d := v[i]
	if d == nil {
		div := float32(1)
		if scoring {
			div = p.div
		}
		d = &posthoc.Data{N: t.Len(), D: t.Dim, C: t.NumClasses, Logits: t.Logits, Labels: t.Labels, Extra: ExtraColumns(s.Extra, div)}
		if scoring {
			d.Logits = t.LogitsOOD
		}
		v[i] = d
		p.views[s] = v
	}
	if withFeature && d.Feature == nil {
		d.Feature = t.Feature
		if scoring && p.div != 1 {
			d.Feature = make([]float32, len(t.Feature))
			for j, x := range t.Feature {
				d.Feature[j] = x / p.div // float32, as OpenOOD's feature / tau
			}
		}
	}
	if !withFeature && d.Feature != nil {
		c := *d
		c.Feature = nil
		return &c
	}
	return d
}

// checkExtra fails before fitting when a split the method reads lacks its
// `t2f features --extra` columns; the error names the file and the --extra.
func (p *prepared) checkExtra(name string, nd posthoc.Needs, cfg Config, scoring bool) error {
	if len(nd.Extra) == 0 {
		return nil
	}
	splits := []*Split{p.idTest}
	if nd.Train && p.idTrain != nil {
		splits = append(splits, p.idTrain)
	}
	if (nd.Val || (nd.APS && cfg.OODVal != "")) && p.idVal != nil {
		splits = append(splits, p.idVal)
	}
	if nd.APS && p.oodVal != nil {
		splits = append(splits, p.oodVal)
	}
	splits = append(append(splits, p.ood...), p.csid...)
	for _, sp := range splits {
		if err := posthoc.MissingExtra(name, sp.Path, nd, p.view(sp, scoring, false)); err != nil {
			return err
		}
	}
	return nil
}

func (p *prepared) oodCounts() []int {
	out := make([]int, len(p.ood))
	for i, s := range p.ood {
		out[i] = s.Table.Len()
	}
	return out
}

func checkRuns(ps []*prepared) error {
	a := ps[0]
	for _, b := range ps[1:] {
		ia, ib := a.info, b.info
		switch {
		case ia.Model != ib.Model || ia.Head != ib.Head || ia.Dim != ib.Dim || ia.NumClasses != ib.NumClasses:
			return fmt.Errorf("evaluate: runs %s and %s differ (model %s/%s, head %s/%s, dim %d/%d, classes %d/%d); mean ± std needs runs of one setup",
				ia.Name, ib.Name, ia.Model, ib.Model, ia.Head, ib.Head, ia.Dim, ib.Dim, ia.NumClasses, ib.NumClasses)
		case ia.CheckpointSHA256 == ib.CheckpointSHA256:
			return fmt.Errorf("evaluate: runs %s and %s come from the same checkpoint (sha256 %s); give each seed's features once",
				ia.Name, ib.Name, short(ia.CheckpointSHA256))
		}
	}
	return nil
}

// maxSoftmax is the plain forward's confidence per row of s: the max of the
// float32 softmax of its logits (the msp method's score).
func maxSoftmax(s *Split) ([]float64, error) {
	m, err := posthoc.New(posthoc.MethodMSP)
	if err != nil {
		return nil, err
	}
	t := s.Table
	v, err := m.Score(&posthoc.Data{N: t.Len(), D: t.Dim, C: t.NumClasses, Logits: t.Logits})
	if err != nil {
		return nil, fmt.Errorf("evaluate: %s: confidence for ECE: %w", s.Path, err)
	}
	return v, nil
}
