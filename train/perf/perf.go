package perf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// Config is one throughput measurement.
type Config struct {
	Model    nn.Config
	Batch    int           // images per step, ≥ 2 (training BatchNorm)
	Threads  int           // CPU backend threads; 0 means 1
	Rounds   int           // timed rounds per phase (the median is reported); 0 means 5
	MinRound time.Duration // minimum duration of a round (at least one step); 0 means 1 s
	Warmup   int           // untimed steps before each phase; 0 means 2
	Seed     uint64
	// Loss is the training objective: LossCE ("" too), LossLogitNorm or
	// LossOE; OE forwards Outliers more images with every batch (0 means
	// 2·Batch, OpenOOD's ratio). Rates count the Batch ID images.
	Loss     string
	Outliers int
	// Precision of the convolutions and linear layers ("" is fp32).
	Precision backend.Precision
}

// Training objectives of Config.Loss (train.Config.Loss's names).
const (
	LossCE        = "ce"
	LossLogitNorm = "logitnorm"
	LossOE        = "oe"
)

// Result holds the measured rates (medians over rounds, with the extremes).
type Result struct {
	TrainImagesPerSec float64           `json:"train_images_per_s"`
	InferImagesPerSec float64           `json:"infer_images_per_s"`
	TrainMinMax       [2]float64        `json:"train_min_max"`
	InferMinMax       [2]float64        `json:"infer_min_max"`
	Rounds            int               `json:"rounds"`
	Batch             int               `json:"batch"`
	Backend           string            `json:"backend"`
	Precision         backend.Precision `json:"precision"`
	Kernel            string            `json:"kernel,omitempty"` // the CPU GEMM micro-kernel (e.g. avx512bf16)
	Threads           int               `json:"threads"`
	Params            int               `json:"params"`
}

// Bench is a model, optimiser and synthetic batch ready to be stepped.
type Bench struct {
	Model  *nn.Model
	opt    *nn.SGD
	x      *backend.Tensor // the training input ([ID; outliers] for OE)
	xin    *backend.Tensor // the inference input (the ID images)
	labels []int32         // one per row of x (outliers: −1)
	loss   string
}

// NewBench builds the model of cfg on be with a synthetic batch of n images.
func NewBench(be backend.Backend, cfg nn.Config, n int, seed uint64) (*Bench, error) {
	return NewMethodBench(be, cfg, n, LossCE, 0, seed)
}

// NewMethodBench is NewBench for a training objective: loss is LossCE,
// LossLogitNorm or LossOE, and OE's batch has outliers more images
// (labelled −1) after the n ID images.
func NewMethodBench(be backend.Backend, cfg nn.Config, n int, loss string, outliers int, seed uint64) (*Bench, error) {
	switch loss {
	case "", LossCE, LossLogitNorm:
		outliers = 0
	case LossOE:
		if outliers < 1 {
			return nil, fmt.Errorf("perf: OE with %d outliers per step, want at least 1", outliers)
		}
	default:
		return nil, fmt.Errorf("perf: loss %q, want %s, %s or %s", loss, LossCE, LossLogitNorm, LossOE)
	}
	if n < 2 {
		return nil, fmt.Errorf("perf: batch size %d, want at least 2", n)
	}
	m, err := nn.New(be, cfg, seed)
	if err != nil {
		return nil, err
	}
	opt, err := nn.NewSGD(m, nn.SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 1))
	host := make([]float32, m.InputShape(n+outliers).Numel())
	for i := range host {
		host[i] = float32(r.NormFloat64())
	}
	x := be.Alloc(m.InputShape(n + outliers)...)
	be.Upload(x, host)
	xin := x
	if outliers > 0 {
		xin = be.Alloc(m.InputShape(n)...)
		be.Upload(xin, host[:m.InputShape(n).Numel()])
	}
	labels := make([]int32, n+outliers)
	for i := range labels {
		labels[i] = int32(r.IntN(m.Config().Classes))
		if i >= n {
			labels[i] = nn.LabelOutlier
		}
	}
	return &Bench{Model: m, opt: opt, x: x, xin: xin, labels: labels, loss: loss}, nil
}

// TrainStep runs one training step: forward (train mode), the loss
// (cross-entropy, LogitNorm τ 0.04 or OE λ 0.5), backward, SGD step at lr
// 0.01.
func (b *Bench) TrainStep() error {
	if _, err := b.Model.Forward(b.x, true); err != nil {
		return err
	}
	var dl *backend.Tensor
	var err error
	switch b.loss {
	case LossLogitNorm:
		_, dl, err = b.Model.LogitNorm(b.labels, 0.04)
	case LossOE:
		_, dl, err = b.Model.OutlierExposure(b.labels, 0.5)
	default:
		_, dl, err = b.Model.CrossEntropy(b.labels)
	}
	if err != nil {
		return err
	}
	if err := b.Model.Backward(dl); err != nil {
		return err
	}
	return b.opt.Step(0.01)
}

// InferStep runs one inference forward pass (nn.Model.Infer: eval mode,
// nothing kept for a backward pass), what `t2f features` runs.
func (b *Bench) InferStep() error {
	_, err := b.Model.Infer(b.xin)
	return err
}

// Measure builds cfg's model on a CPU backend and times training steps,
// then inference steps: Warmup untimed steps, then Rounds rounds of at least
// MinRound each.
func Measure(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 5
	}
	if cfg.MinRound == 0 {
		cfg.MinRound = time.Second
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 2
	}
	switch {
	case cfg.Threads < 1:
		return Result{}, fmt.Errorf("perf: %d threads, want at least 1", cfg.Threads)
	case cfg.Rounds < 1:
		return Result{}, fmt.Errorf("perf: %d rounds, want at least 1", cfg.Rounds)
	}
	be, err := cpu.NewPrecision(cfg.Threads, cfg.Precision)
	if err != nil {
		return Result{}, fmt.Errorf("perf: %w", err)
	}
	if cfg.Loss == LossOE && cfg.Outliers == 0 {
		cfg.Outliers = 2 * cfg.Batch
	}
	b, err := NewMethodBench(be, cfg.Model, cfg.Batch, cfg.Loss, cfg.Outliers, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	res := Result{Backend: be.Name(), Precision: be.Precision(), Kernel: be.Kernel(), Threads: cfg.Threads, Rounds: cfg.Rounds, Batch: cfg.Batch}
	for _, p := range b.Model.Params() {
		res.Params += p.Value.Numel()
	}
	phase := func(step func() error) (med float64, minmax [2]float64, err error) {
		for range cfg.Warmup {
			if err := step(); err != nil {
				return 0, minmax, err
			}
		}
		rates := make([]float64, 0, cfg.Rounds)
		for range cfg.Rounds {
			start := time.Now()
			n := 0
			for n == 0 || time.Since(start) < cfg.MinRound {
				if err := ctx.Err(); err != nil {
					return 0, minmax, err
				}
				if err := step(); err != nil {
					return 0, minmax, err
				}
				n++
			}
			rates = append(rates, float64(n*cfg.Batch)/time.Since(start).Seconds())
		}
		slices.Sort(rates)
		med = rates[len(rates)/2]
		if len(rates)%2 == 0 {
			med = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
		}
		return med, [2]float64{rates[0], rates[len(rates)-1]}, nil
	}
	if res.TrainImagesPerSec, res.TrainMinMax, err = phase(b.TrainStep); err != nil {
		return res, fmt.Errorf("perf: training: %w", err)
	}
	if res.InferImagesPerSec, res.InferMinMax, err = phase(b.InferStep); err != nil {
		return res, fmt.Errorf("perf: inference: %w", err)
	}
	return res, nil
}
