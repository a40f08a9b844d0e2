package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
)

// trainConfig resolves defaults < run's config.yaml (--resume) < --config < flags.
func trainConfig(c *cli.Context) (train.Config, error) {
	cfg := train.Defaults()
	var err error
	if c.Bool("resume") {
		if cfg, err = train.ReadConfig(filepath.Join(c.String("out"), train.ConfigFile)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return cfg, fmt.Errorf("--resume: %s holds no run to resume (no %s)", c.String("out"), train.ConfigFile)
			}
			return cfg, err
		}
		if c.IsSet("init") && c.String("init") != cfg.Init {
			return cfg, usageError{fmt.Sprintf("train: --init %s with --resume: a resumed run continues from its own saved state (it started from %q); drop --init", c.String("init"), cfg.Init)}
		}
	}
	if path := c.String("config"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
		if cfg, err = train.ParseConfig(data, path); err != nil {
			return cfg, err
		}
	}
	set := func(name string, apply func()) {
		if c.IsSet(name) {
			apply()
		}
	}
	set("train", func() { cfg.Train = c.String("train") })
	set("val", func() { cfg.Val = c.String("val") })
	set("model", func() { cfg.Model = c.String("model") })
	set("width", func() { cfg.Width = c.Float64("width") })
	if c.IsSet("method") {
		m := c.String("method")
		if err := cfg.SetMethod(m); err != nil {
			return cfg, usageError{fmt.Sprintf("--method: %v", err)}
		}
		if c.IsSet("head") && c.String("head") != cfg.Head && m != train.MethodOE {
			return cfg, usageError{fmt.Sprintf("train: --method %s trains the %s head, not --head %s (only oe takes --head: --method oe --head t2fnorm is T2FNorm with Outlier Exposure)", m, cfg.Head, c.String("head"))}
		}
	}
	set("head", func() { cfg.Head = c.String("head") })
	set("tau", func() { cfg.Tau = c.Float64("tau") })
	set("logitnorm-tau", func() { cfg.LogitNormTau = c.Float64("logitnorm-tau") })
	set("lambda-oe", func() { cfg.LambdaOE = c.Float64("lambda-oe") })
	set("outliers", func() { cfg.Outliers = c.String("outliers") })
	set("outlier-batch-size", func() { cfg.OutlierBatchSize = c.Int("outlier-batch-size") })
	set("epochs", func() { cfg.Epochs = c.Int("epochs") })
	set("batch-size", func() { cfg.BatchSize = c.Int("batch-size") })
	set("lr", func() { cfg.LR = c.Float64("lr") })
	set("min-lr", func() { cfg.MinLR = c.Float64("min-lr") })
	set("warmup-epochs", func() { cfg.WarmupEpochs = c.Float64("warmup-epochs") })
	set("momentum", func() { cfg.Momentum = c.Float64("momentum") })
	set("nesterov", func() { cfg.Nesterov = c.Bool("nesterov") })
	set("weight-decay", func() { cfg.WeightDecay = c.Float64("weight-decay") })
	set("seed", func() { cfg.Seed = c.Uint64("seed") })
	set("init", func() { cfg.Init = c.String("init") })
	set("augment", func() { cfg.Augment = c.String("augment") })
	set("padding", func() { cfg.Padding = c.Int("padding") })
	set("no-flip", func() { cfg.NoFlip = c.Bool("no-flip") })
	set("normalization", func() { cfg.Normalization = c.String("normalization") })
	set("in-channels", func() { cfg.InChannels = c.Int("in-channels") })
	set("workers", func() { cfg.Workers = c.Int("workers") })
	set("threads", func() { cfg.Threads = c.Int("threads") })
	set("precision", func() { cfg.Precision = c.String("precision") })
	if cfg.Train == "" || cfg.Val == "" {
		return cfg, usageError{"train: --train and --val are required (shard directories from t2f pipeline build)"}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err.Error()}
	}
	cfg.Code = buildStamp().String() // never from a file: it names this binary
	return cfg, nil
}

// openSplit opens a shard directory as a training split.
func openSplit(dir string) (*shards.Reader, train.Split, error) {
	r, err := shards.Open(dir)
	if err != nil {
		return nil, train.Split{}, err
	}
	m := r.Meta()
	return r, train.Split{
		Name: dir, Dataset: m.Dataset, Data: r, Classes: len(m.Classes),
		Shape: augment.Shape{H: m.Height, W: m.Width, C: m.Channels},
	}, nil
}
