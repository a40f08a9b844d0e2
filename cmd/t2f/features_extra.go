package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/shards"
)

// extraFlag is `t2f features --extra`: the network-dependent post-hoc
// methods whose columns are computed at extraction time.
func extraFlag() cli.Flag {
	return &cli.StringFlag{Name: "extra", Usage: "comma-separated OpenOOD methods that need the network, computed now into <out>/extra/*.parquet for t2f score (every split but train): " +
		strings.Join(features.ExtraNames, ", ") + " (odin/iodin: every (temperature, noise) of OpenOOD's sweep; dropout needs no column; mds_ensemble first estimates class means and precision, gram per-class ranges of Gram features (one forward per train image plus one per held-out 10%), gmm fits PCA(50) and a 50-component Gaussian mixture (one forward per train image, seeded by --seed), on the train split, which must be among --data); the cost is printed first"}
}

// extraGridFlags restrict ODIN's and IODIN's grid to the settings asked
// for (default: OpenOOD's whole sweep, which its APS searches).
func extraGridFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64SliceFlag{Name: "odin-temperatures", Usage: "odin/iodin temperatures to compute (default: OpenOOD's sweep 1,10,100,1000); t2f score's APS then searches these only"},
		&cli.Float64SliceFlag{Name: "odin-noises", Usage: "odin/iodin noise magnitudes to compute (default: OpenOOD's sweep 0.0014,0.0028)"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of gmm's randomized PCA and k-means++ initialisation (--extra gmm) and of gram's held-out 10% of ID train (--extra gram; 0: features.DefaultGramSeed); the same seed gives the same columns"},
	}
}

// parseExtraFlag returns the spec of --extra (nil when unset) with the
// input std of the normalisation for ODIN.
func parseExtraFlag(c *cli.Context, norm augment.Norm, channels int) (*features.ExtraSpec, error) {
	if !c.IsSet("extra") {
		return nil, nil
	}
	methods, err := features.ParseExtra(c.String("extra"))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	std := make([]float64, channels)
	switch {
	case len(norm.Std) == channels:
		copy(std, norm.Std)
	case len(norm.Std) > 0:
		for i := range std {
			std[i] = norm.Std[min(i, len(norm.Std)-1)]
		}
	default:
		return nil, fmt.Errorf("features: --extra: normalisation %q has no std", norm.Name)
	}
	spec := &features.ExtraSpec{Methods: methods, InputStd: std, Threads: c.Int("threads")}
	for _, g := range []struct {
		flag  string
		dst   *[]float64
		sweep []float64
	}{{"odin-temperatures", &spec.Temperatures, features.ODINTemperatures}, {"odin-noises", &spec.Noises, features.ODINNoises}} {
		if !c.IsSet(g.flag) {
			continue
		}
		for _, v := range c.Float64Slice(g.flag) {
			if !slices.Contains(g.sweep, v) {
				return nil, usageError{fmt.Sprintf("features: --%s %g: not in OpenOOD's sweep %v, which t2f score searches", g.flag, v, g.sweep)}
			}
		}
		*g.dst = c.Float64Slice(g.flag)
	}
	return spec, nil
}

// writeExtra computes spec's columns for one split with net and writes
// them beside the feature files.
func writeExtra(c *cli.Context, net features.ExtraNetwork, src features.Source, spec *features.ExtraSpec, meta features.Meta, outDir string, quiet bool) error {
	if len(spec.Columns(net.Dim(), net.NumClasses())) == 0 {
		return nil
	}
	bar := newProgress(c.App.ErrWriter, quiet, meta.Dataset+"/"+meta.Split+" --extra", int64(src.Len()))
	start := time.Now()
	t, err := features.ComputeExtra(c.Context, net, src, *spec, features.Options{
		BatchSize: c.Int("batch-size"), Meta: meta,
		Progress: func(done, total int) { bar.Update(int64(done), "") },
	})
	bar.Finish()
	if err != nil {
		return err
	}
	path := features.ExtraPath(outDir, meta.Dataset, meta.Split)
	if err := features.WriteExtra(path, t, net.Dim(), net.NumClasses()); err != nil {
		return err
	}
	if !quiet {
		secs := time.Since(start).Seconds()
		names := make([]string, len(t.Columns))
		for i, col := range t.Columns {
			names[i] = col.Name
		}
		fmt.Fprintf(c.App.Writer, "%s: %d rows, %d extra columns (%s) in %.1f s (%.1f images/s)\n",
			path, t.Len(), len(t.Columns), shortList(names, 4), secs, float64(t.Len())/secs)
	}
	return nil
}

func shortList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", … %d more", len(s)-n)
}

// trainSource is the index and source of the one train split among --data,
// for the ID-train statistics of --extra method (what: what is estimated
// there).
func trainSource(readers []*shards.Reader, dirs []string, sourceOf func(int) (features.Source, error), method, what string) (int, features.Source, error) {
	ti := -1
	for i, r := range readers {
		if r.Meta().Split != "train" {
			continue
		}
		if ti >= 0 {
			return 0, nil, usageError{fmt.Sprintf("features: --extra %s: --data %s and %s are both train splits; give the ID train split once", method, dirs[ti], dirs[i])}
		}
		ti = i
	}
	if ti < 0 {
		return 0, nil, usageError{fmt.Sprintf("features: --extra %s needs the ID train split among --data: %s", method, what)}
	}
	src, err := sourceOf(ti)
	return ti, src, err
}

// mdsStats computes mds_ensemble's ID-train statistics (class means and
// precision of the pooled stem map) from the one train split among
// --data, before any split's extra columns: OpenOOD's setup pass.
func mdsStats(c *cli.Context, net features.ExtraNetwork, readers []*shards.Reader, dirs []string, sourceOf func(int) (features.Source, error), classes int, quiet bool) (*features.MDSStats, error) {
	ti, src, err := trainSource(readers, dirs, sourceOf, features.ExtraMDSEns, "its class means and precision are estimated there first (one forward per train image)")
	if err != nil {
		return nil, err
	}
	m := readers[ti].Meta()
	bar := newProgress(c.App.ErrWriter, quiet, m.Dataset+"/"+m.Split+" mds_ensemble statistics", int64(src.Len()))
	x, labels, dim, err := features.TrainStemFeatures(c.Context, net, src, features.Options{
		BatchSize: c.Int("batch-size"),
		Progress:  func(done, total int) { bar.Update(int64(done), "") },
	})
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("features: --data %s: %w", dirs[ti], err)
	}
	mu, prec, err := posthoc.ClassGaussian(x, labels, len(labels), dim, classes)
	if err != nil {
		return nil, fmt.Errorf("features: --data %s: --extra mds_ensemble: %w", dirs[ti], err)
	}
	return &features.MDSStats{Dim: dim, Classes: classes, Means: mu, Precision: prec}, nil
}

// gramStats computes gram's ID-train statistics (per-class ranges of the
// Gram features of every convolution and ReLU output, and the per-layer
// normalisation from a seeded held-out 10%) from the one train split among
// --data: OpenOOD's setup pass.
func gramStats(c *cli.Context, net features.ExtraNetwork, readers []*shards.Reader, dirs []string, sourceOf func(int) (features.Source, error), quiet bool) (*features.GramStats, error) {
	ti, src, err := trainSource(readers, dirs, sourceOf, features.ExtraGram, "the per-class ranges of its Gram features are estimated there first (one forward per train image, plus one per held-out 10%)")
	if err != nil {
		return nil, err
	}
	m := readers[ti].Meta()
	bar := newProgress(c.App.ErrWriter, quiet, m.Dataset+"/"+m.Split+" gram statistics", int64(src.Len()+src.Len()/10))
	st, err := features.TrainGramStats(c.Context, net, src, features.GramOptions{Seed: c.Uint64("seed"), Threads: c.Int("threads")}, features.Options{
		BatchSize: c.Int("batch-size"),
		Progress:  func(done, total int) { bar.Update(int64(done), "") },
	})
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("features: --data %s: --extra gram: %w", dirs[ti], err)
	}
	return st, nil
}

// gmmStats fits gmm's ID-train statistics on the one train split among
// --data, before any split's extra columns (OpenOOD's setup pass): the
// flattened stage maps (spilled to a temporary file in outDir when large,
// removed afterwards), PCA and the tied Gaussian mixture, seeded by seed.
func gmmStats(c *cli.Context, net features.ExtraNetwork, readers []*shards.Reader, dirs []string, sourceOf func(int) (features.Source, error), outDir string, seed uint64, quiet bool) (*features.GMMStats, error) {
	ti, src, err := trainSource(readers, dirs, sourceOf, features.ExtraGMM, "its PCA and Gaussian mixture are fitted there first (one forward per train image, the maps kept in memory up to 1 GiB, beyond that in a temporary file in --out)")
	if err != nil {
		return nil, err
	}
	m := readers[ti].Meta()
	bar := newProgress(c.App.ErrWriter, quiet, m.Dataset+"/"+m.Split+" gmm statistics", int64(src.Len()))
	rows, err := features.TrainStageRows(c.Context, net, src, features.GMMStage, features.Spill{Dir: outDir}, features.Options{
		BatchSize: c.Int("batch-size"),
		Progress:  func(done, total int) { bar.Update(int64(done), "") },
	})
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("features: --data %s: --extra gmm: %w", dirs[ti], err)
	}
	defer rows.Close()
	start := time.Now()
	p, g, err := posthoc.FitGMMLayer(c.Context, rows, features.GMMDim, features.GMMComponents, seed)
	if err != nil {
		return nil, fmt.Errorf("features: --data %s: --extra gmm: %w", dirs[ti], err)
	}
	n, d := rows.Dims()
	if !quiet {
		conv := "converged"
		if !g.Converged {
			conv = "did not converge (scikit-learn warns the same way)"
		}
		fmt.Fprintf(c.App.ErrWriter, "features: gmm: %d train maps of %d values: %s PCA(%d), tied GMM of %d components %s after %d EM iterations (mean log-likelihood %.4g), %.1f s, --seed %d\n",
			n, d, p.Solver, p.K, g.K, conv, g.Iterations, g.LowerBound, time.Since(start).Seconds(), seed)
	}
	st, err := features.NewGMMStats(features.GMMStage, d, p.K, g.K, p.Components, g.Means, g.Precision, g.Weights)
	if err != nil {
		return nil, err
	}
	return st, rows.Close()
}
