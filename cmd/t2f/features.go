package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/nn"
)

func newFeaturesCommand() *cli.Command {
	return &cli.Command{
		Name:      "features",
		Usage:     "run a checkpoint over shard directories and write Parquet feature files",
		UsageText: "t2f features --checkpoint FILE.safetensors --data DIR [--data DIR ...] --out DIR [options]",
		Description: `Runs the network in eval mode over each --data shard directory with the test transform
(ToTensor + Normalize of the stored pixels) and writes, in --out:

   <dataset>_<split>.parquet   one row per image: id, dataset, split, label (-1 = OOD), feature f,
                               feature_normalized f/‖f‖, feature_norm ‖f‖, logits (training
                               forward), logits_ood (W·f/τ + b for T2FNorm), pred
   head.safetensors            the classifier head fc.weight (C×D), fc.bias (C) and tau, so
                               t2f score needs nothing else

Every file records the checkpoint's SHA-256; t2f score refuses to mix files of different
checkpoints. See docs/features.md for the columns and metadata.

The model (architecture, width, head, τ, normalisation) comes from the run's config.yaml beside
the checkpoint, else from the checkpoint's own metadata (t2f checkpoints carry it). A bare
PyTorch state_dict saved with safetensors.torch.save_file has neither: give --model and --head
(τ is read from the state_dict's "tau"). A flag that contradicts config.yaml or the checkpoint is
an error. The image size and channels come from the shards.

Examples:
   t2f features --checkpoint runs/lenet-t2fnorm/best.safetensors \
       --data shards/mnist-train --data shards/mnist-test --data shards/notmnist-test --out feats/lenet
   t2f features --checkpoint openood_cifar10_t2fnorm.safetensors --model resnet18_32x32 --head t2fnorm \
       --normalization cifar10 --data shards/cifar10-test --data shards/svhn-test --out feats/r18
   t2f score --features feats/lenet --id mnist --far notmnist --out results/lenet`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "model weights (safetensors: a t2f checkpoint or a PyTorch state_dict)", Required: true},
			&cli.StringSliceFlag{Name: "data", Usage: "shard directory (from t2f pipeline build); repeat for every split to extract", Required: true},
			&cli.StringFlag{Name: "out", Usage: "directory for the feature files and head.safetensors (created if needed)", Required: true},
			&cli.StringFlag{Name: "model", Usage: "architecture: lenet, resnet18_32x32, resnet18_224x224, resnet50, small_resnet (default: from config.yaml or the checkpoint)"},
			&cli.Float64Flag{Name: "width", Usage: "width multiplier of the ResNets (default: from config.yaml or the checkpoint, else 1)"},
			&cli.StringFlag{Name: "head", Usage: "t2fnorm or linear (default: from config.yaml or the checkpoint)"},
			&cli.Float64Flag{Name: "tau", Usage: "T2FNorm τ; only checked against the checkpoint's tau, which is what the network uses"},
			&cli.StringFlag{Name: "normalization", Usage: "cifar10, cifar100, imagenet or mnist (0.5/0.5) (default: from config.yaml, else OpenOOD's choice for the ID dataset: the first --data with one class name per output)"},
			&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "images per forward pass"},
			&cli.IntFlag{Name: "threads", Value: 2, Usage: "compute threads in all"},
			deviceFlag(),
			precisionFlag(precisionUsage + " (default fp32, whatever the training precision)"),
			&cli.IntFlag{Name: "workers", Usage: "model instances, each running its own batch with threads/workers threads (default: --threads, one thread each: fastest for small models, e.g. 1.2–1.9× for LeNet; equal for ResNets; each instance holds its own activations)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar and no per-file lines"},
			extraFlag(),
		}, extraGridFlags()...),
		Action: runFeatures,
	}
}

// engineNetwork is the one place where the training engine meets feature
// extraction: an nn.Model run in eval mode (BatchNorm running statistics) as
// a features.Network. An nn.Model is not safe for concurrent use; with
// --workers > 1 each worker gets its own model (same weights, own backend)
// behind a features.Pool.
type engineNetwork struct{ m *nn.Model }

func (n engineNetwork) InputShape() (c, h, w int) {
	s := n.m.InputShape(1)
	return s[1], s[2], s[3]
}
func (n engineNetwork) Dim() int        { return n.m.FeatureSize() }
func (n engineNetwork) NumClasses() int { return n.m.Config().Classes }
func (n engineNetwork) Forward(x []float32, k int, feature, logits, logitsOOD []float32) error {
	out, err := n.m.ForwardHost(x, false)
	if err != nil {
		return err
	}
	if s := out.Feature.Shape(); len(s) != 2 || s[0] != k || s[1]*k != len(feature) {
		return fmt.Errorf("engine returned features %v for %d images of dim %d", s, k, n.Dim())
	}
	be := n.m.Backend()
	be.Download(feature, out.Feature)
	be.Download(logits, out.Logits)
	be.Download(logitsOOD, out.OODLogits)
	return nil
}

// featureModel is the resolved model description.
type featureModel struct {
	cfg           nn.Config
	normalization string
	from          string   // where the settings came from, for messages
	classes       []string // ID class names: those of the first --data with one name per class
	method        string   // training method (checkpoint metadata or config.yaml); "" when unknown
}

// resolveFeatureModel merges, in increasing priority, the checkpoint's t2f
// metadata, the run's config.yaml beside the checkpoint, and the flags; a
// flag that contradicts a value found in a file is a usage error.
func resolveFeatureModel(c *cli.Context, ckpt *safetensors.File, ckptPath string, metas []shards.Meta) (featureModel, error) {
	var fm featureModel
	cfg := &fm.cfg
	known := map[string]string{} // setting → where it was found
	var trainedSize int
	md, err := nn.ConfigFromMetadata(ckpt.Metadata)
	if _, ok := ckpt.Metadata[nn.MetaArch]; ok && err != nil {
		return fm, fmt.Errorf("features: %s metadata: %w", ckptPath, err) // e.g. a width beyond nn.MaxWidth
	}
	if err == nil {
		*cfg = md
		trainedSize = md.ImageSize
		for _, k := range []string{"model", "width", "head", "tau"} {
			known[k] = ckptPath + " metadata"
		}
		fm.from = "checkpoint metadata"
	}
	fm.method = ckpt.Metadata[train.MetaMethod]
	cfgPath := filepath.Join(filepath.Dir(ckptPath), train.ConfigFile)
	run, err := train.ReadConfig(cfgPath)
	switch {
	case err == nil:
		cfg.Arch, cfg.Width, cfg.Head, cfg.Tau = run.Model, run.Width, run.Head, float32(run.Tau)
		fm.method = run.Method()
		if run.InChannels > 0 {
			cfg.InChannels = run.InChannels
		}
		if run.Normalization != "" && run.Normalization != "auto" {
			fm.normalization = run.Normalization
			known["normalization"] = cfgPath
		}
		for _, k := range []string{"model", "width", "head", "tau"} {
			known[k] = cfgPath
		}
		fm.from = cfgPath
	case !errors.Is(err, os.ErrNotExist):
		return fm, err
	}
	conflict := func(flag, got, want string) error {
		return usageError{fmt.Sprintf("features: --%s %s contradicts %s (%s); drop the flag", flag, got, known[flag], want)}
	}
	if c.IsSet("model") {
		if _, ok := known["model"]; ok && c.String("model") != cfg.Arch {
			return fm, conflict("model", c.String("model"), cfg.Arch)
		}
		cfg.Arch = c.String("model")
	}
	if c.IsSet("width") {
		if _, ok := known["width"]; ok && c.Float64("width") != cfg.Width {
			return fm, conflict("width", fmt.Sprint(c.Float64("width")), fmt.Sprint(cfg.Width))
		}
		cfg.Width = c.Float64("width")
	}
	if c.IsSet("head") {
		if _, ok := known["head"]; ok && c.String("head") != cfg.Head {
			return fm, conflict("head", c.String("head"), cfg.Head)
		}
		cfg.Head = c.String("head")
	}
	if c.IsSet("normalization") {
		if _, ok := known["normalization"]; ok && c.String("normalization") != fm.normalization {
			return fm, conflict("normalization", c.String("normalization"), fm.normalization)
		}
		fm.normalization = c.String("normalization")
	}
	if cfg.Arch == "" || cfg.Head == "" {
		return fm, usageError{fmt.Sprintf("features: %s has no t2f metadata and there is no %s beside it: give --model and --head (a bare PyTorch state_dict)",
			ckptPath, train.ConfigFile)}
	}
	if fm.from == "" {
		fm.from = "flags"
	}

	// Shapes: classes from the checkpoint's fc, image size and channels from the shards.
	prefix := ""
	if cfg.Head == nn.HeadT2FNorm {
		prefix = "backbone."
	}
	w, err := ckpt.Tensor(prefix + "fc.weight")
	if err != nil {
		return fm, fmt.Errorf("features: %s head %q: %w", cfg.Arch, cfg.Head, err)
	}
	if len(w.Shape) != 2 {
		return fm, fmt.Errorf("features: %s: %sfc.weight has shape %v, want [classes features]", ckptPath, prefix, w.Shape)
	}
	if cfg.Classes != 0 && cfg.Classes != w.Shape[0] {
		return fm, fmt.Errorf("features: %s: metadata says %d classes, %sfc.weight has %d rows", ckptPath, cfg.Classes, prefix, w.Shape[0])
	}
	cfg.Classes = w.Shape[0]
	// The ID dataset: the first --data with one class name per output.
	data := metas[0]
	for _, m := range metas {
		if len(m.Classes) == cfg.Classes {
			data, fm.classes = m, m.Classes
			break
		}
	}
	if data.Height != data.Width {
		return fm, fmt.Errorf("features: the shards hold %d×%d images; the models take square inputs", data.Height, data.Width)
	}
	if trainedSize != 0 && trainedSize != data.Height {
		return fm, fmt.Errorf("features: %s was trained on %d×%d inputs, the shards hold %d×%d images", ckptPath, trainedSize, trainedSize, data.Height, data.Width)
	}
	cfg.ImageSize = data.Height
	if cfg.InChannels == 0 {
		cfg.InChannels = data.Channels
	}
	if cfg.Width == 0 {
		cfg.Width = 1
	}
	if cfg.Head == nn.HeadLinear {
		cfg.Tau = 0
	} else if cfg.Tau == 0 {
		cfg.Tau = nn.DefaultTau // replaced by the checkpoint's tau on load
	}
	if fm.normalization == "" {
		fm.normalization = train.NormalizationFor(data.Dataset)
	}
	if _, err := augment.Preset(fm.normalization); err != nil {
		return fm, usageError{fmt.Sprintf("features: --normalization: %v", err)}
	}
	return fm, nil
}

// roundTau is τ as the shortest decimal of its float32 value (0.1, not
// 0.10000000149011612).
func roundTau(t float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(t), 'g', -1, 32), 64)
	return v
}

func runFeatures(c *cli.Context) error {
	prec, err := parsePrecision(c)
	if err != nil {
		return err
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

	ckpt, err := safetensors.Read(ckptPath)
	if err != nil {
		return fmt.Errorf("features: --checkpoint: %w", err)
	}
	sum, err := shards.FileSHA256(ckptPath)
	if err != nil {
		return fmt.Errorf("features: --checkpoint: %w", err)
	}
	metas := make([]shards.Meta, len(readers))
	for i, r := range readers {
		metas[i] = r.Meta()
	}
	fm, err := resolveFeatureModel(c, ckpt, ckptPath, metas)
	if err != nil {
		return err
	}
	instances := make([]features.Network, workers)
	var model *nn.Model
	for i := range instances {
		be, err := newBackend(c, max(1, c.Int("threads")/workers), prec)
		if err != nil {
			return err
		}
		m, err := nn.New(be, fm.cfg, 0)
		if err != nil {
			return usageError{fmt.Sprintf("features: model from %s: %v", fm.from, err)}
		}
		if err := m.LoadStateDict(ckpt); err != nil {
			return fmt.Errorf("features: load %s as %s (%s head, width %g, from %s): %w",
				ckptPath, fm.cfg.Arch, fm.cfg.Head, fm.cfg.Width, fm.from, err)
		}
		instances[i], model = engineNetwork{m}, m
	}
	net, err := features.NewPool(instances...)
	if err != nil {
		return err
	}
	tau := 1.0
	if fm.cfg.Head == nn.HeadT2FNorm {
		tau = roundTau(model.Tau())
		if c.IsSet("tau") && c.Float64("tau") != tau {
			return usageError{fmt.Sprintf("features: --tau %g contradicts the checkpoint's tau %g, which the network uses; drop the flag", c.Float64("tau"), tau)}
		}
	}
	classes := fm.classes
	norm, _ := augment.Preset(fm.normalization) // checked in resolveFeatureModel
	extra, err := parseExtraFlag(c, norm, fm.cfg.InChannels)
	if err != nil {
		return err
	}
	lock, err := lockOut("features", outDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	if !quiet {
		fmt.Fprintf(c.App.ErrWriter, "features: %s (%s head, τ %g, width %g, %d classes, D %d; settings from %s), normalisation %s, checkpoint sha256 %.12s…\n",
			fm.cfg.Arch, fm.cfg.Head, tau, fm.cfg.Width, fm.cfg.Classes, net.Dim(), fm.from, fm.normalization, sum)
		if extra != nil {
			fmt.Fprintf(c.App.ErrWriter, "features: --extra %s costs %s besides the plain extraction (1 forward)\n",
				strings.Join(extra.Methods, ","), extra.Cost())
		}
	}

	for i, r := range readers {
		m := r.Meta()
		tf := augment.TestTransform(norm)
		tf.OutChannels = fm.cfg.InChannels
		aug, err := augment.NewAugmenter(tf, augment.Shape{H: m.Height, W: m.Width, C: m.Channels})
		if err != nil {
			return fmt.Errorf("features: --data %s: %w", dirs[i], err)
		}
		src, err := features.NewShardSource(r, aug)
		if err != nil {
			return err
		}
		path := filepath.Join(outDir, features.FileName(m.Dataset, m.Split))
		bar := newProgress(c.App.ErrWriter, quiet, m.Dataset+"/"+m.Split, int64(r.Len()))
		start := time.Now()
		meta := features.Meta{Dataset: m.Dataset, Split: m.Split, Model: fm.cfg.Arch, Width: fm.cfg.Width,
			Head: fm.cfg.Head, Tau: tau, Classes: classes, CheckpointSHA256: sum, Method: fm.method}
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
			if err := writeExtra(c, engineNetwork{model}, src, extra, meta, outDir, quiet); err != nil {
				return fmt.Errorf("features: --data %s: --extra: %w", dirs[i], err)
			}
		}
	}

	prefix := ""
	if fm.cfg.Head == nn.HeadT2FNorm {
		prefix = "backbone."
	}
	head := features.Head{Kind: fm.cfg.Head, Model: fm.cfg.Arch, Width: fm.cfg.Width, Classes: classes,
		CheckpointSHA256: sum, Dim: net.Dim(), NumClasses: fm.cfg.Classes, Tau: tau}
	for name, dst := range map[string]*[]float32{prefix + "fc.weight": &head.Weight, prefix + "fc.bias": &head.Bias} {
		t, err := ckpt.Tensor(name)
		if err != nil {
			return fmt.Errorf("features: %s: %w", ckptPath, err)
		}
		if *dst, err = t.Float32s(); err != nil {
			return fmt.Errorf("features: %s: %w", ckptPath, err)
		}
	}
	if err := features.WriteHead(outDir, head); err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(c.App.Writer, "%s: fc.weight %d×%d, fc.bias, tau %g\n", filepath.Join(outDir, features.HeadFileName), head.NumClasses, head.Dim, tau)
	}
	return nil
}
