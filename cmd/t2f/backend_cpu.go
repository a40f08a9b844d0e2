//go:build !cuda

package main

import (
	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/perf"
)

// newBackend returns the backend for --device (this build: cpu only) with
// threads compute threads and the given precision.
func newBackend(c *cli.Context, threads int, prec backend.Precision) (backend.Backend, error) {
	kind, _, err := parseDevice(c)
	if err != nil {
		return nil, err
	}
	if kind != "cpu" {
		return nil, usageError{"--device " + c.String("device") + ": this t2f is built without CUDA; use t2f-cuda (go tool task cuda:build, run on a machine with an NVIDIA GPU)"}
	}
	return cpu.NewPrecision(threads, prec)
}

// measureTrain is perf.Measure on --device.
func measureTrain(c *cli.Context, cfg perf.Config) (perf.Result, error) {
	if _, err := newBackend(c, 1, cfg.Precision); err != nil {
		return perf.Result{}, err
	}
	return perf.Measure(c.Context, cfg)
}
