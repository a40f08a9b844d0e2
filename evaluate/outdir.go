package evaluate

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// WriteOutputs writes every output file of res into dir (created if
// needed) and returns their paths: per method <method>.csv (and
// <method>_fsood.csv), scores.parquet, norms.csv, results.json, report.md
// (WriteMarkdown) and the plots (WritePlots). Methods that failed get no CSV and no plots.
func WriteOutputs(dir string, res *Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evaluate: output directory: %w", err)
	}
	var paths []string
	add := func(name string, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, filepath.Join(dir, name))
		return nil
	}
	for _, m := range res.Methods {
		if m.Err != nil {
			continue
		}
		name := fileSafe(m.Method) + ".csv"
		if err := add(name, WriteCSV(filepath.Join(dir, name), m.Rows)); err != nil {
			return paths, err
		}
		if m.FSOOD != nil {
			name := fileSafe(m.Method) + "_fsood.csv"
			if err := add(name, WriteCSV(filepath.Join(dir, name), m.FSOOD)); err != nil {
				return paths, err
			}
		}
	}
	if err := add(ScoresFileName, WriteScores(filepath.Join(dir, ScoresFileName), res, memory.DefaultAllocator)); err != nil {
		return paths, err
	}
	if err := add(NormsFileName, WriteNormCSV(filepath.Join(dir, NormsFileName), res)); err != nil {
		return paths, err
	}
	err := writeAtomic(filepath.Join(dir, ResultsFileName), func(w io.Writer) error { return WriteJSON(w, res) })
	if err := add(ResultsFileName, err); err != nil {
		return paths, err
	}
	err = writeAtomic(filepath.Join(dir, ReportFileName), func(w io.Writer) error { return WriteMarkdown(w, res) })
	if err := add(ReportFileName, err); err != nil {
		return paths, err
	}
	plots, err := WritePlots(dir, res)
	paths = append(paths, plots...)
	return paths, err
}
