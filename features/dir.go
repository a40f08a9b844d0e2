package features

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// ListDir returns the footers of the feature files in dir (every file whose
// name ends in ".parquet"), sorted by file name, after checking that
//   - each is a t2f feature file named FileName(dataset, split) of its own
//     metadata (a renamed file would be scored as the wrong set);
//   - all come from one checkpoint (the same checkpoint SHA-256) and agree on
//     the model, width, head, τ, class names, D and C;
//   - if head.safetensors is present, it comes from that checkpoint too and
//     has the files' head kind, model, τ, D and C.
//
// An error names the offending file(s). A directory without feature files is
// an error.
func ListDir(dir string) ([]FileInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("features: list %q: %w", dir, err)
	}
	var infos []FileInfo
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".parquet") {
			continue
		}
		info, err := Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if want := FileName(info.Meta.Dataset, info.Meta.Split); e.Name() != want {
			return nil, fmt.Errorf("features: %q holds dataset %q split %q, so it must be named %q",
				info.Path, info.Meta.Dataset, info.Meta.Split, want)
		}
		infos = append(infos, info)
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("features: list %q: no feature files (*.parquet); run `t2f features` first", dir)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path })
	if err := CheckSameSource(infos); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, HeadFileName)); err == nil {
		h, err := ReadHead(dir)
		if err != nil {
			return nil, err
		}
		if err := h.checkMatches(infos[0]); err != nil {
			return nil, err
		}
	}
	return infos, nil
}

// CheckSameSource returns an error naming two files that come from different
// checkpoints or disagree on the model, width, head, τ, class names, D or C.
func CheckSameSource(infos []FileInfo) error {
	if len(infos) == 0 {
		return nil
	}
	a := infos[0]
	for _, b := range infos[1:] {
		var what string
		switch {
		case a.Meta.CheckpointSHA256 != b.Meta.CheckpointSHA256:
			what = fmt.Sprintf("come from different checkpoints (SHA-256 %s and %s); extract every split with the same checkpoint",
				a.Meta.CheckpointSHA256, b.Meta.CheckpointSHA256)
		case a.Dim != b.Dim || a.NumClasses != b.NumClasses:
			what = fmt.Sprintf("have different shapes (D %d, C %d and D %d, C %d)", a.Dim, a.NumClasses, b.Dim, b.NumClasses)
		case a.Meta.Model != b.Meta.Model || a.Meta.Width != b.Meta.Width:
			what = fmt.Sprintf("have different models (%s ×%g and %s ×%g)", a.Meta.Model, a.Meta.Width, b.Meta.Model, b.Meta.Width)
		case a.Meta.Head != b.Meta.Head || a.Meta.Tau != b.Meta.Tau:
			what = fmt.Sprintf("have different heads (%s τ=%g and %s τ=%g)", a.Meta.Head, a.Meta.Tau, b.Meta.Head, b.Meta.Tau)
		case !slices.Equal(a.Meta.Classes, b.Meta.Classes):
			what = fmt.Sprintf("have different class names (%q and %q)", a.Meta.Classes, b.Meta.Classes)
		default:
			continue
		}
		return fmt.Errorf("features: %q and %q %s", a.Path, b.Path, what)
	}
	return nil
}

// ReadDir reads every feature file of dir after ListDir's checks, in
// ListDir's order.
func ReadDir(dir string, opts ...Option) ([]*Table, error) {
	infos, err := ListDir(dir)
	if err != nil {
		return nil, err
	}
	tables := make([]*Table, len(infos))
	for i, info := range infos {
		if tables[i], err = ReadFile(info.Path, opts...); err != nil {
			return nil, err
		}
	}
	return tables, nil
}
