package evaluate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
)

// Split is one feature file of a run: a table and where it came from (Path
// names the file in every error about it).
type Split struct {
	Path  string
	Table *features.Table
	// Extra is the split's extra-column file (`t2f features --extra`), nil
	// when there is none; its rows are the table's, in order.
	Extra *features.ExtraTable
}

// Run is the features of one trained model (one --features directory; one
// seed). Splits may hold more files than an evaluation uses.
type Run struct {
	Name   string // shown in tables and errors, e.g. the directory
	Splits []Split
	// Head is the classifier head (features.HeadFileName beside the
	// features); nil: methods that need it fail with an error naming the run.
	Head     *features.Head
	HeadPath string // the head file, for errors
}

// Config says what to evaluate. Dataset references are "NAME" or
// "NAME:SPLIT" (see the package documentation for how they resolve).
type Config struct {
	ID      string   // ID dataset; its "train", "val" and "test" splits are found by name
	Near    []string // near-OOD sets, in table order
	Far     []string // far-OOD sets, in table order
	CSID    []string // covariate-shifted ID sets; non-empty adds the full-spectrum (FSOOD) tables
	OODVal  string   // OOD validation set for the hyper-parameter search; "" = no search
	Methods []string // posthoc method names, in output order
	// Options are passed to every posthoc method (threads for KNN/NNGuide).
	Options posthoc.Options
	// Code names the t2f build that scores (provenance.Stamp's String); it is
	// written into results.json and under the report's tables.
	Code string
	// Progress, if set, is called after each (run, method) with the number
	// done, the total and what was just finished.
	Progress func(done, total int, what string)
}

// Values are the metrics of one table row, as fractions in [0, 1]:
// OpenOOD's five columns plus the classic FPR@95 (see package metrics).
type Values struct {
	FPR95   float64 // OpenOOD v1.5: OOD positive
	AUROC   float64
	AUPRIn  float64
	AUPROut float64
	ACC     float64 // ID test accuracy of the plain forward (FSOOD: ID test + CSID)
	FPR95ID float64 // classic: ID positive
	ECE     float64 // expected calibration error of the plain forward's max softmax on ID test (FSOOD: + CSID), 15 bins
}

// Row kinds, in OpenOOD's row order: near datasets, "nearood", far
// datasets, "farood".
const (
	KindNear    = "near"
	KindNearOOD = "nearood"
	KindFar     = "far"
	KindFarOOD  = "farood"
)

// Row is one line of a method's table.
type Row struct {
	Dataset string   // OOD dataset name, or "nearood" / "farood"
	Kind    string   // KindNear, KindNearOOD, KindFar or KindFarOOD
	Mean    Values   // mean over runs (the run's values for one run)
	Std     Values   // population standard deviation over runs (0 for one run)
	Runs    []Values // per run, in run order
	NumOOD  int      // OOD samples of the first run (0 for the mean rows)
}

// Scores are one method's per-sample scores on one dataset split of one run.
type Scores struct {
	Run     int // index into Result.Runs
	Dataset string
	Split   string
	Role    string    // "id", "csid", "near", "far"
	IDs     []int64   // sample ids, in file order
	Labels  []int32   // class index; −1 for OOD
	Values  []float64 // higher = more ID
}

// MethodResult is everything computed for one method.
type MethodResult struct {
	Method   string
	Settings []string // per run: the hyper-parameters used ("" for none)
	Searched []bool   // per run: whether Settings[r] came from the APS search
	Rows     []Row    // the OOD table
	FSOOD    []Row    // the full-spectrum table; nil without CSID sets
	Scores   []Scores // every scored split of every run
	TopTie   TopTie   // how many test samples share the top score (see Saturated)
	Warnings []string // detected deviations from OpenOOD or degenerate scores (posthoc.Warner), "run NAME: ..."
	Err      error    // non-nil: the method failed; the other fields may be partial
}

// RunInfo describes a run as evaluated.
type RunInfo struct {
	Name  string  `json:"name"`
	Model string  `json:"model"`
	Head  string  `json:"head"`
	Tau   float64 `json:"tau"`
	// Method is the training method the feature files record ("" when
	// they record none; see TrainingMethod).
	Method           string `json:"method,omitempty"`
	CheckpointSHA256 string `json:"checkpoint_sha256"`
	Dim              int    `json:"dim"`
	NumClasses       int    `json:"num_classes"`
	// ScoringDivisor: the scoring view's feature is f / ScoringDivisor (τ
	// for T2FNorm, 1 for linear).
	ScoringDivisor float64 `json:"scoring_divisor"`
}

// Result is a whole evaluation.
type Result struct {
	Config  Config
	Runs    []RunInfo
	Methods []MethodResult
	Norms   []NormStats // per run and dataset split (see Norms)
	// NormSamples are the per-sample ‖f‖ behind Norms (shared with the
	// input tables, not copied), for plots.
	NormSamples []NormSample
	Notes       []string // things a user should know (e.g. no search without an OOD val set)
}

// Failed reports the methods that failed, joined; nil if none did.
func (r *Result) Failed() error {
	var errs []error
	for _, m := range r.Methods {
		if m.Err != nil {
			errs = append(errs, m.Err)
		}
	}
	return errors.Join(errs...)
}

// Evaluate runs every method of cfg on every run and aggregates the metrics
// as OpenOOD v1.5's _eval_ood does. Input problems (a missing split, mixed
// checkpoints, NaN features, bad labels, mismatched shapes) fail the whole
// evaluation; a method that fails (e.g. it needs ID train features that are
// absent) is reported in its MethodResult.Err and the others still run.
func Evaluate(ctx context.Context, cfg Config, runs []Run) (*Result, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, errors.New("evaluate: no runs (feature directories) given")
	}
	needs := needsOf(cfg.Methods)
	prepared := make([]*prepared, len(runs))
	res := &Result{Config: cfg}
	for r := range runs {
		p, err := prepare(&runs[r], cfg, needs)
		if err != nil {
			return nil, err
		}
		prepared[r] = p
		res.Runs = append(res.Runs, p.info)
		res.Norms = append(res.Norms, p.norms(r)...)
		for _, u := range p.all {
			res.NormSamples = append(res.NormSamples, NormSample{Run: r, Dataset: u.Table.Meta.Dataset, Split: u.Table.Meta.Split, Role: u.role, Values: u.Table.FeatureNorm})
		}
		res.Notes = append(res.Notes, p.notes...)
	}
	if err := checkRuns(prepared); err != nil {
		return nil, err
	}
	for _, p := range prepared {
		p.peers = prepared
	}
	total, done := len(cfg.Methods)*len(runs), 0
	for _, name := range cfg.Methods {
		mr := MethodResult{Method: name}
		perRun := make([][]Values, len(runs)) // [run][dataset] in cfg order
		perRunFS := make([][]Values, len(runs))
		for r, p := range prepared {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("evaluate: %w", err)
			}
			out, err := p.method(name, cfg, r)
			done++
			if cfg.Progress != nil {
				cfg.Progress(done, total, name+" on "+p.info.Name)
			}
			if err != nil {
				mr.Err = fmt.Errorf("evaluate: method %s, run %s: %w", name, p.info.Name, err)
				break
			}
			for _, w := range out.warnings {
				mr.Warnings = append(mr.Warnings, fmt.Sprintf("run %s: %s", p.info.Name, w))
			}
			mr.Settings = append(mr.Settings, out.setting)
			mr.Searched = append(mr.Searched, out.searched)
			mr.Scores = append(mr.Scores, out.scores...)
			perRun[r] = out.values
			perRunFS[r] = out.fsValues
		}
		if mr.Err == nil {
			res.Notes = append(res.Notes, mr.Warnings...)
			if name == "ensemble" && len(runs) == 1 {
				res.Notes = append(res.Notes, "ensemble: one --features run, so the ensemble is that single network; give several runs of one architecture")
			}
			mr.TopTie = topTie(mr.Scores, len(runs))
			if mr.TopTie.Saturated() {
				res.Notes = append(res.Notes, saturationNote(name, mr.TopTie))
			}
			mr.Rows = table(cfg, perRun, prepared[0].oodCounts())
			if len(cfg.CSID) > 0 {
				mr.FSOOD = table(cfg, perRunFS, prepared[0].oodCounts())
			}
		}
		res.Methods = append(res.Methods, mr)
	}
	return res, nil
}

func checkConfig(cfg *Config) error {
	if cfg.ID == "" {
		return errors.New("evaluate: no ID dataset given")
	}
	if strings.Contains(cfg.ID, ":") {
		return fmt.Errorf("evaluate: ID dataset %q: give the dataset name only; its train/val/test splits are found by name", cfg.ID)
	}
	if len(cfg.Near)+len(cfg.Far) == 0 {
		return errors.New("evaluate: no OOD sets given (near or far)")
	}
	if len(cfg.Methods) == 0 {
		return errors.New("evaluate: no methods given")
	}
	seen := map[string]string{cfg.ID: "ID"}
	check := func(role string, refs []string) error {
		for _, ref := range refs {
			name, _ := parseRef(ref)
			if name == "" {
				return fmt.Errorf("evaluate: empty %s dataset name in %q", role, ref)
			}
			if prev, ok := seen[name]; ok {
				return fmt.Errorf("evaluate: dataset %q given as %s and as %s", name, prev, role)
			}
			seen[name] = role
		}
		return nil
	}
	for _, c := range []struct {
		role string
		refs []string
	}{{"near-OOD", cfg.Near}, {"far-OOD", cfg.Far}, {"CSID", cfg.CSID}} {
		if err := check(c.role, c.refs); err != nil {
			return err
		}
	}
	known := posthoc.Names()
	for i, m := range cfg.Methods {
		if !slices.Contains(known, m) {
			return fmt.Errorf("evaluate: unknown method %q (known: %s)", m, strings.Join(known, ", "))
		}
		if slices.Contains(cfg.Methods[:i], m) {
			return fmt.Errorf("evaluate: method %q given twice", m)
		}
	}
	return nil
}

// needs is the union of what the methods read.
type needs struct{ train, val, head, aps bool }

func needsOf(methods []string) needs {
	var n needs
	for _, m := range methods {
		s, err := posthoc.NewWithOptions(m, posthoc.Options{})
		if err != nil {
			continue // checked in checkConfig
		}
		nd := s.Needs()
		n.train = n.train || nd.Train
		n.val = n.val || nd.Val
		n.head = n.head || nd.Head
		n.aps = n.aps || nd.APS
	}
	return n
}

// table aggregates per-run values ([run][dataset], datasets in near then far
// order) into rows: per dataset, then the plain means, then mean ± std over
// runs.
func table(cfg Config, perRun [][]Values, counts []int) []Row {
	nNear := len(cfg.Near)
	var rows []Row
	add := func(name, kind string, get func(run []Values) Values, count int) {
		row := Row{Dataset: name, Kind: kind, NumOOD: count}
		for _, run := range perRun {
			row.Runs = append(row.Runs, get(run))
		}
		row.Mean, row.Std = meanStd(row.Runs)
		rows = append(rows, row)
	}
	group := func(names []string, off int, kind, meanName, meanKind string) {
		if len(names) == 0 {
			return
		}
		for i, ref := range names {
			name, _ := parseRef(ref)
			add(name, kind, func(run []Values) Values { return run[off+i] }, counts[off+i])
		}
		add(meanName, meanKind, func(run []Values) Values { v, _ := meanStd(run[off : off+len(names)]); return v }, 0)
	}
	group(cfg.Near, 0, KindNear, KindNearOOD, KindNearOOD)
	group(cfg.Far, nNear, KindFar, KindFarOOD, KindFarOOD)
	return rows
}

// meanStd is the element-wise mean and population standard deviation
// (numpy's default ddof=0, as OpenOOD's scripts/eval_ood.py uses).
func meanStd(vs []Values) (mean, std Values) {
	n := float64(len(vs))
	get := func(v *Values) []*float64 {
		return []*float64{&v.FPR95, &v.AUROC, &v.AUPRIn, &v.AUPROut, &v.ACC, &v.FPR95ID, &v.ECE}
	}
	m, s := get(&mean), get(&std)
	for j := range m {
		var sum float64
		for i := range vs {
			sum += *get(&vs[i])[j]
		}
		mu := sum / n
		var ss float64
		for i := range vs {
			d := *get(&vs[i])[j] - mu
			ss += d * d
		}
		*m[j], *s[j] = mu, math.Sqrt(ss/n)
	}
	return mean, std
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
