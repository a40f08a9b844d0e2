package train

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/nn"
)

// Config is everything that defines a training run; config.yaml holds it.
// Defaults returns OpenOOD's T2FNorm recipe for CIFAR-10.
type Config struct {
	Model string  `yaml:"model"` // an nn architecture: lenet, resnet18_32x32, resnet18_224x224, resnet50, small_resnet
	Width float64 `yaml:"width"` // width multiplier of the ResNets (1 = as published)
	Head  string  `yaml:"head"`  // "t2fnorm" or "linear" (cross-entropy baseline)
	Tau   float64 `yaml:"tau"`   // T2FNorm temperature τ

	// The training objective: "ce" (cross-entropy), "logitnorm" (OpenOOD's
	// LogitNormLoss) or "oe" (Outlier Exposure: cross-entropy plus
	// LambdaOE times the uniform-target loss on an auxiliary outlier batch
	// per step). With Head it makes the method (Method, SetMethod).
	Loss         string  `yaml:"loss"`
	LogitNormTau float64 `yaml:"logitnorm_tau"` // LogitNorm temperature (OpenOOD: 0.04)
	LambdaOE     float64 `yaml:"lambda_oe"`     // OE weight λ (OpenOOD: 0.5)
	// Outliers is the shard directory of OE's auxiliary outliers (every
	// label −1); OutlierBatchSize their batch, 0 = twice BatchSize (OpenOOD:
	// 128 ID and 256 outlier images per step).
	Outliers         string `yaml:"outliers"`
	OutlierBatchSize int    `yaml:"outlier_batch_size"`

	Epochs       int     `yaml:"epochs"`
	BatchSize    int     `yaml:"batch_size"`
	LR           float64 `yaml:"lr"`            // initial learning rate lr0
	MinLR        float64 `yaml:"min_lr"`        // the cosine schedule's floor (OpenOOD: 1e-6)
	WarmupEpochs float64 `yaml:"warmup_epochs"` // linear warm-up before the cosine (OpenOOD: none)
	Momentum     float64 `yaml:"momentum"`
	Nesterov     bool    `yaml:"nesterov"`
	WeightDecay  float64 `yaml:"weight_decay"` // on every parameter, as OpenOOD

	Seed uint64 `yaml:"seed"` // initialisation, shuffling and augmentation

	// Init is the file of pretrained weights the model starts from (a
	// torch.save .pth state_dict, e.g. torchvision's ResNet-50, or a
	// safetensors checkpoint, t2f's own included; see nn.LoadPretrained); ""
	// starts from PyTorch's initialisation drawn from Seed. It is read when a
	// run starts, not on resume. The fc is loaded when its shape fits,
	// otherwise it keeps its fresh initialisation.
	Init string `yaml:"init"`

	// The shard directories, recorded for the record and for --resume; Run
	// itself is handed the opened splits.
	Train string `yaml:"train"`
	Val   string `yaml:"val"`

	// Augmentation: AugmentCrop (flip + RandomCrop with padding, CIFAR/MNIST)
	// or AugmentResizedCrop (RandomResizedCrop + flip, ImageNet).
	Augment       string `yaml:"augment"`
	Padding       int    `yaml:"padding"`       // RandomCrop padding (OpenOOD: 4)
	NoFlip        bool   `yaml:"no_flip"`       // OpenOOD flips every dataset, digits included
	Normalization string `yaml:"normalization"` // augment preset (cifar10, cifar100, imagenet, mnist) or NormalizationAuto: from the dataset name, as OpenOOD
	InChannels    int    `yaml:"in_channels"`   // model input channels; 0 = the shards' channels

	// Precision of the convolutions and linear layers: "fp32" or "bf16"
	// (bfloat16 operands, float32 sums; parameters, BatchNorm, loss and
	// optimiser stay float32; see backend.Precision). It changes results, so
	// a run resumes only in its own precision.
	Precision string `yaml:"precision"`

	// Execution settings: they change speed, not results.
	Workers int `yaml:"workers"` // augmentation goroutines
	Threads int `yaml:"threads"` // compute threads of the CPU backend

	// Code is the t2f build that started the run (provenance.Stamp's
	// String, set by the program); epochs.csv names the build of every
	// epoch, so a run resumed by other code shows it.
	Code string `yaml:"code,omitempty"`
}

// Defaults is the OpenOOD T2FNorm training recipe (§1.4 of the reference):
// ResNet-18 (32×32), τ = 0.1, 100 epochs of batch 128, SGD lr 0.1, momentum
// 0.9, Nesterov, weight decay 5e-4, per-step cosine to 1e-6, no warm-up.
func Defaults() Config {
	return Config{
		Model: nn.ArchResNet18_32, Width: 1, Head: nn.HeadT2FNorm, Tau: 0.1,
		Loss: LossCE, LogitNormTau: 0.04, LambdaOE: 0.5,
		Epochs: 100, BatchSize: 128, LR: 0.1, MinLR: 1e-6, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4,
		Augment: AugmentCrop, Padding: 4, Normalization: NormalizationAuto, Precision: string(backend.FP32),
		Workers: 2, Threads: 2,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("train: config %s = %v, want %s", name, v, want)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !slices.Contains(nn.Archs, c.Model):
		return bad("model", c.Model, fmt.Sprintf("one of %v", nn.Archs))
	case c.Head != nn.HeadT2FNorm && c.Head != nn.HeadLinear:
		return bad("head", c.Head, "t2fnorm or linear")
	case c.Head == nn.HeadT2FNorm && !(c.Tau > 0 && finite(c.Tau)):
		return bad("tau", c.Tau, "a positive number")
	case c.Loss != LossCE && c.Loss != LossLogitNorm && c.Loss != LossOE:
		return bad("loss", c.Loss, "ce, logitnorm or oe")
	case c.Loss == LossLogitNorm && c.Head != nn.HeadLinear:
		return bad("head", c.Head, "linear with loss logitnorm (LogitNorm normalises the logits of a plain network; its feature is not normalised)")
	case c.Loss == LossLogitNorm && !(c.LogitNormTau > 0 && finite(c.LogitNormTau)):
		return bad("logitnorm_tau", c.LogitNormTau, "a positive number")
	case c.Loss == LossOE && !(c.LambdaOE >= 0 && finite(c.LambdaOE)):
		return bad("lambda_oe", c.LambdaOE, "a finite number ≥ 0")
	case c.Loss == LossOE && c.Outliers == "":
		return bad("outliers", `""`, "a shard directory of outlier images (label −1) with loss oe")
	case c.OutlierBatchSize < 0:
		return bad("outlier_batch_size", c.OutlierBatchSize, "≥ 0 (0: twice batch_size)")
	case !(c.Width > 0 && finite(c.Width)):
		return bad("width", c.Width, "a positive number")
	case c.Epochs < 1:
		return bad("epochs", c.Epochs, "at least 1")
	case c.BatchSize < 2:
		return bad("batch_size", c.BatchSize, "at least 2 (BatchNorm needs two samples)")
	case !(c.LR > 0 && finite(c.LR)):
		return bad("lr", c.LR, "a positive number")
	case !(c.MinLR >= 0 && c.MinLR <= c.LR):
		return bad("min_lr", c.MinLR, fmt.Sprintf("between 0 and lr (%v)", c.LR))
	case !(c.WarmupEpochs >= 0 && c.WarmupEpochs < float64(c.Epochs)):
		return bad("warmup_epochs", c.WarmupEpochs, fmt.Sprintf("in [0, epochs=%d)", c.Epochs))
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return bad("momentum", c.Momentum, "in [0, 1)")
	case c.Nesterov && c.Momentum == 0:
		return bad("nesterov", c.Nesterov, "false when momentum is 0")
	case !(c.WeightDecay >= 0 && finite(c.WeightDecay)):
		return bad("weight_decay", c.WeightDecay, "a finite number ≥ 0")
	case c.Augment != AugmentCrop && c.Augment != AugmentResizedCrop:
		return bad("augment", c.Augment, AugmentCrop+" or "+AugmentResizedCrop)
	case c.Padding < 0:
		return bad("padding", c.Padding, "≥ 0")
	case c.InChannels < 0:
		return bad("in_channels", c.InChannels, "≥ 0")
	case c.Precision != string(backend.FP32) && c.Precision != string(backend.BF16):
		return bad("precision", c.Precision, "fp32 or bf16")
	case c.Workers < 1:
		return bad("workers", c.Workers, "at least 1")
	case c.Threads < 1:
		return bad("threads", c.Threads, "at least 1")
	}
	if c.Normalization != NormalizationAuto {
		if _, err := augment.Preset(c.Normalization); err != nil {
			return fmt.Errorf("train: config normalization: %w", err)
		}
	}
	return nil
}

// Augmentations (Config.Augment) and the normalisation that follows the
// dataset (Config.Normalization; any other value is an augment.Preset).
const (
	AugmentCrop        = "crop"         // flip + RandomCrop with padding (CIFAR/MNIST)
	AugmentResizedCrop = "resized_crop" // RandomResizedCrop + flip (ImageNet)
	NormalizationAuto  = "auto"         // the preset named by the training set's dataset, as OpenOOD
)

// Training objectives (Config.Loss).
const (
	LossCE        = "ce"
	LossLogitNorm = "logitnorm"
	LossOE        = "oe"
)

// Training methods: what t2f train --method takes and Config.Method
// returns. T2FNorm with Outlier Exposure is MethodT2FNormOE.
const (
	MethodCE        = "ce"
	MethodT2FNorm   = "t2fnorm"
	MethodLogitNorm = "logitnorm"
	MethodOE        = "oe"
	MethodT2FNormOE = "t2fnorm+oe"
)

// Methods lists the methods SetMethod accepts, in the order tables list them.
var Methods = []string{MethodCE, MethodLogitNorm, MethodOE, MethodT2FNorm, MethodT2FNormOE}

// Method names c's head and loss together: ce, t2fnorm, logitnorm, oe or
// t2fnorm+oe.
func (c Config) Method() string {
	switch {
	case c.Head == nn.HeadT2FNorm && c.Loss == LossOE:
		return MethodT2FNormOE
	case c.Head == nn.HeadT2FNorm:
		return MethodT2FNorm
	case c.Loss == LossLogitNorm:
		return MethodLogitNorm
	case c.Loss == LossOE:
		return MethodOE
	}
	return MethodCE
}

// SetMethod sets the head and the loss of a method (one of Methods); the
// method's hyper-parameters (Tau, LogitNormTau, LambdaOE) keep their
// values, OpenOOD's defaults unless changed.
func (c *Config) SetMethod(method string) error {
	switch method {
	case MethodCE:
		c.Head, c.Loss = nn.HeadLinear, LossCE
	case MethodT2FNorm:
		c.Head, c.Loss = nn.HeadT2FNorm, LossCE
	case MethodLogitNorm:
		c.Head, c.Loss = nn.HeadLinear, LossLogitNorm
	case MethodOE:
		c.Head, c.Loss = nn.HeadLinear, LossOE
	case MethodT2FNormOE:
		c.Head, c.Loss = nn.HeadT2FNorm, LossOE
	default:
		return fmt.Errorf("train: unknown method %q (known: %s)", method, strings.Join(Methods, ", "))
	}
	return nil
}

// outlierBatch is the outlier batch size OE draws per step.
func (c Config) outlierBatch() int {
	if c.OutlierBatchSize > 0 {
		return c.OutlierBatchSize
	}
	return 2 * c.BatchSize
}

// NormalizationFor is OpenOOD's choice of normalisation constants for a
// dataset name: cifar10, cifar100, imagenet (ImageNet and its subsets such
// as imagenet200), and mean = std = 0.5 ("mnist") for everything else.
func NormalizationFor(dataset string) string {
	d := strings.ToLower(dataset)
	switch {
	case strings.Contains(d, "cifar100"):
		return "cifar100"
	case strings.Contains(d, "cifar10"):
		return "cifar10"
	case strings.Contains(d, "imagenet"):
		return "imagenet"
	}
	return "mnist"
}

// sameRun reports the first setting in which two configurations of the same
// run directory differ; execution settings (workers, threads) and the code
// that runs it may differ.
func sameRun(a, b Config) error {
	a.Workers, a.Threads, b.Workers, b.Threads = 0, 0, 0, 0
	a.Code, b.Code = "", ""
	if a != b {
		return fmt.Errorf("train: the run directory holds a different run (its config.yaml has %+v; this run is %+v)", a, b)
	}
	return nil
}

// StepLR is the learning rate of step s (from 0) of total steps: OpenOOD's
// per-iteration cosine, lr0·[m + (1−m)·½(1+cos(π·s/total))] with
// m = MinLR/lr0, after an optional linear warm-up of warmup steps (the
// cosine then spans the steps after it).
func (c Config) StepLR(s, total, warmup int) float64 {
	if s < warmup {
		return c.LR * float64(s+1) / float64(warmup)
	}
	s, total = s-warmup, total-warmup
	m := c.MinLR / c.LR
	return c.LR * (m + (1-m)*0.5*(1+math.Cos(math.Pi*float64(s)/float64(total))))
}
