package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/formats/pth"
)

// The T2FNorm repository's recipes (scripts/ood/t2fnorm/<bench>_{train,test}_t2fnorm.sh) for
// users who have OpenOOD's data folder, as t2f step plans (the same step
// machinery as t2f demo): build shards from OpenOOD's image lists, train
// with the paper's settings, evaluate near/far (and full-spectrum) OOD with
// the T2FNorm postprocessor as scripts/eval_ood.py does.

func newRecipeCommand() *cli.Command {
	sub := func(phase, usage string) *cli.Command {
		return &cli.Command{
			Name:      phase,
			Usage:     usage,
			UsageText: "t2f recipe " + phase + " --bench cifar10|cifar100|imagenet200|imagenet --openood DIR [--seeds 0,1,2] [--epochs N] [--pretrained FILE] [--list]",
			Flags:     recipeFlags(),
			Action:    func(c *cli.Context) error { return recipeAction(c, phase) },
		}
	}
	return &cli.Command{
		Name: "recipe",
		Subcommands: []*cli.Command{
			sub("train", "build the ID train/val shards from the image lists and train with the paper's settings"),
			sub("test", "build the test and OOD shards, dump features of every seed, score as the T2FNorm repository's test script"),
		},
		Usage:     "the T2FNorm repository's train/test scripts on an OpenOOD data folder (CIFAR-10/100, ImageNet-200, ImageNet-1k)",
		UsageText: "t2f recipe train|test --bench BENCH --openood DIR [--seeds 0,1,2] [--epochs N] [--list]",
		Description: `Does what the T2FNorm repository's scripts/ood/t2fnorm/<bench>_train_t2fnorm.sh and _test_t2fnorm.sh do, given
OpenOOD's data folder (the one holding images_classic/, images_largescale/ and benchmark_imglist/):

   train: build shards of the ID train and val image lists, then t2f train with the paper's
          settings: T2FNorm head, τ 0.1, SGD Nesterov momentum 0.9, weight decay 5e-4, batch 128,
          per-step cosine to 1e-6, no warm-up; CIFAR: resnet18_32x32, 100 epochs, lr 0.1, flip +
          crop, 32×32 shards; ImageNet-200: resnet18_224x224 from scratch, 90 epochs, lr 0.1;
          ImageNet-1k: resnet50 fine-tuned from torchvision's pretrained weights (--pretrained),
          30 epochs, lr 0.001. ImageNet training shards are stored at 256×256 (shorter side 256,
          centre crop) so RandomResizedCrop(224) samples from a 256 image; the val shards, like
          every evaluated set, get OpenOOD's test transform Resize(256) → CenterCrop(224)
          (pipeline build --resize 256 --size 224).
   test:  build shards of the ID test list and every OOD list of OpenOOD v1.5's benchmark (near,
          far, and the covariate-shifted ID sets for full-spectrum OOD: cifar10c; imagenet_v2/c/r),
          dump features of every seed's best checkpoint (with --methods other than t2fnorm, also
          of the ID train list, for ImageNet in shards of its own built with the test transform:
          <name>-train-eval) and score them with the T2FNorm
          postprocessor: per-dataset rows, nearood/farood means, mean ± std over seeds, in the
          T2FNorm repository's layout (FPR@95, AUROC, AUPR_IN, AUPR_OUT, ACC), CSVs in <out>/<run>/ood/.

ImageNet-1k fine-tunes from --pretrained FILE, by default where the T2FNorm repository's script reads it:
<openood>/../results/pretrained_weights/resnet50_imagenet1k_v1.pth (OpenOOD's results/ folder
beside its data/ folder). It is torchvision's IMAGENET1K_V1 ResNet-50 state_dict, e.g.
   curl -Lo resnet50_imagenet1k_v1.pth https://download.pytorch.org/models/resnet50-0676ba61.pth
(torch.save's zip format and its legacy pre-1.6 format are both read; the file is checked before
any step runs).

Runs are stored as the T2FNorm repository names them: <out>/<bench>_t2fnorm_net_t2fnorm_e<E>_lr<LR>_alpha0.1_default/s<seed>.
Finished steps are skipped on a rerun (stamps in <out>/<bench>/.steps, for the data steps in
<data>/<bench>/.steps); --list shows every command.

Examples:
   t2f recipe train --bench cifar10 --openood ~/OpenOOD/data --seeds 0,1,2
   t2f recipe test --bench cifar10 --openood ~/OpenOOD/data --seeds 0,1,2
   t2f recipe test --bench imagenet200 --openood ~/OpenOOD/data --methods all   # every post-hoc method
   t2f recipe train --bench imagenet --openood ~/OpenOOD/data --pretrained ~/weights/resnet50_imagenet1k_v1.pth`,
	}
}

// checkPretrained reads a --pretrained .pth file (zip or legacy pre-1.6
// format) as t2f train --init will, so that a file it cannot read (e.g. a
// truncated download or a pickled whole model) fails now, not after hours of
// shard building.
func checkPretrained(path string) error {
	if strings.HasSuffix(path, ".safetensors") {
		return nil
	}
	_, err := pth.Read(path)
	return err
}

func recipeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bench", Required: true, Usage: "cifar10, cifar100, imagenet200 or imagenet"},
		&cli.StringFlag{Name: "openood", Required: true, Usage: "OpenOOD data folder (images_classic/, images_largescale/, benchmark_imglist/)"},
		&cli.StringFlag{Name: "seeds", Value: "0", Usage: "comma-separated seeds (one run each; the T2FNorm scripts' $RANDOM)"},
		&cli.IntFlag{Name: "epochs", Usage: "training epochs (default: the paper's)"},
		&cli.Float64Flag{Name: "width", Value: 1, Usage: "ResNet width multiplier (1 = the paper's network)"},
		&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "training batch"},
		&cli.StringFlag{Name: "pretrained", Usage: "imagenet train: the pretrained ResNet-50 `FILE` to fine-tune (torch.save .pth or .safetensors; default <openood>/../results/pretrained_weights/resnet50_imagenet1k_v1.pth, as the T2FNorm repository's script)"},
		&cli.StringFlag{Name: "methods", Value: "t2fnorm", Usage: "test: post-hoc methods (t2fnorm as the T2FNorm repository's test script; all for every method, with the OOD val search)"},
		&cli.StringFlag{Name: "data", Value: "data/openood", Usage: "folder for the shards"},
		&cli.StringFlag{Name: "out", Value: "runs/recipes", Usage: "folder for the runs and results"},
		&cli.BoolFlag{Name: "list", Usage: "print the steps and their commands"},
		&cli.BoolFlag{Name: "force", Usage: "run steps even when their stamp says they are done"},
	}
}

func recipeAction(c *cli.Context, phase string) error {
	b, ok := recipeBenchmarks()[c.String("bench")]
	if !ok {
		return usageError{fmt.Sprintf("--bench %q: want cifar10, cifar100, imagenet200 or imagenet", c.String("bench"))}
	}
	o := recipeOptions{Bench: b, Root: c.String("openood"), Data: c.String("data"), Out: c.String("out"), Epochs: c.Int("epochs"),
		Width: c.Float64("width"), BatchSize: c.Int("batch-size"), Methods: c.String("methods"), Phase: phase, Pretrained: c.String("pretrained")}
	switch {
	case b.pretrained == "" && o.Pretrained != "":
		return usageError{fmt.Sprintf("--pretrained: the T2FNorm repository trains %s from scratch; only --bench imagenet fine-tunes pretrained weights", b.name)}
	case b.pretrained != "" && o.Width != 1:
		return usageError{fmt.Sprintf("--width %v: %s fine-tunes the pretrained %s, whose width is 1", o.Width, b.name, b.model)}
	case b.pretrained != "" && o.Pretrained == "":
		o.Pretrained = defaultPretrained(o.Root, b)
	}
	seeds, err := parseSeeds(c.String("seeds"))
	if err != nil {
		return err
	}
	o.Seeds = seeds
	if !isDir(filepath.Join(o.Root, "benchmark_imglist")) {
		return fmt.Errorf("recipe: %s has no benchmark_imglist/ folder; give OpenOOD's data folder with --openood", o.Root)
	}
	for _, s := range b.sets {
		if s.role == "train" || s.role == "val" || s.role == "test" {
			if _, err := os.Stat(filepath.Join(o.Root, s.list)); err != nil {
				return fmt.Errorf("recipe: %s: the ID %s list is missing: %w", b.name, s.split, err)
			}
		}
	}
	if b.pretrained != "" && phase == "train" && !c.Bool("list") {
		if _, err := os.Stat(o.Pretrained); err != nil {
			return fmt.Errorf("recipe: %s: the pretrained weights are missing: %w\n"+
				"the T2FNorm repository fine-tunes torchvision's ImageNet-1k ResNet-50 (%s); download it, e.g.\n"+
				"   curl -Lo %s https://download.pytorch.org/models/resnet50-0676ba61.pth\n"+
				"or give its path with --pretrained FILE", b.name, err, b.pretrained, o.Pretrained)
		}
		if err := checkPretrained(o.Pretrained); err != nil {
			return fmt.Errorf("recipe: %s: --pretrained: %w", b.name, err)
		}
	}
	return planAction(c.Context, c.App.Writer, c.App.ErrWriter, recipePlan(o), c.Bool("list"), "", c.Bool("force"))
}
