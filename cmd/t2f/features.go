package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train/checkpoint"
	"github.com/t2f/t2f/train/nn"
)

func newFeaturesCommand() *cli.Command {
	return &cli.Command{
		Name:      "features",
		Usage:     "run a checkpoint over shard directories and write Parquet feature files",
		UsageText: "t2f features --checkpoint FILE --data DIR [--data DIR ...] --out DIR [options]",
		Description: `Runs the network in eval mode over each --data shard directory with the test transform
(ToTensor + Normalize of the stored pixels) and writes, in --out:

   <dataset>_<split>.parquet   one row per image: id, dataset, split, label (-1 = OOD), feature f,
                               feature_normalized f/‖f‖, feature_norm ‖f‖, logits (training
                               forward), logits_ood (W·f/τ + b for T2FNorm), pred
   head.safetensors            the classifier head fc.weight (C×D), fc.bias (C) and tau, so
                               t2f score needs nothing else

Every file records the checkpoint's SHA-256; t2f score refuses to mix files of different
checkpoints. See docs/features.md for the columns and metadata.

--checkpoint is a t2f checkpoint (best.safetensors), a safetensors state_dict, or a PyTorch
torch.save file (.pth/.ckpt/.pt, zip or legacy; read without executing anything): OpenOOD's
best.ckpt (LeNet, ResNet18_32x32, ResNet18_224x224, ResNet50, T2FNormNet), torchvision's
ResNet-18/50, with or without DataParallel's "module.", "net." or T2FNormNet's "backbone.".
The model (architecture, width, head, τ, classes) comes, in increasing priority, from the
tensor names and shapes, the checkpoint's t2f metadata, the run's config.yaml beside it, and
--model/--width/--head/--tau; a flag that contradicts a file is an error. A T2FNorm file
that stores no tau needs --tau. The image size and channels come from the shards (grey
shards feed a 3-channel model by repeating the channel).

Normalisation: --normalization, else the run's config.yaml, else OpenOOD's choice for the
ID dataset (the first --data with one class name per output): cifar10, cifar100,
imagenet for ImageNet-200/1k, and mean = std = 0.5 otherwise; the choice and its source
are printed.

Examples:
   t2f features --checkpoint runs/lenet-t2fnorm/best.safetensors \
       --data shards/mnist-train --data shards/mnist-test --data shards/notmnist-test --out feats/lenet
   t2f features --checkpoint cifar10_resnet18_32x32_t2fnorm/s0/best.ckpt \
       --data shards/cifar10-test --data shards/svhn-test --out feats/r18
   t2f score --features feats/lenet --id mnist --far notmnist --out results/lenet`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "model weights: .safetensors (t2f or a state_dict) or a PyTorch .pth/.ckpt/.pt state_dict (required)"},
			&cli.StringSliceFlag{Name: "data", Usage: "shard directory (from t2f pipeline build); repeat for every split to extract (required)"},
			&cli.StringFlag{Name: "out", Usage: "directory for the feature files and head.safetensors, created if needed (required)"},
			&cli.StringFlag{Name: "model", Usage: "architecture: lenet, resnet18_32x32, resnet18_224x224, resnet50, small_resnet (default: from config.yaml or the checkpoint, else its tensor names)"},
			&cli.Float64Flag{Name: "width", Usage: "width multiplier of the ResNets (default: from config.yaml or the checkpoint, else its tensor shapes)"},
			&cli.StringFlag{Name: "head", Usage: "t2fnorm or linear (default: from config.yaml or the checkpoint; a state_dict with tau is t2fnorm)"},
			&cli.Float64Flag{Name: "tau", Usage: "T2FNorm τ: required when the checkpoint stores none (older OpenOOD T2FNormNet files), else checked against its tau"},
			&cli.StringFlag{Name: "normalization", Aliases: []string{"normalize"}, Usage: "test-transform preset: cifar10, cifar100, imagenet200, imagenet1k (= imagenet) or mnist (0.5/0.5) (default: from config.yaml, else OpenOOD's choice for the ID dataset: the first --data with one class name per output)"},
			&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "images per forward pass"},
			&cli.IntFlag{Name: "threads", Value: 2, Usage: "compute threads in all"},
			deviceFlag(),
			precisionFlag(precisionUsage + " (default fp32, whatever the training precision)"),
			&cli.IntFlag{Name: "workers", Usage: "model instances, each running its own batch with threads/workers threads (default: --threads, one thread each: fastest for small models, e.g. 1.2–1.9× for LeNet; equal for ResNets; each instance holds its own activations; the --extra methods run on one more instance with all --threads threads)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar and no per-file lines"},
			extraFlag(),
		}, extraGridFlags()...),
		Action:      runFeatures,
		Subcommands: []*cli.Command{newFeaturesImportCommand()},
	}
}

func runFeatures(c *cli.Context) error {
	prec, err := parsePrecision(c)
	if err != nil {
		return err
	}
	// Checked here, not by the flags' Required, which would also bind the
	// import subcommand.
	var missing []string
	for _, name := range []string{"checkpoint", "data", "out"} {
		if !c.IsSet(name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Sprintf("Required flags %q not set", strings.Join(missing, ", "))}
	}
	if c.Int("batch-size") < 1 {
		return usageError{fmt.Sprintf("--batch-size %d: want at least 1", c.Int("batch-size"))}
	}
	if c.Int("threads") < 1 {
		return usageError{fmt.Sprintf("--threads %d: want at least 1", c.Int("threads"))}
	}
	workers := c.Int("threads")
	if c.IsSet("workers") {
		workers = c.Int("workers")
	}
	if workers < 1 {
		return usageError{fmt.Sprintf("--workers %d: want at least 1", workers)}
	}
	ckptPath, outDir, quiet := c.String("checkpoint"), c.String("out"), c.Bool("quiet")

	// Open every shard directory first: a bad --data fails before any work.
	dirs := c.StringSlice("data")
	readers := make([]*shards.Reader, 0, len(dirs))
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	names := map[string]string{}
	for _, dir := range dirs {
		r, err := shards.Open(dir)
		if err != nil {
			return fmt.Errorf("features: --data %s: %w", dir, err)
		}
		readers = append(readers, r)
		m := r.Meta()
		name := features.FileName(m.Dataset, m.Split)
		if prev, dup := names[name]; dup {
			return usageError{fmt.Sprintf("features: --data %s and %s are both %s/%s; each split once", prev, dir, m.Dataset, m.Split)}
		}
		names[name] = dir
		if f := readers[0].Meta(); m.Height != f.Height || m.Width != f.Width || m.Channels != f.Channels {
			return fmt.Errorf("features: --data %s holds %d×%d×%d images, %s holds %d×%d×%d; one model takes one input size",
				dir, m.Height, m.Width, m.Channels, dirs[0], f.Height, f.Width, f.Channels)
		}
	}

	metas := make([]shards.Meta, len(readers))
	for i, r := range readers {
		metas[i] = r.Meta()
	}
	fm, err := checkpoint.Open(ckptPath, checkpoint.Options{Arch: c.String("model"), Width: c.Float64("width"),
		Head: c.String("head"), Tau: c.Float64("tau"), Normalization: c.String("normalization"), Data: metas})
	if errors.Is(err, checkpoint.ErrSettings) {
		return usageError{err.Error()}
	}
	if err != nil {
		return fmt.Errorf("features: --checkpoint: %w", err)
	}
	instances := make([]features.Network, workers)
	var model *nn.Model // the last instance, for --extra
	for i := range instances {
		be, err := newBackend(c, max(1, c.Int("threads")/workers), prec)
		if err != nil {
			return err
		}
		m, err := fm.New(be)
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
		instances[i], model = checkpoint.Network{Model: m}, m
	}
	if c.IsSet("extra") && workers > 1 {
		// The --extra methods run one batch at a time on one instance:
		// give it every thread (its activations are its own).
		be, err := newBackend(c, c.Int("threads"), prec)
		if err != nil {
			return err
		}
		if model, err = fm.New(be); err != nil {
			return fmt.Errorf("features: %w", err)
		}
	}
	net, err := features.NewPool(instances...)
	if err != nil {
		return err
	}
	cfg, tau := fm.Config, fm.Tau()
	norm, err := augment.Preset(fm.Normalization) // checked by checkpoint.Open
	if err != nil {
		return usageError{fmt.Sprintf("features: --normalization: %v", err)}
	}
	extra, err := parseExtraFlag(c, norm, cfg.InChannels)
	if err != nil {
		return err
	}
	lock, err := lockOut("features", outDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if !quiet {
		fmt.Fprintf(c.App.ErrWriter, "features: %s (%s head, τ %g, width %g, %d classes, D %d; settings from %s), normalisation %s (from %s), checkpoint sha256 %.12s…\n",
			cfg.Arch, cfg.Head, tau, cfg.Width, cfg.Classes, net.Dim(), fm.From, fm.Normalization, fm.NormalizationFrom, fm.SHA256)
		if extra != nil {
			fmt.Fprintf(c.App.ErrWriter, "features: --extra %s costs, besides the plain extraction (1 forward), %s\n",
				strings.Join(extra.Methods, ","), extra.Cost())
		}
	}

	sourceOf := func(i int) (features.Source, error) {
		m := readers[i].Meta()
		tf := augment.TestTransform(norm)
		tf.OutChannels = cfg.InChannels
		aug, err := augment.NewAugmenter(tf, augment.Shape{H: m.Height, W: m.Width, C: m.Channels})
		if err != nil {
			return nil, fmt.Errorf("features: --data %s: %w", dirs[i], err)
		}
		return features.NewShardSource(readers[i], aug)
	}
	if extra != nil && slices.Contains(extra.Methods, features.ExtraMDSEns) {
		if extra.MDS, err = mdsStats(c, checkpoint.Network{Model: model}, readers, dirs, sourceOf, cfg.Classes, quiet); err != nil {
			return err
		}
	}
	if extra != nil && slices.Contains(extra.Methods, features.ExtraGram) {
		if extra.Gram, err = gramStats(c, checkpoint.Network{Model: model}, readers, dirs, sourceOf, quiet); err != nil {
			return err
		}
	}
	if extra != nil && slices.Contains(extra.Methods, features.ExtraGMM) {
		if extra.GMM, err = gmmStats(c, checkpoint.Network{Model: model}, readers, dirs, sourceOf, outDir, c.Uint64("seed"), quiet); err != nil {
			return err
		}
	}

	for i, r := range readers {
		m := r.Meta()
		src, err := sourceOf(i)
		if err != nil {
			return err
		}
		path := filepath.Join(outDir, features.FileName(m.Dataset, m.Split))
		bar := newProgress(c.App.ErrWriter, quiet, m.Dataset+"/"+m.Split, int64(r.Len()))
		start := time.Now()
		meta := features.Meta{Dataset: m.Dataset, Split: m.Split, Model: cfg.Arch, Width: cfg.Width,
			Head: cfg.Head, Tau: tau, Classes: fm.Classes, CheckpointSHA256: fm.SHA256, Method: fm.Method}
		err = features.ExtractFile(c.Context, net, src, features.Options{
			BatchSize: c.Int("batch-size"), Workers: net.Size(),
			Meta:     meta,
			Progress: func(done, total int) { bar.Update(int64(done), "") },
		}, path)
		bar.Finish()
		if err != nil {
			return fmt.Errorf("features: --data %s: %w", dirs[i], err)
		}
		if !quiet {
			secs := time.Since(start).Seconds()
			fmt.Fprintf(c.App.Writer, "%s: %d rows in %.1f s (%.0f images/s)\n", path, r.Len(), secs, float64(r.Len())/secs)
		}
		if extra != nil && m.Split != "train" { // no network method fits on ID train
			if err := writeExtra(c, checkpoint.Network{Model: model}, src, extra, meta, outDir, quiet); err != nil {
				return fmt.Errorf("features: --data %s: --extra: %w", dirs[i], err)
			}
		}
	}

	head := features.Head{Kind: cfg.Head, Model: cfg.Arch, Width: cfg.Width, Classes: fm.Classes,
		CheckpointSHA256: fm.SHA256, Dim: net.Dim(), NumClasses: cfg.Classes, Tau: tau}
	if head.Weight, head.Bias, err = fm.Head(); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	if err := features.WriteHead(outDir, head); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(c.App.Writer, "%s: fc.weight %d×%d, fc.bias, tau %g\n", filepath.Join(outDir, features.HeadFileName), head.NumClasses, head.Dim, tau)
	}
	return nil
}
