package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/nn"
	"github.com/t2f/t2f/train/perf"
)

func newBenchTrainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "measure training and inference images/s of a network on synthetic input",
		Description: `Builds the network on the CPU backend with a synthetic batch (N(0,1) pixels,
random labels) and times training steps (forward in train mode, mean
cross-entropy, backward, SGD with momentum 0.9, Nesterov, weight decay 5e-4)
and then eval-mode forward passes. Each figure is the median of --rounds
rounds of at least --min-round each (min and max are in the JSON output).
The same steps run under 'go test -bench . ./train/perf'.

--method picks the training objective as t2f train does: ce and t2fnorm time
cross-entropy (t2fnorm also sets --head t2fnorm), logitnorm the LogitNorm loss
(computed on the host), oe Outlier Exposure: every step forwards and
back-propagates --outliers more images (default twice --batch-size, OpenOOD's
128 + 256) with the batch. Rates count the --batch-size ID images only, so OE's
rate against ce's shows what its extra batch costs.

Defaults follow the issue's benchmark shapes: lenet 1×28×28, the 32×32
ResNets 3×32×32, the torchvision ResNets 3×224×224; --channels and --size
override them. The PyTorch reference on the same machine, same shapes:
/usr/bin/python3 scripts/bench_torch_models.py (run it in the same session and
compare ratios: the machine is shared).

EXAMPLES:
   t2f bench train --model lenet                              # LeNet 1×28×28, batch 128, all cores
   t2f bench train --model resnet18_32x32 --threads 2 --json  # ResNet-18 3×32×32
   t2f bench train --model resnet18_32x32 --width 0.25 --channels 1 --size 28
   t2f bench train --model small_resnet --channels 1 --size 28  # ResNet-8 (16-32-64)
   t2f bench train --model resnet18_32x32 --threads 2 --precision bf16  # bfloat16 products (VDPBF16PS)
   for m in ce t2fnorm logitnorm oe; do                        # per training method
     t2f bench train --model resnet18_32x32 --threads 2 --method $m --json; done`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Required: true, Usage: "lenet, resnet18_32x32, resnet18_224x224, resnet50 or small_resnet"},
			&cli.Float64Flag{Name: "width", Value: 1, Usage: "width multiplier (stage widths max(1, round(64·w)), …; not for lenet/small_resnet)"},
			&cli.IntFlag{Name: "channels", Usage: "input channels (default: 1 for lenet, else 3)"},
			&cli.IntFlag{Name: "size", Usage: "input height = width (default: 28 lenet, 32 for the 32×32 ResNets, else 224)"},
			&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "images per step (at least 2)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (default: all cores)"},
			&cli.IntFlag{Name: "classes", Value: 10, Usage: "number of classes"},
			&cli.StringFlag{Name: "head", Value: nn.HeadLinear, Usage: "linear or t2fnorm"},
			&cli.StringFlag{Name: "method", Usage: "training method: ce, t2fnorm, logitnorm or oe (t2fnorm sets --head t2fnorm)"},
			&cli.IntFlag{Name: "outliers", Usage: "oe: outlier images per step (0: twice --batch-size)"},
			&cli.IntFlag{Name: "rounds", Value: 5, Usage: "timed rounds per phase (the median is reported)"},
			&cli.DurationFlag{Name: "min-round", Value: time.Second, Usage: "minimum duration of one round"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object (train_images_per_s, infer_images_per_s, …)"},
			deviceFlag(),
			precisionFlag(precisionUsage),
		},
		Action: runBenchTrain,
	}
}

// benchTrainOutput is the JSON object `t2f bench train --json` prints.
type benchTrainOutput struct {
	Code     string  `json:"code"` // the t2f build (provenance)
	Model    string  `json:"model"`
	Width    float64 `json:"width"`
	Channels int     `json:"channels"`
	Size     int     `json:"size"`
	Head     string  `json:"head"`
	Method   string  `json:"method,omitempty"`
	Outliers int     `json:"outliers,omitempty"`
	perf.Result
}

func runBenchTrain(c *cli.Context) error {
	model := c.String("model")
	channels := c.Int("channels")
	if channels == 0 {
		channels = 3
		if model == nn.ArchLeNet {
			channels = 1
		}
	}
	threads := c.Int("threads")
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	switch {
	case threads < 0:
		return usageError{fmt.Sprintf("--threads %d: want a positive count", threads)}
	case c.Int("batch-size") < 2:
		return usageError{fmt.Sprintf("--batch-size %d: want at least 2 (training BatchNorm needs two images)", c.Int("batch-size"))}
	case c.Int("rounds") < 1:
		return usageError{fmt.Sprintf("--rounds %d: want at least 1", c.Int("rounds"))}
	case c.Duration("min-round") <= 0:
		return usageError{fmt.Sprintf("--min-round %v: want a positive duration", c.Duration("min-round"))}
	case c.Int("size") < 0:
		return usageError{fmt.Sprintf("--size %d: want a positive size", c.Int("size"))}
	}
	head, loss := c.String("head"), perf.LossCE
	switch m := c.String("method"); m {
	case "", train.MethodCE:
	case train.MethodT2FNorm:
		head = nn.HeadT2FNorm
	case train.MethodLogitNorm:
		loss = perf.LossLogitNorm
	case train.MethodOE:
		loss = perf.LossOE
	default:
		return usageError{fmt.Sprintf("--method %q: want ce, t2fnorm, logitnorm or oe", m)}
	}
	outliers := c.Int("outliers")
	if outliers < 0 {
		return usageError{fmt.Sprintf("--outliers %d: want ≥ 0", outliers)}
	}
	if loss == perf.LossOE && outliers == 0 {
		outliers = 2 * c.Int("batch-size")
	}
	cfg := nn.Config{Arch: model, Width: c.Float64("width"), InChannels: channels, ImageSize: c.Int("size"),
		Classes: c.Int("classes"), Head: head}
	cfg, err := cfg.Resolve()
	if err != nil {
		return usageError{fmt.Sprintf("%v (check --model, --width, --channels, --size, --classes, --head)", err)}
	}
	prec, err := parsePrecision(c)
	if err != nil {
		return err
	}
	res, err := measureTrain(c, perf.Config{Model: cfg, Batch: c.Int("batch-size"), Threads: threads,
		Rounds: c.Int("rounds"), MinRound: c.Duration("min-round"), Seed: 1, Loss: loss, Outliers: outliers, Precision: prec})
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		out := benchTrainOutput{Code: buildStamp().String(), Model: model, Width: cfg.Width, Channels: channels, Size: cfg.ImageSize, Head: cfg.Head,
			Method: c.String("method"), Outliers: outliers, Result: res}
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "%s (width %g, %d×%d×%d input, %d params), batch %d, %d threads, %s (%s), median of %d rounds:\n",
		model, cfg.Width, channels, cfg.ImageSize, cfg.ImageSize, res.Params, res.Batch, res.Threads, res.Precision, res.Kernel, res.Rounds)
	fmt.Fprintf(w, "  train %10.1f images/s  (min %.1f, max %.1f)\n", res.TrainImagesPerSec, res.TrainMinMax[0], res.TrainMinMax[1])
	fmt.Fprintf(w, "  infer %10.1f images/s  (min %.1f, max %.1f)\n", res.InferImagesPerSec, res.InferMinMax[0], res.InferMinMax[1])
	fmt.Fprintf(w, "Made by t2f %s\n", buildStamp())
	return nil
}
