package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/features"
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
			&cli.StringFlag{Name: "head", Value: features.HeadLinear, Usage: features.HeadLinear + " or " + features.HeadT2FNorm},
			&cli.Float64Flag{Name: "tau", Usage: "T2FNorm τ when the arrays have no tau"},
			&cli.StringFlag{Name: "model", Value: "imported", Usage: "model name recorded in the files"},
			&cli.StringFlag{Name: "classes", Usage: "ID class names, comma-separated (C of them); optional"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no per-file lines"},
		},
		Action: runFeaturesImport,
	}
}

func runFeaturesImport(c *cli.Context) error {
	outDir, quiet := c.String("out"), c.Bool("quiet")
	spec := features.ImportSpec{In: c.StringSlice("in"), HeadFile: c.String("head-file"), Kind: c.String("head"),
		Tau: c.Float64("tau"), Model: c.String("model")}
	if cl := c.String("classes"); cl != "" {
		spec.Classes = strings.Split(cl, ",")
	}
	im, err := features.ImportFiles(spec)
	if errors.Is(err, features.ErrImportSettings) {
		return usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	lock, err := lockOut("features import", outDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	for i, t := range im.Tables {
		path := filepath.Join(outDir, features.FileName(t.Meta.Dataset, t.Meta.Split))
		if err := features.WriteFile(path, t); err != nil {
			return fmt.Errorf("features import: --in %s: %w", spec.In[i], err)
		}
		if !quiet {
			fmt.Fprintf(c.App.Writer, "%s: %d rows, D %d, C %d (from %s)\n", path, t.Len(), t.Dim, t.NumClasses, spec.In[i])
		}
	}
	if err := features.WriteHead(outDir, im.Head); err != nil {
		return err
	}
	if !quiet {
		h := im.Head
		fmt.Fprintf(c.App.Writer, "%s: fc.weight %d×%d, fc.bias, tau %g (from %s)\n", filepath.Join(outDir, features.HeadFileName), h.NumClasses, h.Dim, h.Tau, im.HeadSource)
	}
	return nil
}
