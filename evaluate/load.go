package evaluate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/t2f/t2f/features"
)

// LoadRun reads the feature directory dir as one run for cfg: it lists the
// feature files (features.ListDir, which also checks that they come from one
// checkpoint), resolves the splits cfg refers to from the file footers, and
// reads only those (ID train only when a method of cfg fits on it). The head
// file is read when present. Run.Name is dir.
func LoadRun(dir string, cfg Config) (*Run, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	infos, err := features.ListDir(dir)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	stub := &Run{Name: dir}
	for _, fi := range infos {
		stub.Splits = append(stub.Splits, Split{Path: fi.Path, Table: &features.Table{Meta: fi.Meta}})
	}
	p, err := resolve(stub, cfg, needsOf(cfg.Methods))
	if err != nil {
		return nil, err
	}
	run := &Run{Name: dir}
	for _, u := range p.all {
		if slicesContainsPath(run.Splits, u.Path) {
			continue
		}
		t, err := features.ReadFile(u.Path)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		x, err := loadExtra(dir, t)
		if err != nil {
			return nil, err
		}
		run.Splits = append(run.Splits, Split{Path: u.Path, Table: t, Extra: x})
	}
	h, err := features.ReadHead(dir)
	switch {
	case err == nil:
		run.Head, run.HeadPath = h, filepath.Join(dir, features.HeadFileName)
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(filepath.Join(dir, features.HeadFileName)); serr == nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
	default:
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return run, nil
}

func slicesContainsPath(ss []Split, path string) bool {
	for _, s := range ss {
		if s.Path == path {
			return true
		}
	}
	return false
}
