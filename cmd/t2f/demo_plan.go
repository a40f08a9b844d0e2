package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/internal/plan"
	"github.com/t2f/t2f/pipeline"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
)

// The demo is one plan (demoPlan, run by internal/plan), shared by `t2f
// demo`, the Taskfile's demo:* tasks (each runs `t2f demo --step NAME`) and
// the replication (`t2f demo` with other --id/--model/--seeds). A step is a
// t2f command line run in-process exactly as if typed, or an external
// program. A finished step leaves a stamp (data steps in <data>/.steps, the
// others in <out>/.steps) holding its command line; it is skipped while the
// stamp matches and is newer than its inputs.

// demoOptions are what a plan depends on.
type demoOptions struct {
	ID           string // mnist or fashionmnist
	Model        string
	Width        float64
	Seeds        []int
	Epochs       int
	LR           float64
	WarmupEpochs float64
	Data, Out    string
	Methods      string   // post-hoc methods to score
	TrainMethods []string // training methods (t2f train --method); nil = ce, t2fnorm
	MNISTDir     string   // GoMNIST's data folder
	FMNISTDir    string   // Debian dataset-fashion-mnist's folder
	Fonts        string   // letters --input
	TexturesPK3  string   // nexuiz-textures archive; "" = not available
	Install      bool     // try apt-get for missing Debian packages
	// Set sizes (defaults: the demo* constants; tests shrink them).
	IDVal, Letters, LettersVal, Noise, AuxLetters int
}

// withSizes fills the set sizes that are zero with the benchmark's.
func (o demoOptions) withSizes() demoOptions {
	if o.IDVal == 0 {
		o.IDVal = demoIDVal
	}
	if o.Letters == 0 {
		o.Letters = demoLetters
	}
	if o.LettersVal == 0 {
		o.LettersVal = demoLettersVal
	}
	if o.Noise == 0 {
		o.Noise = demoNoise
	}
	if o.AuxLetters == 0 {
		o.AuxLetters = demoAuxLetters
	}
	return o
}

// demoMethods are the post-hoc methods the demo scores: all of them except
// vim (its dims 256/1000 exceed LeNet's 84-d and ResNet-18¼'s 128-d
// feature: it fails) and residual (its default dim 512 ≥ D gives a
// constant score).
const demoMethods = "msp,t2fnorm,mls,ebo,react,ash,scale,dice,knn,mds,rmds,gen,klm,temp_scaling,fdbd,gradnorm,she,nnguide"

// Sizes of the built-in benchmark (see docs/benchmark.md).
const (
	demoIDVal        = 996   // OpenOOD's val_mnist: held out of the MNIST test set
	demoHoldoutSeed  = 1     // seed of that holdout
	demoLetters      = 10000 // letters test (OpenOOD's notMNIST has 17,723)
	demoLettersVal   = 1000  // OpenOOD's val_notmnist
	demoNoise        = 2000  // each synthetic set
	demoLettersSeed  = 1
	demoLettersVSeed = 2
	demoAuxLetters   = 10000 // Outlier Exposure's auxiliary outliers
	demoAuxSeed      = 3
)

// demoAuxDir is the auxiliary outlier set of Outlier Exposure under the
// data folder: letters K–Y (aux-letters), disjoint from every OOD test set.
const demoAuxDir = "aux/letters"

// demoStamps is the demo's plan without steps: the data steps' stamps in
// the data folder (shared by every run that uses it), the others' in the run
// folder.
func demoStamps(o demoOptions) *plan.Plan {
	return &plan.Plan{Command: "t2f demo", StampDir: filepath.Join(o.Out, stampDirName), SharedStampDir: filepath.Join(o.Data, stampDirName)}
}

// demoPlan returns the plan for o and the runs it leaves out because
// their training diverged (train.DivergedFile), by run directory.
func demoPlan(o demoOptions) (*plan.Plan, map[string]train.Divergence, error) {
	o = o.withSizes()
	diverged := map[string]train.Divergence{}
	for _, seed := range o.Seeds {
		for _, head := range demoHeads(o.TrainMethods, "") {
			run := demoRunDir(o, head, seed)
			d, ok, err := train.ReadDivergence(run)
			if err != nil {
				return nil, nil, fmt.Errorf("demo: %w; delete %s to train that run again", err, run)
			}
			if ok {
				diverged[run] = d
			}
		}
	}
	p := demoStamps(o)
	p.Steps = demoSteps(o, diverged)
	return p, diverged, nil
}

// demoRunDir is the run directory of one training method and seed.
func demoRunDir(o demoOptions, head demoHead, seed int) string {
	return filepath.Join(o.Out, fmt.Sprintf("%s-s%d", head.short, seed))
}

// demoSteps returns the steps for o, in order. The runs in diverged are
// skipped, and left out of the scores and the report.
func demoSteps(o demoOptions, diverged map[string]train.Divergence) []plan.Step {
	var steps []plan.Step
	d := func(name string) string { return filepath.Join(o.Data, name) }
	man := func(dir string) string { return filepath.Join(dir, shards.ManifestName) }
	build := func(name, desc, out string, skip string, args ...string) {
		a := append([]string{"pipeline", "build"}, args...)
		a = append(a, "--size", "28", "--channels", "1", "--out", out)
		steps = append(steps, plan.Step{Name: name, Desc: desc, Args: a, Outputs: []string{man(out)}, Skip: skip, Shared: true})
	}
	if o.Install {
		steps = append(steps, plan.Step{Name: "install", Shared: true, Desc: "install the Debian data packages where this machine allows (root + apt-get)",
			Exec: true, Args: []string{"apt-get", "install", "-y", "--no-install-recommends", "dataset-fashion-mnist", "fonts-dejavu-core"},
			Skip: installSkip(o)})
	}
	// ID data: train, a seeded 996-image val holdout of the test set, the rest as test.
	idName, idDir, idSkip := "mnist", o.MNISTDir, ""
	otherDir, otherName := o.FMNISTDir, "fashionmnist"
	if o.ID == "fashionmnist" {
		idName, idDir = "fashionmnist", o.FMNISTDir
		otherDir, otherName = o.MNISTDir, "mnist"
	}
	if !isDir(idDir) {
		idSkip = fmt.Sprintf("%s files not found in %q", idName, idDir)
	}
	otherSkip := ""
	if !isDir(otherDir) {
		otherSkip = fmt.Sprintf("%s files not found in %q (Debian package dataset-fashion-mnist)", otherName, otherDir)
	}
	idArgs := []string{"--source", "mnist", "--input", idDir, "--name", idName}
	build("data-"+idName+"-train", idName+" train (60,000)", d(idName+"-train"), idSkip, append(idArgs, "--split", "train")...)
	build("data-"+idName+"-val", idName+" val: 996 seeded images held out of test", d(idName+"-val"), idSkip,
		append(idArgs, "--split", "test", "--holdout", strconv.Itoa(o.IDVal), "--holdout-seed", strconv.Itoa(demoHoldoutSeed), "--part", "holdout", "--split-name", "val")...)
	build("data-"+idName+"-test", idName+" test: the other 9,004", d(idName+"-test"), idSkip,
		append(idArgs, "--split", "test", "--holdout", strconv.Itoa(o.IDVal), "--holdout-seed", strconv.Itoa(demoHoldoutSeed), "--part", "rest")...)
	// OOD sets.
	type oodSet struct{ name, dir, role string }
	var ood []oodSet
	build("data-ood-"+otherName, otherName+" test (10,000) as near-OOD", d("ood/"+otherName), otherSkip,
		"--source", "mnist", "--input", otherDir, "--split", "test", "--name", otherName, "--label-ood")
	if otherSkip == "" {
		ood = append(ood, oodSet{otherName, d("ood/" + otherName), "near"})
	}
	build("data-ood-letters", "letters A–J (notMNIST-like) as near-OOD", d("ood/letters"), "",
		"--source", "letters", "--input", o.Fonts, "--count", strconv.Itoa(o.Letters), "--seed", strconv.Itoa(demoLettersSeed), "--name", "letters")
	ood = append(ood, oodSet{"letters", d("ood/letters"), "near"})
	build("data-ood-letters-val", "a separate letters set as the OOD val set (OpenOOD's val_notmnist)", d("ood/letters-val"), "",
		"--source", "letters", "--input", o.Fonts, "--count", strconv.Itoa(o.LettersVal), "--seed", strconv.Itoa(demoLettersVSeed), "--name", "letters", "--split-name", "val")
	build("data-aux-letters", "letters K–Y (no A–J, no digit look-alike) as Outlier Exposure's auxiliary outliers", d(demoAuxDir), "",
		"--source", "aux-letters", "--input", o.Fonts, "--count", strconv.Itoa(o.AuxLetters), "--seed", strconv.Itoa(demoAuxSeed), "--name", "aux-letters")
	texSkip := ""
	if o.TexturesPK3 == "" {
		texSkip = "nexuiz-textures is not installed (apt-get install nexuiz-textures, 456 MB; go tool task data:textures)"
	}
	steps = append(steps, plan.Step{Name: "data-textures-extract", Shared: true, Desc: "extract the photographic JPEGs of nexuiz-textures",
		Exec: true, Args: []string{"go", "run", "./scripts/textures", "-in", o.TexturesPK3, "-out", d("raw/textures/nexuiz")},
		Inputs: nonEmpty(o.TexturesPK3), Skip: texSkip})
	build("data-ood-textures", "textures (grey 28×28 of every texture photo) as far-OOD", d("ood/textures"), texSkip,
		"--source", "imagefolder", "--input", d("raw/textures"), "--name", "textures", "--label-ood")
	if texSkip == "" {
		ood = append(ood, oodSet{"textures", d("ood/textures"), "far"})
	}
	for i, k := range []string{pipeline.SynthGaussian, pipeline.SynthUniform, pipeline.SynthBlobs} {
		build("data-ood-"+k, k+" noise as far-OOD", d("ood/"+k), "",
			"--source", "synthetic", "--input", k, "--count", strconv.Itoa(o.Noise), "--seed", strconv.Itoa(11+i), "--name", k)
		ood = append(ood, oodSet{k, d("ood/" + k), "far"})
	}
	// Training, features and scoring, per head and seed.
	var near, far []string
	for _, s := range ood {
		if s.role == "near" {
			near = append(near, s.name)
		} else {
			far = append(far, s.name)
		}
	}
	dataDirs := []string{d(idName + "-train"), d(idName + "-val"), d(idName + "-test")}
	for _, s := range ood {
		dataDirs = append(dataDirs, s.dir)
	}
	dataDirs = append(dataDirs, d("ood/letters-val"))
	// Seed by seed, the baseline then T2FNorm, so that an interrupted long
	// run (the replication) has both models of its first seeds.
	heads := demoHeads(o.TrainMethods, d(demoAuxDir))
	featDirs := map[string][]string{}
	for _, seed := range o.Seeds {
		for _, head := range heads {
			run := demoRunDir(o, head, seed)
			ta := append([]string{"train", "--train", d(idName + "-train"), "--val", d(idName + "-val"), "--model", o.Model},
				head.args...)
			ta = append(ta, "--epochs", strconv.Itoa(o.Epochs), "--lr", fmtF(o.LR), "--warmup-epochs", fmtF(o.WarmupEpochs),
				"--seed", strconv.Itoa(seed), "--out", run)
			if o.Width != 1 {
				ta = append(ta, "--width", fmtF(o.Width))
			}
			inputs := []string{man(d(idName + "-train")), man(d(idName + "-val"))}
			if head.method == train.MethodOE {
				inputs = append(inputs, man(d(demoAuxDir)))
			}
			ts := trainStep(fmt.Sprintf("train-%s-s%d", head.short, seed),
				fmt.Sprintf("train %s, %s, seed %d, %d epochs", o.Model, head.desc, seed, o.Epochs),
				run, ta, inputs)
			ts.Skip = idSkip
			fs, feat := featuresStep(fmt.Sprintf("features-%s-s%d", head.short, seed), "dump features of every split", run, dataDirs)
			fs.Skip = idSkip
			if d, ok := diverged[run]; ok && idSkip == "" {
				ts.Skip = fmt.Sprintf("%s; left out of the scores (delete %s to train it again)", d, run)
				fs.Skip = "its training diverged"
			} else {
				featDirs[head.short] = append(featDirs[head.short], feat)
			}
			steps = append(steps, ts, fs)
		}
	}
	var scored []demoHead // methods with at least one run that trained
	for _, head := range heads {
		sc := scoreStep("score-"+head.short, "score every method ("+head.desc+")", scoreSpec{features: featDirs[head.short],
			id: idName, near: near, far: far, oodVal: "letters:val", methods: o.Methods, out: filepath.Join(o.Out, "score-"+head.short)})
		sc.Skip, sc.Partial = idSkip, true
		if featDirs[head.short] == nil && sc.Skip == "" {
			sc.Skip = "the training of every seed diverged"
		} else {
			scored = append(scored, head)
		}
		steps = append(steps, sc)
	}
	heads = scored
	if featDirs["ce"] == nil || len(heads) < 2 {
		return steps // the report compares the other methods with the baseline
	}
	rep := filepath.Join(o.Out, evaluate.ReportFileName)
	args := []string{"compare", "--baseline", filepath.Join(o.Out, "score-ce")}
	inputs := []string{filepath.Join(o.Out, "score-ce", evaluate.ResultsFileName)}
	for _, head := range heads {
		if head.method == train.MethodCE {
			continue
		}
		sd := filepath.Join(o.Out, "score-"+head.short)
		if head.method == train.MethodT2FNorm {
			args = append(args, "--t2fnorm", sd)
		} else {
			args = append(args, "--method", head.method+"="+sd)
		}
		inputs = append(inputs, filepath.Join(sd, evaluate.ResultsFileName))
	}
	for _, run := range slices.Sorted(maps.Keys(diverged)) {
		args = append(args, "--note", fmt.Sprintf("%s left out of the scores: %s", filepath.Base(run), diverged[run]))
	}
	steps = append(steps, plan.Step{Name: "report", Desc: "compare the training methods with the baseline: report.md",
		Args: append(args, "--out", rep), Inputs: inputs, Outputs: []string{rep}, Skip: idSkip})
	return steps
}
