//go:build cuda

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/backend/cuda"
	"github.com/t2f/t2f/train/backend/cuda/cublasload"
	"github.com/t2f/t2f/train/perf"
)

// newBackend returns the backend for --device with threads compute threads
// (CPU) or GPU N; the GPU's GEMM comes from T2F_GEMM (auto, cublas, ptx) and
// cuBLAS is searched for in T2F_CUBLAS (a file) or LD_LIBRARY_PATH.
func newBackend(c *cli.Context, threads int, prec backend.Precision) (backend.Backend, error) {
	kind, ord, err := parseDevice(c)
	if err != nil {
		return nil, err
	}
	if kind == "cpu" {
		return cpu.NewPrecision(threads, prec)
	}
	gemm := os.Getenv("T2F_GEMM")
	switch gemm {
	case "", cuda.GEMMAuto, cuda.GEMMCublas, cuda.GEMMPTX:
	default:
		return nil, usageError{fmt.Sprintf("T2F_GEMM=%q: want auto, cublas or ptx", gemm)}
	}
	b, err := cuda.New(cuda.Options{Device: ord, GEMM: gemm, Precision: prec, Cublas: cublasload.Config{
		Path: os.Getenv("T2F_CUBLAS"), Dirs: cublasload.SplitPathList(os.Getenv("LD_LIBRARY_PATH")),
	}})
	if err != nil {
		return nil, err
	}
	if !c.Bool("quiet") {
		name, _ := cuda.DeviceName(ord)
		fmt.Fprintf(c.App.ErrWriter, "cuda: GPU %d %s, GEMM %s\n", ord, name, b.GEMMPath())
	}
	return b, nil
}

// measureTrain is perf.Measure on --device: on a GPU, the same phases with
// the stream drained at the end of every round (an eval forward only
// enqueues work).
func measureTrain(c *cli.Context, cfg perf.Config) (perf.Result, error) {
	kind, _, err := parseDevice(c)
	if err != nil {
		return perf.Result{}, err
	}
	if kind == "cpu" {
		return perf.Measure(c.Context, cfg)
	}
	be, err := newBackend(c, 1, cfg.Precision)
	if err != nil {
		return perf.Result{}, err
	}
	defer be.(*cuda.Backend).Close()
	return measureGPU(c.Context, be.(*cuda.Backend), cfg)
}

func measureGPU(ctx context.Context, be *cuda.Backend, cfg perf.Config) (perf.Result, error) {
	rounds := max(cfg.Rounds, 1)
	minRound := cfg.MinRound
	if minRound <= 0 {
		minRound = time.Second
	}
	warmup := max(cfg.Warmup, 3) // PTX JIT is done in New; the first steps allocate and tune cuBLAS
	b, err := perf.NewBench(be, cfg.Model, cfg.Batch, cfg.Seed)
	if err != nil {
		return perf.Result{}, err
	}
	res := perf.Result{Backend: "cuda (" + be.GEMMPath() + ")", Precision: be.Precision(), Rounds: rounds, Batch: cfg.Batch}
	for _, p := range b.Model.Params() {
		res.Params += p.Value.Numel()
	}
	phase := func(step func() error) (float64, [2]float64, error) {
		for range warmup {
			if err := step(); err != nil {
				return 0, [2]float64{}, err
			}
		}
		be.Synchronize()
		rates := make([]float64, 0, rounds)
		for range rounds {
			start := time.Now()
			n := 0
			for n == 0 || time.Since(start) < minRound {
				if err := ctx.Err(); err != nil {
					return 0, [2]float64{}, err
				}
				if err := step(); err != nil {
					return 0, [2]float64{}, err
				}
				n++
			}
			be.Synchronize()
			rates = append(rates, float64(n*cfg.Batch)/time.Since(start).Seconds())
		}
		slices.Sort(rates)
		med := rates[len(rates)/2]
		if len(rates)%2 == 0 {
			med = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
		}
		return med, [2]float64{rates[0], rates[len(rates)-1]}, nil
	}
	if res.TrainImagesPerSec, res.TrainMinMax, err = phase(b.TrainStep); err != nil {
		return res, fmt.Errorf("bench train: cuda training: %w", err)
	}
	if res.InferImagesPerSec, res.InferMinMax, err = phase(b.InferStep); err != nil {
		return res, fmt.Errorf("bench train: cuda inference: %w", err)
	}
	return res, nil
}
