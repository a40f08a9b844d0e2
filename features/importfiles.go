package features

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/t2f/t2f/formats/npy"
	"github.com/t2f/t2f/formats/safetensors"
)

// Importing from files (t2f features import): which file is which split,
// which arrays are the head, and every table built before anything is
// written. Import and ImportHead (import.go) do the arithmetic.

// ErrImportSettings marks an ImportFiles error in what the caller asked
// for rather than in the arrays: a file name that does not name a split, a
// split given twice, no head anywhere, class names that do not fit the
// head. The CLI reports it as a usage error.
var ErrImportSettings = errors.New("features: import settings")

// importSettingsError is an ErrImportSettings with its message.
type importSettingsError struct{ msg string }

func (e importSettingsError) Error() string        { return e.msg }
func (e importSettingsError) Is(target error) bool { return target == ErrImportSettings }

// ImportSpec says what ImportFiles imports (the flags of t2f features
// import).
type ImportSpec struct {
	// In are the array files, one per split (--in): a NumPy .npz or .npy,
	// a .safetensors, or a directory of .npy files, each named
	// <dataset>_<split> before its first "." (SplitOfPath).
	In []string
	// HeadFile holds the head arrays (--head-file); "" means the first of
	// In that has a weight array (NamesWeight).
	HeadFile string
	Kind     string   // HeadLinear or HeadT2FNorm (--head)
	Tau      float64  // τ of a T2FNorm head when the arrays hold none (--tau)
	Model    string   // the model name the files record (--model)
	Classes  []string // ID class names, C of them (--classes); nil for none
}

// Imported is what ImportFiles built: nothing is written yet.
type Imported struct {
	Tables     []*Table // one per ImportSpec.In, in that order
	Head       Head     // the head every table was checked against
	HeadSource string   // the file the head arrays came from
}

// ImportFiles reads every file of s, picks the head (from s.HeadFile, else
// the first input that holds one), and builds and checks each split's table
// with Import, so that a refused import writes nothing. Errors name the
// file; those in s itself are ErrImportSettings.
func ImportFiles(s ImportSpec) (*Imported, error) {
	arrays := make([][]safetensors.Tensor, len(s.In))
	metas := make([]Meta, len(s.In))
	seen := map[string]string{}
	for i, in := range s.In {
		ds, sp, err := SplitOfPath(in)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[ds+"/"+sp]; dup {
			return nil, importSettingsError{fmt.Sprintf("features import: --in %s and %s are both %s/%s; each split once", prev, in, ds, sp)}
		}
		seen[ds+"/"+sp] = in
		if arrays[i], err = ReadArrays(in); err != nil {
			return nil, fmt.Errorf("features import: --in %s: %w", in, err)
		}
		metas[i] = Meta{Dataset: ds, Split: sp}
	}
	im := &Imported{HeadSource: s.HeadFile}
	var headTs []safetensors.Tensor
	if s.HeadFile != "" {
		ts, err := ReadArrays(s.HeadFile)
		if err != nil {
			return nil, fmt.Errorf("features import: --head-file: %w", err)
		}
		headTs = ts
	} else {
		for i, ts := range arrays {
			if Pick(ts, NamesWeight) != nil {
				im.HeadSource, headTs = s.In[i], ts
				break
			}
		}
		if im.HeadSource == "" {
			return nil, importSettingsError{fmt.Sprintf("features import: no --in holds the classifier head (%s and %s): add them, or give --head-file",
				strings.Join(NamesWeight, "/"), strings.Join(NamesBias, "/"))}
		}
	}
	head, err := ImportHead(im.HeadSource, s.Kind, Pick(headTs, NamesWeight), Pick(headTs, NamesBias), Pick(headTs, NamesTau), s.Tau)
	if err != nil {
		return nil, err
	}
	head.Model, head.Width = s.Model, 1
	if len(s.Classes) != 0 {
		if len(s.Classes) != head.NumClasses {
			return nil, importSettingsError{fmt.Sprintf("features import: --classes names %d classes, the head has C = %d", len(s.Classes), head.NumClasses)}
		}
		head.Classes = s.Classes
	}
	im.Head = head
	im.Tables = make([]*Table, len(s.In))
	for i, ts := range arrays {
		a := Arrays{Source: s.In[i], Features: Pick(ts, NamesFeatures), Logits: Pick(ts, NamesLogits),
			LogitsOOD: Pick(ts, NamesLogitsOOD), Labels: Pick(ts, NamesLabels), IDs: Pick(ts, NamesIDs)}
		if im.Tables[i], err = Import(a, head, metas[i]); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// ReadArrays reads the arrays of one import input: a NumPy .npz or .npy, a
// .safetensors file, or a directory of .npy files (each array named by its
// file's stem).
func ReadArrays(path string) ([]safetensors.Tensor, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		files, err := filepath.Glob(filepath.Join(path, "*.npy"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("%s: a directory without .npy files", path)
		}
		var ts []safetensors.Tensor
		for _, f := range files {
			t, err := npy.ReadFile(f)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t...)
		}
		return ts, nil
	}
	if strings.HasSuffix(path, ".safetensors") {
		f, err := safetensors.Read(path)
		if err != nil {
			return nil, err
		}
		return f.Tensors(), nil
	}
	return npy.ReadFile(path)
}

// SplitOfPath is the dataset and split an import input's name gives: its
// base name up to the first ".", split at the last "_" (cifar10_test.npz →
// cifar10, test). A name without both is an ErrImportSettings.
func SplitOfPath(path string) (dataset, split string, err error) {
	base := filepath.Base(path)
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	i := strings.LastIndex(base, "_")
	if i <= 0 || i == len(base)-1 {
		return "", "", importSettingsError{fmt.Sprintf("features import: --in %s: name it <dataset>_<split> (e.g. cifar10_test.npz) so the split is known", path)}
	}
	return base[:i], base[i+1:], nil
}
