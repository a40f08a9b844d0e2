package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/internal/plan"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
)

// Shared by the plan builders of t2f demo and t2f recipe: the train,
// features and score steps both build, --seeds, and small helpers.

// The folders demo and recipe lay out: a plan's stamps under its output
// folder and its data folder, and a run's features beside its checkpoints.
const (
	stampDirName    = ".steps"
	runFeaturesName = "features"
)

// trainStep is the t2f command line args (`train ... --out run`); it
// resumes an interrupted training and is done when run/best.safetensors
// exists.
func trainStep(name, desc, run string, args, inputs []string) plan.Step {
	return plan.Step{Name: name, Desc: desc, Args: args, Inputs: inputs,
		Outputs: []string{filepath.Join(run, train.BestFile)}, Resume: filepath.Join(run, train.ConfigFile)}
}

// featuresStep is `t2f features` of run's best checkpoint over the shard
// directories data (flags extra before --out) into run/features, which it
// returns.
func featuresStep(name, desc, run string, data []string, extra ...string) (plan.Step, string) {
	ckpt, feat := filepath.Join(run, train.BestFile), filepath.Join(run, runFeaturesName)
	args, in := []string{"features", "--checkpoint", ckpt}, []string{ckpt}
	for _, d := range data {
		args = append(args, "--data", d)
		in = append(in, filepath.Join(d, shards.ManifestName))
	}
	args = append(append(args, extra...), "--out", feat)
	return plan.Step{Name: name, Desc: desc, Args: args, Inputs: in, Outputs: []string{filepath.Join(feat, features.HeadFileName)}}, feat
}

// scoreSpec is what a score step evaluates.
type scoreSpec struct {
	features        []string // feature directories, one per seed
	id              string
	near, far, csid []string
	oodVal          string // "" = no --ood-val
	methods, out    string
}

// scoreStep is `t2f score` of s; it is done when out/results.json exists.
func scoreStep(name, desc string, s scoreSpec) plan.Step {
	args, in := []string{"score"}, []string(nil)
	for _, f := range s.features {
		args = append(args, "--features", f)
		in = append(in, filepath.Join(f, features.HeadFileName))
	}
	args = append(args, "--id", s.id, "--near", strings.Join(s.near, ","), "--far", strings.Join(s.far, ","))
	if len(s.csid) > 0 {
		args = append(args, "--csid", strings.Join(s.csid, ","))
	}
	if s.oodVal != "" {
		args = append(args, "--ood-val", s.oodVal)
	}
	args = append(args, "--methods", s.methods, "--out", s.out)
	return plan.Step{Name: name, Desc: desc, Args: args, Inputs: in, Outputs: []string{filepath.Join(s.out, evaluate.ResultsFileName)}}
}

// parseSeeds reads --seeds: distinct non-negative integers, comma-separated.
func parseSeeds(flag string) ([]int, error) {
	var seeds []int
	for _, f := range strings.Split(flag, ",") {
		s, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || s < 0 {
			return nil, usageError{fmt.Sprintf("--seeds %q: want comma-separated non-negative integers", flag)}
		}
		if slices.Contains(seeds, s) {
			return nil, usageError{fmt.Sprintf("--seeds %q: seed %d twice", flag, s)}
		}
		seeds = append(seeds, s)
	}
	return seeds, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
