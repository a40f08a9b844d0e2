package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/nn"
)

func newTrainCommand() *cli.Command {
	d := train.Defaults()
	return &cli.Command{
		Name:      "train",
		Usage:     "train a classifier with T2FNorm, LogitNorm, Outlier Exposure or plain cross-entropy on shards",
		UsageText: "t2f train --train DIR --val DIR --model NAME --method ce|t2fnorm|logitnorm|oe [--outliers DIR] --out RUN_DIR [options]",
		Description: `Trains with OpenOOD's recipe: SGD (momentum 0.9, Nesterov, weight decay 5e-4 on every
parameter), a per-step cosine learning rate from --lr down to --min-lr, flip + RandomCrop(pad 4)
augmentation, and model selection on the validation accuracy. The defaults are OpenOOD's T2FNorm
recipe for CIFAR-10 (ResNet-18, τ = 0.1, 100 epochs, batch 128, lr 0.1).

Methods (--method; OpenOOD's trainers and defaults, the same optimiser and schedule for all):
   ce         cross-entropy on a plain network (linear head)
   t2fnorm    T2FNorm: logits W·(f/‖f‖)/τ + b in training, --tau 0.1 (the default method)
   logitnorm  LogitNorm: cross-entropy of z/(‖z‖+1e-7)/τ on the plain logits z, --logitnorm-tau
              0.04; the network is plain and scores with its plain logits (MSP), as OpenOOD
   oe         Outlier Exposure: cross-entropy + --lambda-oe 0.5 × the cross-entropy to the
              uniform distribution on an outlier batch per step from --outliers DIR (shards whose
              labels are all −1, e.g. built with --label-ood), --outlier-batch-size images (default
              twice --batch-size, OpenOOD's 128 + 256); ID and outlier images go through the
              network as one batch (BatchNorm sees both), as OpenOOD. The outlier loader restarts
              with each epoch and whenever it runs dry, deterministically, so --resume stays exact.
              --method oe --head t2fnorm trains T2FNorm with Outlier Exposure.
--head alone still works: --head linear is ce, --head t2fnorm is t2fnorm. config.yaml records
head and loss with every hyper-parameter; checkpoints name the method (metadata t2f.method) and
keep OpenOOD's state_dict names for their network (plain for ce/logitnorm/oe, T2FNormNet's
"backbone." names and "tau" for t2fnorm and t2fnorm+oe).

Settings come from the defaults, then --config FILE (YAML, the keys of config.yaml), then flags.
The run directory gets best.safetensors, last.safetensors, state.safetensors (optimiser and
position), config.yaml and epochs.csv. Ctrl-C saves a resumable state and exits with code 130;
--resume continues it and ends with exactly the weights of an uninterrupted run.

--init FILE starts the run from pretrained weights instead of a fresh initialisation (fine-tuning,
as OpenOOD does for ImageNet-1k). FILE is a PyTorch state_dict saved with torch.save (.pth, the
zip or the legacy pre-1.6 format, read without Python; torchvision or OpenOOD names, with or without T2FNormNet's "backbone." or
DataParallel's "module." prefix) or a .safetensors checkpoint (t2f's own best/last included).
Every backbone tensor must be in the file with the shape of --model/--width; the fc classifier is
loaded when its shape fits, otherwise it keeps its fresh initialisation (fine-tuning to another
class count); a T2FNorm file's tau is ignored (--tau wins). The file is read only when the run
starts (not on --resume); its path and SHA-256 go into every checkpoint's metadata.

Examples:
   t2f train --train shards/mnist-train --val shards/mnist-val --model lenet --head t2fnorm \
       --epochs 10 --warmup-epochs 1 --out runs/lenet-t2fnorm
       (LeNet has no BatchNorm; with T2FNorm at lr 0.1 a one-epoch warm-up avoids a stalled start)
   t2f train --train shards/fmnist-train --val shards/fmnist-val --model resnet18_32x32 --width 0.25 \
       --head linear --epochs 20 --out runs/r18q-ce
   t2f train --train shards/fmnist-train --val shards/fmnist-val --model lenet --method logitnorm \
       --epochs 5 --warmup-epochs 1 --out runs/lenet-logitnorm
   t2f train --train shards/fmnist-train --val shards/fmnist-val --model lenet --method oe \
       --outliers shards/letters-aux --epochs 5 --out runs/lenet-oe
   t2f train --out runs/lenet-t2fnorm --resume        # continue an interrupted run
   t2f train --train data/openood/imagenet/imagenet-train --val data/openood/imagenet/imagenet-val \
       --model resnet50 --head t2fnorm --augment resized_crop --epochs 30 --lr 0.001 \
       --init results/pretrained_weights/resnet50_imagenet1k_v1.pth --out runs/in1k-t2fnorm
       (OpenOOD's ImageNet-1k recipe: fine-tune torchvision's pretrained ResNet-50, fc included;
       t2f recipe train --bench imagenet runs it with the shards it builds)`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "train", Usage: "training shard directory (from t2f pipeline build)"},
			&cli.StringFlag{Name: "val", Usage: "validation shard directory (model selection)"},
			&cli.StringFlag{Name: "out", Usage: "run directory to create (or to continue with --resume)", Required: true},
			&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last saved state"},
			&cli.StringFlag{Name: "config", Usage: "YAML file with settings (keys as in config.yaml); flags override it"},
			&cli.StringFlag{Name: "model", Value: d.Model, Usage: "lenet, resnet18_32x32, resnet18_224x224, resnet50 or small_resnet"},
			&cli.Float64Flag{Name: "width", Value: d.Width, Usage: "width multiplier of the ResNets (e.g. 0.25)"},
			&cli.StringFlag{Name: "method", Usage: "ce, t2fnorm, logitnorm or oe (default: from --head, t2fnorm)"},
			&cli.StringFlag{Name: "head", Value: d.Head, Usage: "t2fnorm (W·(f/‖f‖)/τ + b) or linear (cross-entropy baseline); with --method only for oe"},
			&cli.Float64Flag{Name: "tau", Value: d.Tau, Usage: "T2FNorm temperature τ"},
			&cli.Float64Flag{Name: "logitnorm-tau", Value: d.LogitNormTau, Usage: "LogitNorm temperature τ"},
			&cli.Float64Flag{Name: "lambda-oe", Value: d.LambdaOE, Usage: "Outlier Exposure weight λ of the uniform-target loss"},
			&cli.StringFlag{Name: "outliers", Usage: "Outlier Exposure's auxiliary outlier shard `DIR` (labels −1)"},
			&cli.IntFlag{Name: "outlier-batch-size", Usage: "outlier images per step (0: twice --batch-size)"},
			&cli.IntFlag{Name: "epochs", Value: d.Epochs},
			&cli.IntFlag{Name: "batch-size", Value: d.BatchSize},
			&cli.Float64Flag{Name: "lr", Value: d.LR, Usage: "initial learning rate"},
			&cli.Float64Flag{Name: "min-lr", Value: d.MinLR, Usage: "learning rate at the end of the cosine schedule"},
			&cli.Float64Flag{Name: "warmup-epochs", Value: d.WarmupEpochs, Usage: "linear warm-up before the cosine (OpenOOD: 0)"},
			&cli.Float64Flag{Name: "momentum", Value: d.Momentum},
			&cli.BoolFlag{Name: "nesterov", Value: d.Nesterov, Usage: "Nesterov momentum (--nesterov=false to turn off)"},
			&cli.Float64Flag{Name: "weight-decay", Value: d.WeightDecay, Usage: "L2 weight decay on every parameter"},
			&cli.Uint64Flag{Name: "seed", Value: d.Seed, Usage: "seed of initialisation, shuffling and augmentation"},
			&cli.StringFlag{Name: "init", Usage: "start from pretrained weights: a torch.save `FILE` (.pth state_dict, e.g. torchvision's resnet50) or .safetensors checkpoint; fc loaded when its shape fits"},
			&cli.StringFlag{Name: "augment", Value: d.Augment, Usage: "crop (flip + RandomCrop with padding) or resized_crop (ImageNet RandomResizedCrop 224 + flip)"},
			&cli.IntFlag{Name: "padding", Value: d.Padding, Usage: "RandomCrop zero padding"},
			&cli.BoolFlag{Name: "no-flip", Usage: "turn off the random horizontal flip (OpenOOD flips every dataset, digits too)"},
			&cli.StringFlag{Name: "normalization", Value: d.Normalization, Usage: "cifar10, cifar100, imagenet, mnist (0.5/0.5) or auto (from the dataset name)"},
			&cli.IntFlag{Name: "in-channels", Usage: "model input channels; 3 with grey shards replicates the channel (OpenOOD's LeNet); default: the shards'"},
			&cli.IntFlag{Name: "workers", Value: d.Workers, Usage: "augmentation goroutines (results do not depend on it)"},
			&cli.IntFlag{Name: "threads", Value: d.Threads, Usage: "compute threads"},
			deviceFlag(),
			precisionFlag(precisionUsage + "; recorded in config.yaml and epochs.csv, a run resumes in its own precision"),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar and no per-epoch lines"},
		},
		Action: runTrain,
	}
}

func runTrain(c *cli.Context) error {
	cfg, err := trainConfig(c)
	if err != nil {
		return err
	}
	be, err := newBackend(c, cfg.Threads, backend.Precision(cfg.Precision))
	if err != nil {
		return err
	}
	trainReader, trainSplit, err := openSplit(cfg.Train)
	if err != nil {
		return err
	}
	defer trainReader.Close()
	valReader, valSplit, err := openSplit(cfg.Val)
	if err != nil {
		return err
	}
	defer valReader.Close()
	var outliers *train.Split
	if cfg.Loss == train.LossOE {
		r, s, err := openSplit(cfg.Outliers)
		if err != nil {
			return fmt.Errorf("--outliers: %w", err)
		}
		defer r.Close()
		outliers = &s
	}

	quiet := c.Bool("quiet")
	stderr := c.App.ErrWriter
	bar := newProgress(stderr, quiet, "epoch", 0)
	warnedCollapse := false
	hooks := train.Hooks{
		Step: func(p train.Progress) {
			bar.Relabel(fmt.Sprintf("epoch %d/%d", p.Epoch, p.Epochs), int64(p.Batches))
			bar.Update(int64(p.Batch), fmt.Sprintf("loss %.4f acc %.2f%% %.0f img/s", p.Loss, 100*p.Acc, p.ImagesPerSec))
		},
		Init: func(r nn.PretrainedReport) {
			if !quiet {
				fmt.Fprintln(stderr, r.String())
			}
		},
		Epoch: func(r train.EpochRecord) {
			bar.Finish()
			if r.Collapsed() && !warnedCollapse {
				warnedCollapse = true
				fmt.Fprintf(stderr, "t2f train: warning: epoch %d: every validation feature is 0 (val ‖f‖ = 0): the network has collapsed (dead ReLUs) and will not recover; retrain with a lower --lr or a longer --warmup-epochs\n", r.Epoch)
			}
			if quiet {
				return
			}
			best := ""
			if r.Best {
				best = " (best)"
			}
			fmt.Fprintf(stderr, "epoch %d/%d  loss %.4f  train acc %.2f%%  val acc %.2f%%%s  val ‖f‖ %.3g  %.0f img/s  data wait %s  %s\n",
				r.Epoch, cfg.Epochs, r.TrainLoss, 100*r.TrainAcc, 100*r.ValAcc, best, r.ValFeatureNorm, r.ImagesPerSec,
				r.DataWait.Round(time.Millisecond), r.Duration.Round(time.Millisecond))
		},
	}
	if !quiet {
		fmt.Fprintf(stderr, "training %s with %s (%s head, width %g) on %s (%d images, %d classes), validating on %s (%d images), %d epochs → %s\n",
			cfg.Model, cfg.Method(), cfg.Head, cfg.Width, cfg.Train, trainReader.Len(), trainSplit.Classes, cfg.Val, valReader.Len(), cfg.Epochs, c.String("out"))
	}
	sum, err := train.Run(c.Context, cfg, trainSplit, valSplit, c.String("out"), train.Options{
		Backend: be, Resume: c.Bool("resume"), Hooks: hooks, Outliers: outliers,
	})
	bar.Finish()
	if errors.Is(err, nn.ErrDiverged) {
		return fmt.Errorf("%w\n(recorded in %s; retrain with a lower --lr or a longer --warmup-epochs)", err, filepath.Join(c.String("out"), train.DivergedFile))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "done: %d epochs, best validation accuracy %.2f%% at epoch %d (best.safetensors), last %.2f%% (last.safetensors) in %s\n",
		sum.Epochs, 100*sum.BestValAcc, sum.BestEpoch, 100*sum.LastValAcc, c.String("out"))
	return nil
}
