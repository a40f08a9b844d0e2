package perf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// Config is one throughput measurement.
type Config struct {
	Model   nn.Config
	Batch   int           // images per step, ≥ 2 (training BatchNorm)
	Threads int           // CPU backend threads; 0 means 1
	MinTime time.Duration // measure each phase at least this long; 0 means 3 s
	Warmup  int           // untimed steps first; 0 means 2
	Seed    uint64
}

// Result holds the measured rates.
type Result struct {
	TrainImagesPerSec float64 `json:"train_images_per_s"`
	InferImagesPerSec float64 `json:"infer_images_per_s"`
	TrainSteps        int     `json:"train_steps"`
	InferSteps        int     `json:"infer_steps"`
	Backend           string  `json:"backend"`
	Threads           int     `json:"threads"`
}

// Bench is a model, optimiser and synthetic batch ready to be stepped.
type Bench struct {
	Model  *nn.Model
	opt    *nn.SGD
	x      *backend.Tensor
	labels []int32
}

// NewBench builds the model of cfg on be with a synthetic batch of n images.
func NewBench(be backend.Backend, cfg nn.Config, n int, seed uint64) (*Bench, error) {
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
	host := make([]float32, m.InputShape(n).Numel())
	for i := range host {
		host[i] = float32(r.NormFloat64())
	}
	x := be.Alloc(m.InputShape(n)...)
	be.Upload(x, host)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(m.Config().Classes))
	}
	return &Bench{Model: m, opt: opt, x: x, labels: labels}, nil
}

// TrainStep runs one training step: forward (train mode), cross-entropy,
// backward, SGD step at lr 0.01.
func (b *Bench) TrainStep() error {
	if _, err := b.Model.Forward(b.x, true); err != nil {
		return err
	}
	_, dl, err := b.Model.CrossEntropy(b.labels)
	if err != nil {
		return err
	}
	if err := b.Model.Backward(dl); err != nil {
		return err
	}
	return b.opt.Step(0.01)
}

// InferStep runs one eval-mode forward pass.
func (b *Bench) InferStep() error {
	_, err := b.Model.Forward(b.x, false)
	return err
}

// Measure builds cfg's model on a CPU backend and times training steps,
// then inference steps, each for at least cfg.MinTime.
func Measure(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	if cfg.MinTime == 0 {
		cfg.MinTime = 3 * time.Second
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 2
	}
	if cfg.Threads < 1 {
		return Result{}, fmt.Errorf("perf: %d threads, want at least 1", cfg.Threads)
	}
	be := cpu.New(cfg.Threads)
	b, err := NewBench(be, cfg.Model, cfg.Batch, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	res := Result{Backend: be.Name(), Threads: cfg.Threads}
	rate := func(step func() error) (float64, int, error) {
		for range cfg.Warmup {
			if err := step(); err != nil {
				return 0, 0, err
			}
		}
		start := time.Now()
		n := 0
		for n == 0 || time.Since(start) < cfg.MinTime {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
			if err := step(); err != nil {
				return 0, 0, err
			}
			n++
		}
		return float64(n*cfg.Batch) / time.Since(start).Seconds(), n, nil
	}
	if res.TrainImagesPerSec, res.TrainSteps, err = rate(b.TrainStep); err != nil {
		return res, fmt.Errorf("perf: training: %w", err)
	}
	if res.InferImagesPerSec, res.InferSteps, err = rate(b.InferStep); err != nil {
		return res, fmt.Errorf("perf: inference: %w", err)
	}
	if res.TrainSteps == 0 || res.InferSteps == 0 {
		return res, errors.New("perf: no step completed")
	}
	return res, nil
}
