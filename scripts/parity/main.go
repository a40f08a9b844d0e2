package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train"
)

type run struct {
	dir       string
	precision string
	seed      uint64
	acc, norm float64 // percent, mean ‖f‖
	n         int
}

func load(dir string) (run, error) {
	cfg, err := train.ReadConfig(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		return run{}, err
	}
	tables, err := features.ReadDir(filepath.Join(dir, "features"))
	if err != nil {
		return run{}, err
	}
	r := run{dir: dir, precision: cfg.Precision, seed: cfg.Seed}
	for _, t := range tables {
		if t.Meta.Split != "test" {
			continue
		}
		var correct int
		var norm float64
		for i, l := range t.Labels {
			if l < 0 {
				continue
			}
			r.n++
			if t.Preds[i] == l {
				correct++
			}
			norm += float64(t.FeatureNorm[i])
		}
		if r.n > 0 {
			r.acc, r.norm = 100*float64(correct)/float64(r.n), norm/float64(r.n)
		}
	}
	if r.n == 0 {
		return r, fmt.Errorf("%s: no ID test rows in %s", dir, filepath.Join(dir, "features"))
	}
	return r, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/parity RUN_DIR...")
		os.Exit(2)
	}
	var runs []run
	for _, d := range os.Args[1:] {
		r, err := load(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parity:", err)
			os.Exit(1)
		}
		runs = append(runs, r)
	}
	fmt.Println("| run | precision | seed | test images | test accuracy | mean ‖f‖ (ID test) |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range runs {
		fmt.Printf("| %s | %s | %d | %d | %.2f%% | %.3f |\n", filepath.Base(r.dir), r.precision, r.seed, r.n, r.acc, r.norm)
	}
	var seeds []uint64
	for _, r := range runs {
		if !slices.Contains(seeds, r.seed) {
			seeds = append(seeds, r.seed)
		}
	}
	fmt.Println()
	fmt.Println("| seed | Δ accuracy (bf16 − fp32) | Δ mean ‖f‖ | within bounds (0.3 points, 5%) |")
	fmt.Println("|---|---|---|---|")
	ok := true
	for _, s := range seeds {
		var fp, bf *run
		for i := range runs {
			if runs[i].seed == s && runs[i].precision == "fp32" {
				fp = &runs[i]
			}
			if runs[i].seed == s && runs[i].precision == "bf16" {
				bf = &runs[i]
			}
		}
		if fp == nil || bf == nil {
			fmt.Printf("| %d | — | — | missing a run |\n", s)
			ok = false
			continue
		}
		dAcc, dNorm := bf.acc-fp.acc, (bf.norm-fp.norm)/fp.norm
		in := math.Abs(dAcc) <= 0.3 && math.Abs(dNorm) <= 0.05
		ok = ok && in
		fmt.Printf("| %d | %+.2f points | %+.1f%% | %v |\n", s, dAcc, 100*dNorm, map[bool]string{true: "yes", false: "no"}[in])
	}
	if !ok {
		os.Exit(1)
	}
}
