package evaluate

import (
	"context"
	"errors"
	"fmt"

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
