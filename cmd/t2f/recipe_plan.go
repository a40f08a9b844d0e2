package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/internal/plan"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/nn"
)

// recipeSet is one OpenOOD image list of a benchmark.
type recipeSet struct {
	name, split, role string // role: train, val, test, oodval, near, far, csid
	list, dataDir     string // benchmark_imglist/<bench>/<list>, under <root>/<dataDir>
}

// recipeBench is one benchmark of the T2FNorm repository's scripts (OpenOOD v1.5
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
	// pretrained is the file name of the weights the T2FNorm repository fine-tunes from,
	// under <openood>/../results/pretrained_weights/ ("" = from scratch).
	pretrained string
	classNames []string
}

func recipeBenchmarks() map[string]recipeBench {
	classic := "images_classic"
	large := "images_largescale"
	cifar := func(id, other string, classes int, csid bool) recipeBench {
		b := recipeBench{name: id, classes: classes, size: 32, trainSize: 32, model: nn.ArchResNet18_32, epochs: 100, lr: 0.1, augment: train.AugmentCrop}
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
		b := recipeBench{name: id, classes: classes, size: 224, resize: 256, trainSize: 256, model: nn.ArchResNet18_224, epochs: 90, lr: 0.1, augment: train.AugmentResizedCrop}
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
	c10.classNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	in1k := imagenet("imagenet", "imagenet", 1000)
	in1k.model, in1k.epochs, in1k.lr = nn.ArchResNet50, 30, 0.001
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

// defaultPretrained is where the T2FNorm repository's ImageNet-1k script reads the
// pretrained weights: ./results/pretrained_weights/<file> in the OpenOOD
// checkout, whose ./data is the --openood folder.
func defaultPretrained(root string, b recipeBench) string {
	return filepath.Join(root, "..", "results", "pretrained_weights", b.pretrained)
}

// recipePlan returns the plan of the train or the test phase; stamps go
// beside the benchmark's runs, the data steps' beside its shards.
func recipePlan(o recipeOptions) *plan.Plan {
	b := o.Bench
	p := &plan.Plan{Command: "t2f recipe " + o.Phase, StampDir: filepath.Join(o.Out, b.name, stampDirName), SharedStampDir: filepath.Join(o.Data, b.name, stampDirName)}
	var steps []plan.Step
	dir := func(s recipeSet) string { return filepath.Join(o.Data, b.name, s.name+"-"+s.split) }
	man := func(s recipeSet) string { return filepath.Join(dir(s), shards.ManifestName) }
	var classes []string
	if b.classNames != nil {
		classes = b.classNames
	} else {
		for i := range b.classes {
			classes = append(classes, strconv.Itoa(i))
		}
	}
	want := func(role string) bool {
		if o.Phase == "train" {
			return role == "train" || role == "val"
		}
		return role != "train" || o.Methods != posthoc.MethodT2FNorm // the test phase needs ID train features only for methods fitted on them
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
			steps = append(steps, plan.Step{Name: "data-" + s.name + "-" + s.split, Desc: s.name + " " + s.split + " (" + s.role + ")", Shared: true,
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
		steps = append(steps, plan.Step{Name: name, Desc: desc, Args: args, Inputs: []string{list}, Outputs: []string{filepath.Join(out, shards.ManifestName)}, Shared: true})
		if s.role != "train" || o.Methods != posthoc.MethodT2FNorm {
			dataDirs = append(dataDirs, out)
		}
	}
	epochs := b.epochs
	if o.Epochs > 0 {
		epochs = o.Epochs
	}
	runName := fmt.Sprintf("%s_t2fnorm_net_t2fnorm_e%d_lr%s_alpha0.1_default", b.name, epochs, fmtF(b.lr))
	var featDirs []string
	for _, seed := range o.Seeds {
		run := filepath.Join(o.Out, runName, fmt.Sprintf("s%d", seed))
		if o.Phase == "train" {
			args := []string{"train", "--train", dir(trainSet), "--val", dir(valSet), "--model", b.model, "--head", nn.HeadT2FNorm, "--tau", "0.1",
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
			steps = append(steps, trainStep(fmt.Sprintf("train-s%d", seed), desc, run, args, inputs))
			continue
		}
		fs, feat := featuresStep(fmt.Sprintf("features-s%d", seed), "features of every split (test transform, batch 200 as the evaluator)",
			run, dataDirs, "--normalization", b.name, "--batch-size", "200") // the benchmark's constants, named
		steps = append(steps, fs)
		featDirs = append(featDirs, feat)
	}
	if o.Phase == "test" {
		spec := scoreSpec{features: featDirs, id: b.name, near: near, far: far, csid: csid, methods: o.Methods, out: filepath.Join(o.Out, runName, "ood")}
		if o.Methods != posthoc.MethodT2FNorm {
			spec.oodVal = oodVal
		}
		steps = append(steps, scoreStep("score", "near/far (and full-spectrum) OOD as scripts/eval_ood.py --postprocessor "+o.Methods, spec))
	}
	p.Steps = steps
	return p
}
