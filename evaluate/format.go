package evaluate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/internal/atomicfile"
)

// Column names of the OpenOOD-layout tables. FPR@95 is OpenOOD v1.5's (OOD
// positive); FPR@95_IDpos is the classic one (ID positive) and ECE the
// plain forward's calibration error (OpenOOD's ece_evaluator, 15 bins), both
// appended after OpenOOD's columns.
var csvHeader = []string{"dataset", "FPR@95", "AUROC", "AUPR_IN", "AUPR_OUT", "ACC", "FPR@95_IDpos", "ECE"}

// writeAtomic writes path through a temporary file that replaces it only
// when write succeeded.
func writeAtomic(path string, write func(w io.Writer) error) error {
	if err := atomicfile.WriteWith(path, write); err != nil {
		return fmt.Errorf("evaluate: write %q: %w", path, err)
	}
	return nil
}

func (v Values) percent() [7]float64 {
	return [7]float64{100 * v.FPR95, 100 * v.AUROC, 100 * v.AUPRIn, 100 * v.AUPROut, 100 * v.ACC, 100 * v.FPR95ID, 100 * v.ECE}
}

// cells formats a row ×100: "%.2f" for one run, OpenOOD's "%.2f ± %.2f" for
// several.
func (r Row) cells(prec int) []string {
	m, s := r.Mean.percent(), r.Std.percent()
	out := make([]string, len(m))
	for i := range m {
		if len(r.Runs) > 1 {
			out[i] = fmt.Sprintf("%.2f ± %.2f", m[i], s[i])
		} else {
			out[i] = strconv.FormatFloat(m[i], 'f', prec, 64)
		}
	}
	return out
}

// WriteCSV writes rows in OpenOOD's layout: a header line
// "dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,FPR@95_IDpos,ECE", then one line
// per row (near datasets, nearood, far datasets, farood), values ×100 —
// with 4 decimals for one run, "mean ± std" (2 decimals, population std)
// for several, as OpenOOD's scripts/eval_ood.py prints them.
func WriteCSV(path string, rows []Row) error {
	return writeAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(csvHeader)
		for _, r := range rows {
			cw.Write(append([]string{r.Dataset}, r.cells(4)...))
		}
		cw.Flush()
		return cw.Error()
	})
}

// WriteTable writes a readable table per method (and per FSOOD table) to w.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	nRuns := len(res.Runs)
	what := "1 run"
	if nRuns > 1 {
		what = fmt.Sprintf("%d runs, mean ± population std", nRuns)
	}
	fmt.Fprintf(tw, "ID %s · %s · values ×100 · FPR@95: OOD positive (OpenOOD v1.5) · FPR@95_IDpos: ID positive (classic)\n", res.Config.ID, what)
	for _, m := range res.Methods {
		if errors.Is(m.Err, posthoc.ErrNotApplicable) {
			fmt.Fprintf(tw, "\n%s: not applicable to these features: %v\n", m.Method, m.Err)
		} else if m.Err != nil {
			fmt.Fprintf(tw, "\n%s: FAILED: %v\n", m.Method, m.Err)
			continue
		}
		tables := []struct {
			title string
			rows  []Row
		}{{"", m.Rows}}
		if m.FSOOD != nil {
			tables = append(tables, struct {
				title string
				rows  []Row
			}{" (full-spectrum: ID = ID test + CSID)", m.FSOOD})
		}
		for _, t := range tables {
			fmt.Fprintf(tw, "\n%s%s%s\n", m.Method, t.title, settingNote(m))
			fmt.Fprintln(tw, strings.Join(csvHeader, "\t")+"\t")
			for _, r := range t.rows {
				fmt.Fprintln(tw, r.Dataset+"\t"+strings.Join(r.cells(2), "\t")+"\t")
			}
		}
	}
	if len(res.Notes) > 0 {
		fmt.Fprintln(tw)
		for _, n := range res.Notes {
			fmt.Fprintln(tw, "note: "+n)
		}
	}
	return tw.Flush()
}

// settingNote is " [default K=50]" or, when runs differ, the per-run
// settings; "" for a method without hyper-parameters.
func settingNote(m MethodResult) string {
	label := func(r int) string {
		how := "default"
		if m.Searched[r] {
			how = "searched"
		}
		return how + " " + m.Settings[r]
	}
	if len(m.Settings) == 0 || m.Settings[0] == "" {
		return ""
	}
	same := true
	for r := range m.Settings {
		same = same && label(r) == label(0)
	}
	if same {
		return " [" + label(0) + "]"
	}
	var parts []string
	for r := range m.Settings {
		parts = append(parts, fmt.Sprintf("run %d %s", r+1, label(r)))
	}
	return " [" + strings.Join(parts, "; ") + "]"
}

// WriteNormTable writes the feature-norm statistics as a readable table.
func WriteNormTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tdataset\tsplit\trole\tcount\tmean‖f‖\tstd\tq05\tmedian\tq95\tratio to ID\t")
	for _, n := range res.Norms {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%.4g\t%.4g\t%.4g\t%.4g\t%.4g\t%.3f\t\n",
			n.Run+1, n.Dataset, n.Split, n.Role, n.Count, n.Mean, n.Std, n.Q05, n.Q50, n.Q95, n.RatioToID)
	}
	return tw.Flush()
}

// WriteNormCSV writes the feature-norm statistics: one line per run and
// dataset split with columns run (1-based), dataset, split, role, count,
// mean, std, min, q05, q25, q50, q75, q95, max, ratio_to_id.
func WriteNormCSV(path string, res *Result) error {
	return writeAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"run", "dataset", "split", "role", "count", "mean", "std", "min", "q05", "q25", "q50", "q75", "q95", "max", "ratio_to_id"})
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		for _, n := range res.Norms {
			cw.Write([]string{strconv.Itoa(n.Run + 1), n.Dataset, n.Split, n.Role, strconv.Itoa(n.Count),
				f(n.Mean), f(n.Std), f(n.Min), f(n.Q05), f(n.Q25), f(n.Q50), f(n.Q75), f(n.Q95), f(n.Max), f(n.RatioToID)})
		}
		cw.Flush()
		return cw.Error()
	})
}
