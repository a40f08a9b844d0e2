package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
)

// The T2FNorm repository's recipes (scripts/ood/t2fnorm/<bench>_{train,test}_t2fnorm.sh) for
// users who have OpenOOD's data folder, as t2f step plans (the same step
// machinery as t2f demo): build shards from OpenOOD's image lists, train
// with the paper's settings, evaluate near/far (and full-spectrum) OOD with
// the T2FNorm postprocessor as scripts/eval_ood.py does.

// recipeSet is one OpenOOD image list of a benchmark.
type recipeSet struct {
	name, split, role string // role: train, val, test, oodval, near, far, csid
	list, dataDir     string // benchmark_imglist/<bench>/<list>, under <root>/<dataDir>
}

// recipeBench is one benchmark of the seed's scripts (OpenOOD v1.5
// DATA_INFO and §1.4 of the protocol reference).
type recipeBench struct {
	name      string
	classes   int
	size      int // the model's input: the test transform's crop
	resize    int // the test transform's shorter side before the centre crop (0 = size)
	trainSize int // side of the stored training images (RandomResizedCrop samples from them)
	model     string
	epochs    int
	lr        float64
	augment   string
	sets      []recipeSet
	// pretrained is the file name of the weights the seed fine-tunes from,
	// under <openood>/../results/pretrained_weights/ ("" = from scratch).
	pretrained string
	classNms   []string
}

func recipeBenchmarks() map[string]recipeBench {
	classic := "images_classic"
	large := "images_largescale"
	cifar := func(id, other string, classes int, csid bool) recipeBench {
		b := recipeBench{name: id, classes: classes, size: 32, trainSize: 32, model: "resnet18_32x32", epochs: 100, lr: 0.1, augment: "crop"}
		l := func(f string) string { return "benchmark_imglist/" + id + "/" + f }
		b.sets = []recipeSet{
			{id, "train", "train", l("train_" + id + ".txt"), classic},
			{id, "val", "val", l("val_" + id + ".txt"), classic},
			{id, "test", "test", l("test_" + id + ".txt"), classic},
			{"tin", "val", "oodval", l("val_tin.txt"), classic},
			{other, "test", "near", l("test_" + other + ".txt"), classic},
			{"tin", "test", "near", l("test_tin.txt"), classic},
			{"mnist", "test", "far", l("test_mnist.txt"), classic},
			{"svhn", "test", "far", l("test_svhn.txt"), classic},
			{"texture", "test", "far", l("test_texture.txt"), classic},
			{"places365", "test", "far", l("test_places365.txt"), classic},
		}
		if csid {
			b.sets = append(b.sets, recipeSet{"cifar10c", "test", "csid", l("test_cifar10c.txt"), classic})
		}
		return b
	}
	imagenet := func(id, csidPrefix string, classes int) recipeBench {
		// OpenOOD: RandomResizedCrop(224) on the decoded image for training,
		// Resize(256) → CenterCrop(224) for everything evaluated.
		b := recipeBench{name: id, classes: classes, size: 224, resize: 256, trainSize: 256, model: "resnet18_224x224", epochs: 90, lr: 0.1, augment: "resized_crop"}
		l := func(f string) string { return "benchmark_imglist/" + id + "/" + f }
		b.sets = []recipeSet{
			{id, "train", "train", l("train_" + id + ".txt"), large},
			{id, "val", "val", l("val_" + id + ".txt"), large},
			{id, "test", "test", l("test_" + id + ".txt"), large},
			{"openimage_o", "val", "oodval", l("val_openimage_o.txt"), large},
			{"ssb_hard", "test", "near", l("test_ssb_hard.txt"), large},
			{"ninco", "test", "near", l("test_ninco.txt"), large},
			{"inaturalist", "test", "far", l("test_inaturalist.txt"), large},
			{"textures", "test", "far", l("test_textures.txt"), classic},
			{"openimage_o", "test", "far", l("test_openimage_o.txt"), large},
			{"imagenet_v2", "test", "csid", l("test_" + csidPrefix + "_v2.txt"), large},
			{"imagenet_c", "test", "csid", l("test_" + csidPrefix + "_c.txt"), large},
			{"imagenet_r", "test", "csid", l("test_" + csidPrefix + "_r.txt"), large},
		}
		return b
	}
	c10 := cifar("cifar10", "cifar100", 10, true)
	c10.classNms = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	in1k := imagenet("imagenet", "imagenet", 1000)
	in1k.model, in1k.epochs, in1k.lr = "resnet50", 30, 0.001
	in1k.pretrained = "resnet50_imagenet1k_v1.pth" // torchvision's IMAGENET1K_V1 ResNet-50
	return map[string]recipeBench{
		"cifar10":     c10,
		"cifar100":    cifar("cifar100", "cifar10", 100, false),
		"imagenet200": imagenet("imagenet200", "imagenet200", 200),
		"imagenet":    in1k,
	}
}

// recipeOptions are what a recipe plan depends on.
type recipeOptions struct {
	Bench     recipeBench
	Root      string // OpenOOD data folder (images_classic/, images_largescale/, benchmark_imglist/)
	Data, Out string
	Seeds     []int
	Epochs    int     // 0 = the paper's
	Width     float64 // 1 = the paper's
	BatchSize int
	Methods   string
	Phase     string // train or test
	// Pretrained is the weights file the train phase fine-tunes from
	// (benchmarks with pretrained set; see defaultPretrained).
	Pretrained string
}

// defaultPretrained is where the seed's ImageNet-1k script reads the
// pretrained weights: ./results/pretrained_weights/<file> in the OpenOOD
// checkout, whose ./data is the --openood folder.
func defaultPretrained(root string, b recipeBench) string {
	return filepath.Join(root, "..", "results", "pretrained_weights", b.pretrained)
}

// recipePlan returns the steps of the train or the test phase.
func recipePlan(o recipeOptions) []demoStep {
	b := o.Bench
	var steps []demoStep
	dir := func(s recipeSet) string { return filepath.Join(o.Data, b.name, s.name+"-"+s.split) }
	man := func(s recipeSet) string { return filepath.Join(dir(s), shards.ManifestName) }
	var classes []string
	if b.classNms != nil {
		classes = b.classNms
	} else {
		for i := range b.classes {
			classes = append(classes, strconv.Itoa(i))
		}
	}
	want := func(role string) bool {
		if o.Phase == "train" {
			return role == "train" || role == "val"
		}
		return role != "train" || o.Methods != "t2fnorm" // the test phase needs ID train features only for methods fitted on them
	}
	// evalTrain: the test phase needs features of the ID train split under
	// the test transform; when the training shards are stored differently
	// (ImageNet: 256×256 for RandomResizedCrop) it gets shards of its own.
	evalTrain := b.trainSize != b.size || b.resize != 0
	var trainSet, valSet recipeSet
	var near, far, csid []string
	oodVal := ""
	var dataDirs []string
	for _, s := range b.sets {
		list := filepath.Join(o.Root, s.list)
		_, statErr := os.Stat(list)
		isID := s.role == "train" || s.role == "val" || s.role == "test"
		if statErr != nil && !isID {
			// An OOD or CSID list the user does not have: leave the set out, say so.
			steps = append(steps, demoStep{Name: "data-" + s.name + "-" + s.split, Desc: s.name + " " + s.split + " (" + s.role + ")",
				Skip: fmt.Sprintf("no image list %s: %s is left out of the evaluation", list, s.name)})
			continue
		}
		switch s.role {
		case "train":
			trainSet = s
		case "val":
			valSet = s
		case "near":
			near = append(near, s.name)
		case "far":
			far = append(far, s.name)
		case "csid":
			csid = append(csid, s.name)
		case "oodval":
			oodVal = s.name + ":" + s.split
		}
		if !want(s.role) {
			continue
		}
		// Training shards (train phase) are stored at trainSize for the
		// augmentation; everything else gets the test transform.
		out, name, desc := dir(s), "data-"+s.name+"-"+s.split, fmt.Sprintf("%s %s (%s) from %s", s.name, s.split, s.role, s.list)
		geometry := []string{"--size", strconv.Itoa(b.trainSize)}
		if s.role != "train" || o.Phase == "test" {
			geometry = []string{"--size", strconv.Itoa(b.size)}
			// ImageNet-C images are stored pre-cropped at 224×224 and OpenOOD
			// evaluates them with ToTensor + Normalize only
			// (ImageNetCPreProcessor); --size alone keeps them as they are.
			if b.resize != 0 && s.name != "imagenet_c" {
				geometry = []string{"--resize", strconv.Itoa(b.resize), "--size", strconv.Itoa(b.size)}
			}
			if s.role == "train" && evalTrain {
				out, name, desc = out+"-eval", name+"-eval", desc+", test transform (for the methods fitted on ID train features)"
			}
		}
		args := []string{"pipeline", "build", "--source", "imglist", "--input", list, "--root", filepath.Join(o.Root, s.dataDir),
			"--name", s.name, "--split-name", s.split}
		args = append(args, geometry...)
		args = append(args, "--channels", "3")
		if isID || s.role == "csid" {
			args = append(args, "--classes", strings.Join(classes, ","))
		} else {
			args = append(args, "--label-ood")
		}
		args = append(args, "--out", out)
		steps = append(steps, demoStep{Name: name, Desc: desc, Args: args, Inputs: []string{list}, Outputs: []string{filepath.Join(out, shards.ManifestName)}})
		if s.role != "train" || o.Methods != "t2fnorm" {
			dataDirs = append(dataDirs, out)
		}
	}
	epochs := b.epochs
	if o.Epochs > 0 {
		epochs = o.Epochs
	}
	runName := fmt.Sprintf("%s_t2fnorm_net_t2fnorm_e%d_lr%s_alpha0.1_default", b.name, epochs, fmtF(b.lr))
	var featDirs, featOuts []string
	for _, seed := range o.Seeds {
		run := filepath.Join(o.Out, runName, fmt.Sprintf("s%d", seed))
		if o.Phase == "train" {
			args := []string{"train", "--train", dir(trainSet), "--val", dir(valSet), "--model", b.model, "--head", "t2fnorm", "--tau", "0.1",
				"--epochs", strconv.Itoa(epochs), "--lr", fmtF(b.lr), "--batch-size", strconv.Itoa(o.BatchSize), "--augment", b.augment,
				"--seed", strconv.Itoa(seed), "--out", run}
			if o.Width != 1 {
				args = append(args, "--width", fmtF(o.Width))
			}
			desc := fmt.Sprintf("train %s with T2FNorm (τ 0.1), %d epochs, lr %s, seed %d", b.model, epochs, fmtF(b.lr), seed)
			inputs := []string{man(trainSet), man(valSet)}
			if b.pretrained != "" {
				args = append(args, "--init", o.Pretrained)
				desc += ", fine-tuned from " + o.Pretrained
				inputs = append(inputs, o.Pretrained)
			}
			steps = append(steps, demoStep{Name: fmt.Sprintf("train-s%d", seed), Desc: desc, Args: args,
				Inputs: inputs, Outputs: []string{filepath.Join(run, train.BestFile)}, Resume: run})
			continue
		}
		feat := filepath.Join(run, "features")
		fa := []string{"features", "--checkpoint", filepath.Join(run, train.BestFile)}
		in := []string{filepath.Join(run, train.BestFile)}
		for _, d := range dataDirs {
			fa = append(fa, "--data", d)
			in = append(in, filepath.Join(d, shards.ManifestName))
		}
		fa = append(fa, "--batch-size", "200", "--out", feat)
		steps = append(steps, demoStep{Name: fmt.Sprintf("features-s%d", seed), Desc: "features of every split (test transform, batch 200 as the evaluator)",
			Args: fa, Inputs: in, Outputs: []string{filepath.Join(feat, features.HeadFileName)}})
		featDirs = append(featDirs, feat)
		featOuts = append(featOuts, filepath.Join(feat, features.HeadFileName))
	}
	if o.Phase == "test" {
		out := filepath.Join(o.Out, runName, "ood")
		sc := []string{"score"}
		for _, f := range featDirs {
			sc = append(sc, "--features", f)
		}
		sc = append(sc, "--id", b.name, "--near", strings.Join(near, ","), "--far", strings.Join(far, ","))
		if len(csid) > 0 {
			sc = append(sc, "--csid", strings.Join(csid, ","))
		}
		if o.Methods != "t2fnorm" {
			sc = append(sc, "--ood-val", oodVal)
		}
		sc = append(sc, "--methods", o.Methods, "--out", out)
		steps = append(steps, demoStep{Name: "score", Desc: "near/far (and full-spectrum) OOD as scripts/eval_ood.py --postprocessor " + o.Methods,
			Args: sc, Inputs: featOuts, Outputs: []string{filepath.Join(out, evaluate.ResultsFileName)}})
	}
	return steps
}

func newRecipeCommand() *cli.Command {
	sub := func(phase, usage string) *cli.Command {
		return &cli.Command{
			Name:      phase,
			Usage:     usage,
			UsageText: "t2f recipe " + phase + " --bench cifar10|cifar100|imagenet200|imagenet --openood DIR [--seeds 0,1,2] [--epochs N] [--pretrained FILE] [--list]",
			Flags:     recipeFlags(),
			Action:    func(c *cli.Context) error { return recipeAction(c, phase) },
		}
	}
	return &cli.Command{
		Name: "recipe",
		Subcommands: []*cli.Command{
			sub("train", "build the ID train/val shards from the image lists and train with the paper's settings"),
			sub("test", "build the test and OOD shards, dump features of every seed, score as the seed's test script"),
		},
		Usage:     "the T2FNorm repository's train/test scripts on an OpenOOD data folder (CIFAR-10/100, ImageNet-200, ImageNet-1k)",
		UsageText: "t2f recipe train|test --bench BENCH --openood DIR [--seeds 0,1,2] [--epochs N] [--list]",
		Description: `Does what the seed's scripts/ood/t2fnorm/<bench>_train_t2fnorm.sh and _test_t2fnorm.sh do, given
OpenOOD's data folder (the one holding images_classic/, images_largescale/ and benchmark_imglist/):

   train: build shards of the ID train and val image lists, then t2f train with the paper's
          settings: T2FNorm head, τ 0.1, SGD Nesterov momentum 0.9, weight decay 5e-4, batch 128,
          per-step cosine to 1e-6, no warm-up; CIFAR: resnet18_32x32, 100 epochs, lr 0.1, flip +
          crop, 32×32 shards; ImageNet-200: resnet18_224x224 from scratch, 90 epochs, lr 0.1;
          ImageNet-1k: resnet50 fine-tuned from torchvision's pretrained weights (--pretrained),
          30 epochs, lr 0.001. ImageNet training shards are stored at 256×256 (shorter side 256,
          centre crop) so RandomResizedCrop(224) samples from a 256 image; the val shards, like
          every evaluated set, get OpenOOD's test transform Resize(256) → CenterCrop(224)
          (pipeline build --resize 256 --size 224).
   test:  build shards of the ID test list and every OOD list of OpenOOD v1.5's benchmark (near,
          far, and the covariate-shifted ID sets for full-spectrum OOD: cifar10c; imagenet_v2/c/r),
          dump features of every seed's best checkpoint (with --methods other than t2fnorm, also
          of the ID train list, for ImageNet in shards of its own built with the test transform:
          <name>-train-eval) and score them with the T2FNorm
          postprocessor: per-dataset rows, nearood/farood means, mean ± std over seeds, in the
          seed's layout (FPR@95, AUROC, AUPR_IN, AUPR_OUT, ACC), CSVs in <out>/<run>/ood/.

ImageNet-1k fine-tunes from --pretrained FILE, by default where the seed's script reads it:
<openood>/../results/pretrained_weights/resnet50_imagenet1k_v1.pth (OpenOOD's results/ folder
beside its data/ folder). It is torchvision's IMAGENET1K_V1 ResNet-50 state_dict, e.g.
   curl -Lo resnet50_imagenet1k_v1.pth https://download.pytorch.org/models/resnet50-0676ba61.pth
(torch.save's zip format and its legacy pre-1.6 format are both read; the file is checked before
any step runs).

Runs are stored as the seed names them: <out>/<bench>_t2fnorm_net_t2fnorm_e<E>_lr<LR>_alpha0.1_default/s<seed>.
Finished steps are skipped on a rerun (stamps in <out>/.steps); --list shows every command.

Examples:
   t2f recipe train --bench cifar10 --openood ~/OpenOOD/data --seeds 0,1,2
   t2f recipe test --bench cifar10 --openood ~/OpenOOD/data --seeds 0,1,2
   t2f recipe test --bench imagenet200 --openood ~/OpenOOD/data --methods all   # every post-hoc method
   t2f recipe train --bench imagenet --openood ~/OpenOOD/data --pretrained ~/weights/resnet50_imagenet1k_v1.pth`,
	}
}

// checkPretrained reads a --pretrained .pth file (zip or legacy pre-1.6
// format) as t2f train --init will, so that a file it cannot read (e.g. a
// truncated download or a pickled whole model) fails now, not after hours of
// shard building.
func checkPretrained(path string) error {
	if strings.HasSuffix(path, ".safetensors") {
		return nil
	}
	_, err := pth.Read(path)
	return err
}

func recipeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bench", Required: true, Usage: "cifar10, cifar100, imagenet200 or imagenet"},
		&cli.StringFlag{Name: "openood", Required: true, Usage: "OpenOOD data folder (images_classic/, images_largescale/, benchmark_imglist/)"},
		&cli.StringFlag{Name: "seeds", Value: "0", Usage: "comma-separated seeds (one run each; the seed scripts' $RANDOM)"},
		&cli.IntFlag{Name: "epochs", Usage: "training epochs (default: the paper's)"},
		&cli.Float64Flag{Name: "width", Value: 1, Usage: "ResNet width multiplier (1 = the paper's network)"},
		&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "training batch"},
		&cli.StringFlag{Name: "pretrained", Usage: "imagenet train: the pretrained ResNet-50 `FILE` to fine-tune (torch.save .pth or .safetensors; default <openood>/../results/pretrained_weights/resnet50_imagenet1k_v1.pth, as the seed)"},
		&cli.StringFlag{Name: "methods", Value: "t2fnorm", Usage: "test: post-hoc methods (t2fnorm as the seed's test script; all for every method, with the OOD val search)"},
		&cli.StringFlag{Name: "data", Value: "data/openood", Usage: "folder for the shards"},
		&cli.StringFlag{Name: "out", Value: "runs/recipes", Usage: "folder for the runs and results"},
		&cli.BoolFlag{Name: "list", Usage: "print the steps and their commands"},
		&cli.BoolFlag{Name: "force", Usage: "run steps even when their stamp says they are done"},
	}
}

func recipeAction(c *cli.Context, phase string) error {
	b, ok := recipeBenchmarks()[c.String("bench")]
	if !ok {
		return usageError{fmt.Sprintf("--bench %q: want cifar10, cifar100, imagenet200 or imagenet", c.String("bench"))}
	}
	o := recipeOptions{Bench: b, Root: c.String("openood"), Data: c.String("data"), Out: c.String("out"), Epochs: c.Int("epochs"),
		Width: c.Float64("width"), BatchSize: c.Int("batch-size"), Methods: c.String("methods"), Phase: phase, Pretrained: c.String("pretrained")}
	switch {
	case b.pretrained == "" && o.Pretrained != "":
		return usageError{fmt.Sprintf("--pretrained: the seed trains %s from scratch; only --bench imagenet fine-tunes pretrained weights", b.name)}
	case b.pretrained != "" && o.Width != 1:
		return usageError{fmt.Sprintf("--width %v: %s fine-tunes the pretrained %s, whose width is 1", o.Width, b.name, b.model)}
	case b.pretrained != "" && o.Pretrained == "":
		o.Pretrained = defaultPretrained(o.Root, b)
	}
	for _, f := range strings.Split(c.String("seeds"), ",") {
		s, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || s < 0 || slices.Contains(o.Seeds, s) {
			return usageError{fmt.Sprintf("--seeds %q: want distinct non-negative integers", c.String("seeds"))}
		}
		o.Seeds = append(o.Seeds, s)
	}
	if !isDir(filepath.Join(o.Root, "benchmark_imglist")) {
		return fmt.Errorf("recipe: %s has no benchmark_imglist/ folder; give OpenOOD's data folder with --openood", o.Root)
	}
	for _, s := range b.sets {
		if s.role == "train" || s.role == "val" || s.role == "test" {
			if _, err := os.Stat(filepath.Join(o.Root, s.list)); err != nil {
				return fmt.Errorf("recipe: %s: the ID %s list is missing: %w", b.name, s.split, err)
			}
		}
	}
	if b.pretrained != "" && phase == "train" && !c.Bool("list") {
		if _, err := os.Stat(o.Pretrained); err != nil {
			return fmt.Errorf("recipe: %s: the pretrained weights are missing: %w\n"+
				"the seed fine-tunes torchvision's ImageNet-1k ResNet-50 (%s); download it, e.g.\n"+
				"   curl -Lo %s https://download.pytorch.org/models/resnet50-0676ba61.pth\n"+
				"or give its path with --pretrained FILE", b.name, err, b.pretrained, o.Pretrained)
		}
		if err := checkPretrained(o.Pretrained); err != nil {
			return fmt.Errorf("recipe: %s: --pretrained: %w", b.name, err)
		}
	}
	steps := recipePlan(o)
	// Stamps per benchmark, beside the runs.
	so := demoOptions{Out: filepath.Join(o.Out, b.name), Data: filepath.Join(o.Data, b.name)}
	if c.Bool("list") {
		listSteps(c.App.Writer, so, steps)
		return nil
	}
	return runDemo(c.Context, c.App.Writer, c.App.ErrWriter, so, steps, c.Bool("force"))
}
