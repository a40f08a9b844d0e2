package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/npy"
	"github.com/t2f/t2f/formats/safetensors"
)

func newFeaturesImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "turn NumPy (.npy/.npz) or .safetensors arrays of any model into feature files t2f score reads",
		UsageText: "t2f features import --in DATASET_SPLIT.npz [--in ...] [--head-file FILE] --out DIR [options]",
		Description: `For a model t2f cannot run: dump its penultimate features (and logits) with PyTorch, JAX
or NumPy, and import them. Each --in file holds one dataset split, named by the file:
<dataset>_<split>.npz (e.g. cifar10_test.npz, svhn_test.npz; the split is after the last
"_"), with arrays (any of the names; float16/32/64, integer labels):

   features | feature | feats     N×D   penultimate feature f (pool a feature map first)
   labels | label | targets        N     class index, -1 for OOD
   logits                          N×C   optional: computed from the head when absent;
                                         checked against it when present
   logits_ood                      N×C   optional (T2FNorm: W·f/τ + b)
   ids | id                        N     optional sample ids (default 0..N-1)

and the classifier head, in --head-file or in the first --in file that has it:

   fc.weight | weight | W          C×D
   fc.bias | bias | b              C
   tau                             scalar, T2FNorm only (else --tau)

A .npy file holds one array (named by its stem); give a directory of them per split as
--in DIR/<dataset>_<split> with DIR/<dataset>_<split>/features.npy, labels.npy, ...
Writes <dataset>_<split>.parquet per --in and head.safetensors into --out; every file is
written to a temporary name first, so a refused import leaves nothing under the final
names. See docs/features.md for a PyTorch script that writes these files.

Examples:
   t2f features import --in dump/cifar10_test.npz --in dump/svhn_test.npz --model vit_b16 \
       --out feats/vit
   t2f score --features feats/vit --id cifar10 --far svhn --out results/vit`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "in", Usage: "arrays of one split: <dataset>_<split>.npz, .safetensors, or a directory of .npy files; repeat per split", Required: true},
			&cli.StringFlag{Name: "out", Usage: "directory for the feature files and head.safetensors (created if needed)", Required: true},
			&cli.StringFlag{Name: "head-file", Usage: "file with the head arrays (default: the first --in that has them)"},
			&cli.StringFlag{Name: "head", Value: "linear", Usage: "linear or t2fnorm"},
			&cli.Float64Flag{Name: "tau", Usage: "T2FNorm τ when the arrays have no tau"},
			&cli.StringFlag{Name: "model", Value: "imported", Usage: "model name recorded in the files"},
			&cli.StringFlag{Name: "classes", Usage: "ID class names, comma-separated (C of them); optional"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no per-file lines"},
		},
		Action: runFeaturesImport,
	}
}

// readArrays reads one --in: a .npz/.npy (NumPy), a .safetensors, or a
// directory of .npy files.
func readArrays(path string) ([]safetensors.Tensor, error) {
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

// splitName is the dataset and split a --in file's name gives.
func splitName(path string) (dataset, split string, err error) {
	base := filepath.Base(path)
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	i := strings.LastIndex(base, "_")
	if i <= 0 || i == len(base)-1 {
		return "", "", usageError{fmt.Sprintf("features import: --in %s: name it <dataset>_<split> (e.g. cifar10_test.npz) so the split is known", path)}
	}
	return base[:i], base[i+1:], nil
}

func runFeaturesImport(c *cli.Context) error {
	ins, outDir, quiet := c.StringSlice("in"), c.String("out"), c.Bool("quiet")
	type split struct {
		path, dataset, split string
		ts                   []safetensors.Tensor
	}
	var splits []split
	seen := map[string]string{}
	for _, in := range ins {
		ds, sp, err := splitName(in)
		if err != nil {
			return err
		}
		if prev, dup := seen[ds+"/"+sp]; dup {
			return usageError{fmt.Sprintf("features import: --in %s and %s are both %s/%s; each split once", prev, in, ds, sp)}
		}
		seen[ds+"/"+sp] = in
		ts, err := readArrays(in)
		if err != nil {
			return fmt.Errorf("features import: --in %s: %w", in, err)
		}
		splits = append(splits, split{in, ds, sp, ts})
	}
	headSrc, headTs := "", []safetensors.Tensor(nil)
	if hf := c.String("head-file"); hf != "" {
		ts, err := readArrays(hf)
		if err != nil {
			return fmt.Errorf("features import: --head-file: %w", err)
		}
		headSrc, headTs = hf, ts
	} else {
		for _, s := range splits {
			if features.Pick(s.ts, features.NamesWeight) != nil {
				headSrc, headTs = s.path, s.ts
				break
			}
		}
		if headSrc == "" {
			return usageError{fmt.Sprintf("features import: no --in holds the classifier head (%s and %s): add them, or give --head-file",
				strings.Join(features.NamesWeight, "/"), strings.Join(features.NamesBias, "/"))}
		}
	}
	head, err := features.ImportHead(headSrc, c.String("head"), features.Pick(headTs, features.NamesWeight),
		features.Pick(headTs, features.NamesBias), features.Pick(headTs, features.NamesTau), c.Float64("tau"))
	if err != nil {
		return err
	}
	head.Model, head.Width = c.String("model"), 1
	if cl := c.String("classes"); cl != "" {
		head.Classes = strings.Split(cl, ",")
		if len(head.Classes) != head.NumClasses {
			return usageError{fmt.Sprintf("features import: --classes names %d classes, the head has C = %d", len(head.Classes), head.NumClasses)}
		}
	}
	// Build every table before writing anything.
	tables := make([]*features.Table, len(splits))
	for i, s := range splits {
		a := features.Arrays{Source: s.path, Features: features.Pick(s.ts, features.NamesFeatures),
			Logits: features.Pick(s.ts, features.NamesLogits), LogitsOOD: features.Pick(s.ts, features.NamesLogitsOOD),
			Labels: features.Pick(s.ts, features.NamesLabels), IDs: features.Pick(s.ts, features.NamesIDs)}
		if tables[i], err = features.Import(a, head, features.Meta{Dataset: s.dataset, Split: s.split}); err != nil {
			return err
		}
	}
	lock, err := lockOut("features import", outDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	for i, t := range tables {
		path := filepath.Join(outDir, features.FileName(t.Meta.Dataset, t.Meta.Split))
		if err := features.WriteFile(path, t); err != nil {
			return fmt.Errorf("features import: --in %s: %w", splits[i].path, err)
		}
		if !quiet {
			fmt.Fprintf(c.App.Writer, "%s: %d rows, D %d, C %d (from %s)\n", path, t.Len(), t.Dim, t.NumClasses, splits[i].path)
		}
	}
	if err := features.WriteHead(outDir, head); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(c.App.Writer, "%s: fc.weight %d×%d, fc.bias, tau %g (from %s)\n", filepath.Join(outDir, features.HeadFileName), head.NumClasses, head.Dim, head.Tau, headSrc)
	}
	return nil
}
