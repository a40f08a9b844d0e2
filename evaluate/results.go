package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
)

// Names of the files WriteOutputs writes into an output directory (besides
// the per-method CSVs and the plots).
const (
	ResultsFileName = "results.json"   // WriteJSON; read back by ReadResults
	ScoresFileName  = "scores.parquet" // WriteScores
	NormsFileName   = "norms.csv"      // WriteNormCSV
	ReportFileName  = "report.md"      // WriteMarkdown
)

// ResultsUnits is the value of Results.Units: metric values are percent
// (×100), like the tables.
const ResultsUnits = "percent"

// Results is a results.json file: WriteJSON writes it and ReadResults reads
// it back, so it is the one schema of that file. Metric values are percent.
// It is what Compare reads: a comparison needs only the outputs of two
// `t2f score` runs, never the feature files.
type Results struct {
	Units       string            `json:"units"` // ResultsUnits
	Conventions map[string]string `json:"conventions"`
	ID          string            `json:"id"`
	Near        []string          `json:"near"`
	Far         []string          `json:"far"`
	CSID        []string          `json:"csid,omitempty"`
	OODVal      string            `json:"ood_val,omitempty"`
	Runs        []RunInfo         `json:"runs"`
	Methods     []ResultsMethod   `json:"methods"`
	Norms       []NormStats       `json:"norms"`
	Notes       []string          `json:"notes"`
	Code        string            `json:"code,omitempty"` // the t2f build that scored (provenance); "" in files written before it existed
	Path        string            `json:"-"`              // the file it was read from, for errors
}

// ResultsMethod is one method of a results.json file.
type ResultsMethod struct {
	Method   string   `json:"method"`
	Settings []string `json:"settings"`
	Searched []bool   `json:"searched"`
	Error    string   `json:"error,omitempty"`
	// Warnings are detected deviations from OpenOOD's numbers or degenerate
	// scores (docs/posthoc.md, Deviations).
	Warnings []string     `json:"warnings,omitempty"`
	TopTie   *TopTie      `json:"top_tie,omitempty"` // nil for a failed method, and in files written before it existed
	Rows     []ResultsRow `json:"rows"`
	FSOOD    []ResultsRow `json:"fsood,omitempty"`
}

// ResultsRow is one table row of a results.json file.
type ResultsRow struct {
	Dataset string          `json:"dataset"`
	Kind    string          `json:"kind"`
	NumOOD  int             `json:"num_ood,omitempty"`
	Mean    ResultsValues   `json:"mean"`
	Std     ResultsValues   `json:"std"`
	Runs    []ResultsValues `json:"runs"`
}

// ResultsValues are a row's metrics in percent.
type ResultsValues struct {
	FPR95      float64 `json:"fpr95"`
	AUROC      float64 `json:"auroc"`
	AUPRIn     float64 `json:"aupr_in"`
	AUPROut    float64 `json:"aupr_out"`
	ACC        float64 `json:"acc"`
	FPR95IDPos float64 `json:"fpr95_idpos"`
	ECE        float64 `json:"ece"`
}

// resultsConventions explains, in results.json itself, what each metric
// means.
var resultsConventions = map[string]string{
	"fpr95":       "FPR@95, OpenOOD v1.5: OOD positive; % of ID flagged OOD when >=95% of OOD is flagged",
	"fpr95_idpos": "classic FPR@95: ID positive; % of OOD accepted when >=95% of ID is kept",
	"aupr_in":     "trapezoidal area under sklearn's PR curve, ID positive",
	"aupr_out":    "trapezoidal area under sklearn's PR curve, OOD positive",
	"acc":         "ID test accuracy of the plain forward (FSOOD: ID test + CSID)",
	"ece":         "expected calibration error (%) of the plain forward's max softmax on ID test (FSOOD: + CSID), 15 equal-width bins as OpenOOD's ece_evaluator",
	"std":         "population standard deviation over runs",
}

// ResultsOf is res in the results.json form: metric values in percent with
// full precision, per row the mean, the population std and every run.
func ResultsOf(res *Result) *Results {
	j := &Results{
		Units:       ResultsUnits,
		Conventions: maps.Clone(resultsConventions),
		ID:          res.Config.ID, Near: res.Config.Near, Far: res.Config.Far, CSID: res.Config.CSID, OODVal: res.Config.OODVal,
		Runs: res.Runs, Norms: res.Norms, Notes: res.Notes, Code: res.Config.Code,
	}
	for _, m := range res.Methods {
		jm := ResultsMethod{Method: m.Method, Settings: m.Settings, Searched: m.Searched, Warnings: m.Warnings, Rows: resultsRows(m.Rows), FSOOD: resultsRows(m.FSOOD)}
		if m.Err != nil {
			jm.Error = m.Err.Error()
		} else {
			jm.TopTie = &m.TopTie
		}
		j.Methods = append(j.Methods, jm)
	}
	return j
}

func resultsValues(v Values) ResultsValues {
	p := v.percent()
	return ResultsValues{p[0], p[1], p[2], p[3], p[4], p[5], p[6]}
}

func resultsRows(rows []Row) []ResultsRow {
	var out []ResultsRow
	for _, r := range rows {
		jr := ResultsRow{Dataset: r.Dataset, Kind: r.Kind, NumOOD: r.NumOOD, Mean: resultsValues(r.Mean), Std: resultsValues(r.Std)}
		for _, v := range r.Runs {
			jr.Runs = append(jr.Runs, resultsValues(v))
		}
		out = append(out, jr)
	}
	return out
}

// WriteJSON writes the whole result as indented JSON (the Results form,
// see ResultsOf).
func WriteJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ResultsOf(res))
}

// ReadResults reads a results.json written by WriteJSON (t2f score --out
// DIR writes DIR/results.json).
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("evaluate: %s: not a %s of t2f score: %w", path, ResultsFileName, err)
	}
	r.Path = path
	if r.Units != ResultsUnits || r.ID == "" || len(r.Runs) == 0 {
		return nil, fmt.Errorf("evaluate: %s: not a %s of t2f score (units %q, id %q, %d runs)", path, ResultsFileName, r.Units, r.ID, len(r.Runs))
	}
	return &r, nil
}

func (r *Results) method(name string) *ResultsMethod {
	for i := range r.Methods {
		if r.Methods[i].Method == name && r.Methods[i].Error == "" {
			return &r.Methods[i]
		}
	}
	return nil
}

func (m *ResultsMethod) row(dataset string) *ResultsRow {
	for i := range m.Rows {
		if m.Rows[i].Dataset == dataset {
			return &m.Rows[i]
		}
	}
	return nil
}
