package posthoc

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
)

// Data is N samples of one split in the scoring view (see the package doc).
type Data struct {
	N, D, C int
	Feature []float32 // N×D row-major
	Logits  []float32 // N×C row-major
	Labels  []int32   // N class indices, −1 for OOD; may be nil where unused
	// Extra holds columns computed at feature time by `t2f features --extra`
	// (network methods such as odin), keyed by the --extra name; each
	// method documents its column's layout. nil when the feature files have
	// none; methods whose Needs().Extra is empty ignore it.
	Extra map[string]Column
	// Members holds, for the ensemble method, each member network's logits
	// for the same N samples (each N×C row-major, same order as Logits).
	Members [][]float32
}

// Column is one extra per-sample column: N×Width row-major float32.
type Column struct {
	Width  int
	Values []float32
}

// Head is the classifier's final linear layer as the methods that need it
// read it: Linear returns W (C×D row-major) and b (C values), logits =
// W·f + b. *features.Head implements it; a nil Head means there is none.
type Head interface {
	Linear() (w, b []float32)
}

// FitInput is everything a method may fit on. Train and Val are the ID
// train and ID val splits; OODVal is the OOD validation set, used only by
// the hyper-parameter search.
type FitInput struct {
	Train, Val, OODVal *Data
	Head               Head
}

// Scorer is one post-hoc OOD method.
type Scorer interface {
	// Name is the OpenOOD postprocessor name (e.g. "knn").
	Name() string
	// Needs says which inputs Fit and Score read.
	Needs() Needs
	// Fit computes the method's statistics. It returns an error naming the
	// missing or mis-shaped input.
	Fit(in FitInput) error
	// Score returns one score per sample of d; higher = more in-distribution.
	Score(d *Data) ([]float64, error)
}

// Warner is implemented by methods that detect conditions under which their
// scores may differ from OpenOOD's or are degenerate (ties OpenOOD breaks in
// an unspecified order, overflow OpenOOD turns into NaN). Warnings reports
// them after Fit/Search and Score; callers show them with the method's
// results (docs/posthoc.md, Deviations).
type Warner interface {
	Warnings() []string
}

// Needs describes the inputs a method reads, so a caller can report a missing
// file before fitting.
type Needs struct {
	Feature     bool // Score (and Fit on the splits it uses) reads Data.Feature
	Logits      bool // Score reads Data.Logits
	Head        bool // Fit needs FitInput.Head
	Train       bool // Fit needs FitInput.Train (ID train features)
	TrainLabels bool // ... with class labels
	Val         bool // Fit needs FitInput.Val (ID val)
	ValLabels   bool // ... with class labels
	// APS is whether OpenOOD v1.5 runs the hyper-parameter search for this
	// method by default (its config's APS_mode). The search needs ID val and
	// OOD val (FitInput.Val and FitInput.OODVal).
	APS bool
	// Extra lists the `t2f features --extra` names (OpenOOD method names,
	// e.g. "odin") whose columns Fit and Score read from Data.Extra. A
	// caller checks them up front with MissingExtra.
	Extra []string
	// Members: Score reads Data.Members (several runs of one architecture
	// scored as one ensemble).
	Members bool
}

// Options are construction options shared by all methods.
type Options struct {
	// Threads is the number of goroutines KNN and NNGuide use for their
	// nearest-neighbour search. Default (0): runtime.GOMAXPROCS(0).
	Threads int
	// BatchSize is the ID-train loader batch size NNGuide's bank rule
	// counts in. Default (0): 200, OpenOOD's evaluator default.
	BatchSize int
}

func (o Options) threads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return runtime.GOMAXPROCS(0)
}

func (o Options) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return 200
}

// ErrNotApplicable marks a hyper-parameter setting that cannot be evaluated on
// the given data (ViM's dim ≥ D, KNN's K > number of training samples).
// Search skips such settings.
var ErrNotApplicable = errors.New("setting not applicable to this data")

type entry struct {
	name string
	make func(Options) Scorer
}

// Scoring methods that callers name in code: MSP on the logits, and the
// T2FNorm scorer (MSP on the OOD forward W·f/τ + b that it is handed). These
// are method names, not head kinds (features.HeadT2FNorm names a head).
const (
	MethodMSP     = "msp"
	MethodT2FNorm = "t2fnorm"
)

// registry lists the methods in the order Names reports them.
var registry = []entry{
	{MethodMSP, func(Options) Scorer { return &msp{name: MethodMSP} }},
	{MethodT2FNorm, func(Options) Scorer { return &msp{name: MethodT2FNorm} }},
	{"mls", func(Options) Scorer { return &mls{} }},
	{"ebo", func(Options) Scorer { return newEBO() }},
	{"react", func(Options) Scorer { return newReAct() }},
	{"ash", func(Options) Scorer { return newASH() }},
	{"scale", func(Options) Scorer { return newSCALE() }},
	{"dice", func(Options) Scorer { return newDICE() }},
	{"knn", func(o Options) Scorer { return newKNN(o) }},
	{"mds", func(Options) Scorer { return &mds{} }},
	{"rmds", func(Options) Scorer { return &mds{relative: true} }},
	{"vim", func(Options) Scorer { return newViM() }},
	{"gen", func(Options) Scorer { return newGEN() }},
	{"klm", func(Options) Scorer { return &klm{} }},
	{"temp_scaling", func(Options) Scorer { return &tempScale{} }},
	{"fdbd", func(Options) Scorer { return newFDBD() }},
	{"gradnorm", func(Options) Scorer { return &gradNorm{} }},
	{"she", func(Options) Scorer { return &she{} }},
	{"nnguide", func(o Options) Scorer { return newNNGuide(o) }},
	{"residual", func(Options) Scorer { return newResidual() }},
	{"odin", func(Options) Scorer { return newODIN("odin") }},
	{"iodin", func(Options) Scorer { return newODIN("iodin") }},
	{"rankfeat", func(Options) Scorer { return &rankFeat{T: 1} }},
	{"adascale_a", func(Options) Scorer { return newAdaScale("adascale_a", false) }},
	{"adascale_l", func(Options) Scorer { return newAdaScale("adascale_l", true) }},
	{"dropout", func(Options) Scorer { return newDropout() }},
	{"mds_ensemble", func(Options) Scorer { return newMDSEnsemble() }},
	{"gram", func(Options) Scorer { return gram{} }},
	{"gmm", func(Options) Scorer { return gmm{} }},
	{"nci", func(Options) Scorer { return newNCI() }},
	{"vra", func(Options) Scorer { return newVRA() }},
	{"relation", func(o Options) Scorer { return newRelation(o) }},
	{"cfood", func(o Options) Scorer { return newCFOOD(o) }},
	{"openmax", func(Options) Scorer { return &openmax{} }},
	{"ensemble", func(Options) Scorer { return &ensemble{} }},
}

// ErrMissingExtra marks a method whose `t2f features --extra` columns are
// absent from its input (errors.Is); the message names the --extra to add.
var ErrMissingExtra = errors.New("feature-time columns missing")

// MissingExtra checks that d holds the columns of every `t2f features
// --extra` name in nd.Extra. It returns an error wrapping ErrMissingExtra
// that says exactly which --extra to run, e.g. `posthoc: odin: test file
// x.parquet has no "odin" columns: compute them with t2f features --extra
// odin`; what names the split (a file, for a user).
func MissingExtra(method, what string, nd Needs, d *Data) error {
	var missing []string
	for _, x := range nd.Extra {
		if d == nil || d.Extra[x].Values == nil {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("posthoc: %s: %s has no %q columns: compute them with `t2f features --extra %s`: %w",
		method, what, strings.Join(missing, ","), strings.Join(missing, ","), ErrMissingExtra)
}

// ExtraOf reports the `t2f features --extra` names a registered method needs
// (nil for feature/logit-only methods and unknown names).
func ExtraOf(name string) []string {
	s, err := New(name)
	if err != nil {
		return nil
	}
	return s.Needs().Extra
}

// Names lists the registered methods (OpenOOD names).
func Names() []string {
	out := make([]string, len(registry))
	for i, e := range registry {
		out[i] = e.name
	}
	return out
}

// New returns the method with OpenOOD name name and its default
// hyper-parameters, using default Options.
func New(name string) (Scorer, error) { return NewWithOptions(name, Options{}) }

// NewWithOptions is New with explicit options.
func NewWithOptions(name string, opt Options) (Scorer, error) {
	for _, e := range registry {
		if e.name == name {
			return e.make(opt), nil
		}
	}
	return nil, fmt.Errorf("posthoc: unknown method %q (known: %v)", name, Names())
}

// check validates d for a method: non-nil, shapes consistent, values finite.
// what names the split in errors ("ID train", "scored data").
func (d *Data) check(method, what string, feature, logits, labels bool) error {
	if d == nil {
		return fmt.Errorf("posthoc: %s: %s is missing (nil)", method, what)
	}
	if d.N <= 0 {
		return fmt.Errorf("posthoc: %s: %s has N=%d samples, want > 0", method, what, d.N)
	}
	if feature {
		if d.D <= 0 {
			return fmt.Errorf("posthoc: %s: %s has feature dimension D=%d, want > 0", method, what, d.D)
		}
		if len(d.Feature) != d.N*d.D {
			return fmt.Errorf("posthoc: %s: %s features have %d values, want N×D = %d×%d", method, what, len(d.Feature), d.N, d.D)
		}
		if i := firstNonFinite(d.Feature); i >= 0 {
			return fmt.Errorf("posthoc: %s: %s feature of sample %d (dimension %d) is %v", method, what, i/d.D, i%d.D, d.Feature[i])
		}
	}
	if logits {
		if d.C <= 0 {
			return fmt.Errorf("posthoc: %s: %s has C=%d classes, want > 0", method, what, d.C)
		}
		if len(d.Logits) != d.N*d.C {
			return fmt.Errorf("posthoc: %s: %s logits have %d values, want N×C = %d×%d", method, what, len(d.Logits), d.N, d.C)
		}
		if i := firstNonFinite(d.Logits); i >= 0 {
			return fmt.Errorf("posthoc: %s: %s logit of sample %d (class %d) is %v", method, what, i/d.C, i%d.C, d.Logits[i])
		}
	}
	if labels {
		if len(d.Labels) != d.N {
			return fmt.Errorf("posthoc: %s: %s has %d labels, want N = %d", method, what, len(d.Labels), d.N)
		}
		for i, l := range d.Labels {
			if l < 0 || (d.C > 0 && int(l) >= d.C) {
				return fmt.Errorf("posthoc: %s: %s label of sample %d is %d, want a class in [0, %d)", method, what, i, l, d.C)
			}
		}
	}
	return nil
}

// sameShape checks that d matches the fitted dimensions (D and/or C; 0 = not checked).
func (d *Data) sameShape(method, what string, D, C int) error {
	if D > 0 && d.D != D {
		return fmt.Errorf("posthoc: %s: %s has feature dimension %d, fitted on %d", method, what, d.D, D)
	}
	if C > 0 && d.C != C {
		return fmt.Errorf("posthoc: %s: %s has %d classes, fitted on %d", method, what, d.C, C)
	}
	return nil
}

// check validates the head against D and C.
func checkHead(method string, W, B []float32, D, C int) error {
	if len(W) == 0 || len(B) == 0 {
		return fmt.Errorf("posthoc: %s: needs the classifier head (W, b), got W with %d and b with %d values", method, len(W), len(B))
	}
	if len(B) != C || len(W) != C*D {
		return fmt.Errorf("posthoc: %s: head W has %d values and b %d, want C×D = %d×%d and C = %d", method, len(W), len(B), C, D, C)
	}
	if i := firstNonFinite(W); i >= 0 {
		return fmt.Errorf("posthoc: %s: head W[%d][%d] is %v", method, i/D, i%D, W[i])
	}
	if i := firstNonFinite(B); i >= 0 {
		return fmt.Errorf("posthoc: %s: head b[%d] is %v", method, i, B[i])
	}
	return nil
}

func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

func errNotFitted(method string) error {
	return fmt.Errorf("posthoc: %s: Score called before Fit", method)
}

func errorf(format string, a ...any) error { return fmt.Errorf("posthoc: "+format, a...) }
