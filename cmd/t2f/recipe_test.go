package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/internal/plan"
)

// writeOpenOOD makes a tiny OpenOOD data folder for cifar10: PNGs under
// images_classic/ and the v1.5 image lists under benchmark_imglist/cifar10/,
// without the texture and places365 lists (a user who lacks some sets).
func writeOpenOOD(t *testing.T, root string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	lists := map[string][]string{}
	add := func(list, set string, n int, labelled bool) {
		for i := range n {
			rel := fmt.Sprintf("%s/img%03d.png", set, i)
			p := filepath.Join(root, "images_classic", rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			label := -1
			if labelled {
				label = i % 10
			}
			for j := 0; j < len(img.Pix); j += 4 {
				v := uint8(rng.IntN(256))
				if label >= 0 && (j/4)%32 < 3*(label+1) {
					v = 255
				}
				img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = v, v/2, 255-v, 255
			}
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			lists[list] = append(lists[list], fmt.Sprintf("%s %d", rel, label))
		}
	}
	add("train_cifar10.txt", "cifar10/train", 40, true)
	add("val_cifar10.txt", "cifar10/val", 20, true)
	add("test_cifar10.txt", "cifar10/test", 30, true)
	add("test_cifar10c.txt", "cifar10c", 20, true)
	add("val_tin.txt", "tin/val", 10, false)
	add("test_cifar100.txt", "cifar100/test", 15, false)
	add("test_tin.txt", "tin/test", 15, false)
	add("test_mnist.txt", "mnist", 15, false)
	add("test_svhn.txt", "svhn", 15, false)
	dir := filepath.Join(root, "benchmark_imglist", "cifar10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, lines := range lists {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecipeCIFAR10 runs `t2f recipe cifar10 train` and `test` end to end
// on a generated OpenOOD folder with the epochs cut down, in process.
func TestRecipeCIFAR10(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small ResNets")
	}
	root := t.TempDir()
	writeOpenOOD(t, filepath.Join(root, "openood"))
	common := []string{"--openood", filepath.Join(root, "openood"), "--seeds", "0,1", "--epochs", "1", "--width", "0.125",
		"--batch-size", "16", "--data", filepath.Join(root, "data"), "--out", filepath.Join(root, "runs")}
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"t2f", "recipe", "train", "--bench", "cifar10"}, common...), &out, &errb); code != 0 {
		t.Fatalf("recipe train: exit %d\n%s", code, errb.String())
	}
	runDir := filepath.Join(root, "runs", "cifar10_t2fnorm_net_t2fnorm_e1_lr0.1_alpha0.1_default")
	for _, s := range []string{"s0", "s1"} {
		if _, err := os.Stat(filepath.Join(runDir, s, "best.safetensors")); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), append([]string{"t2f", "recipe", "test", "--bench", "cifar10"}, common...), &out, &errb); code != 0 {
		t.Fatalf("recipe test: exit %d\n%s", code, errb.String())
	}
	log := errb.String()
	for _, want := range []string{"texture-test: skipped: no image list", "places365-test: skipped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	csv, err := os.ReadFile(filepath.Join(runDir, "ood", "t2fnorm.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	var rows []string
	for _, l := range lines[1:] {
		rows = append(rows, strings.SplitN(l, ",", 2)[0])
	}
	if got := strings.Join(rows, " "); got != "cifar100 tin nearood mnist svhn farood" {
		t.Errorf("t2fnorm.csv rows %q, want OpenOOD's cifar10 rows without texture and places365", got)
	}
	if !strings.Contains(lines[1], "±") {
		t.Errorf("two seeds but no mean ± std: %s", lines[1])
	}
	if _, err := os.Stat(filepath.Join(runDir, "ood", "t2fnorm_fsood.csv")); err != nil {
		t.Errorf("no full-spectrum table with cifar10c: %v", err)
	}
	// The table is printed as the seed's script prints it.
	if !strings.Contains(out.String(), "nearood") || !strings.Contains(out.String(), "AUROC") {
		t.Errorf("stdout lacks the table:\n%s", out.String())
	}
}

func TestRecipeErrors(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--bench", "cifar11", "--openood", root}, exitUsage, "--bench \"cifar11\""},
		{[]string{"train", "--bench", "cifar10", "--openood", root}, exitFailure, "no benchmark_imglist"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"t2f", "recipe"}, tc.args...), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// writeImageNetLists makes an OpenOOD folder holding only the image lists of
// an ImageNet benchmark (enough for planning and the flag checks).
func writeImageNetLists(t *testing.T, root, bench, csid string) {
	t.Helper()
	dir := filepath.Join(root, "benchmark_imglist", bench)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train_" + bench, "val_" + bench, "test_" + bench, "val_openimage_o", "test_ssb_hard", "test_ninco",
		"test_inaturalist", "test_textures", "test_openimage_o", "test_" + csid + "_v2", "test_" + csid + "_c", "test_" + csid + "_r"} {
		if err := os.WriteFile(filepath.Join(dir, f+".txt"), []byte("a.jpg 0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stepArgs returns the command line of each step by name.
func stepArgs(steps []plan.Step) map[string]string {
	m := map[string]string{}
	for _, s := range steps {
		m[s.Name] = " " + strings.Join(s.Args, " ") + " "
	}
	return m
}

// TestRecipeImageNetPlan checks the ImageNet geometry (training shards at
// 256 for RandomResizedCrop, everything evaluated Resize(256) →
// CenterCrop(224), ImageNet-C as stored), the fine-tuning of ImageNet-1k
// from the pretrained file, and the test-transform copy of the ID train
// split for the methods fitted on it.
func TestRecipeImageNetPlan(t *testing.T) {
	root := t.TempDir()
	writeImageNetLists(t, root, "imagenet", "imagenet")
	b := recipeBenchmarks()["imagenet"]
	o := recipeOptions{Bench: b, Root: root, Data: "d", Out: "r", Seeds: []int{0}, Width: 1, BatchSize: 128, Methods: "t2fnorm",
		Phase: "train", Pretrained: "w/resnet50.pth"}
	tr := stepArgs(recipePlan(o).Steps)
	want := map[string][]string{
		"data-imagenet-train": {" --size 256 ", " --out d/imagenet/imagenet-train "},
		"data-imagenet-val":   {" --resize 256 --size 224 ", " --out d/imagenet/imagenet-val "},
		"train-s0":            {" --init w/resnet50.pth ", " --model resnet50 ", " --lr 0.001 ", " --epochs 30 ", " --augment resized_crop "},
	}
	for name, subs := range want {
		for _, sub := range subs {
			if !strings.Contains(tr[name], sub) {
				t.Errorf("train step %s: %q lacks %q", name, tr[name], sub)
			}
		}
	}
	if strings.Contains(tr["data-imagenet-train"], "--resize") {
		t.Errorf("training shards built with --resize: %s", tr["data-imagenet-train"])
	}

	o.Phase, o.Methods = "test", "all"
	steps := recipePlan(o).Steps
	te := stepArgs(steps)
	for _, s := range steps {
		if s.Name == "data-imagenet_c-test" {
			if !strings.Contains(te[s.Name], " --size 224 ") || strings.Contains(te[s.Name], "--resize") {
				t.Errorf("ImageNet-C (pre-cropped) step: %s", te[s.Name])
			}
		} else if strings.HasPrefix(s.Name, "data-") && !strings.Contains(te[s.Name], " --resize 256 --size 224 ") {
			t.Errorf("test step %s lacks the test transform: %s", s.Name, te[s.Name])
		}
	}
	if !strings.Contains(te["data-imagenet-train-eval"], " --out d/imagenet/imagenet-train-eval ") {
		t.Errorf("no test-transform copy of the train split: %v", te["data-imagenet-train-eval"])
	}
	if f := te["features-s0"]; !strings.Contains(f, " --data d/imagenet/imagenet-train-eval ") || strings.Contains(f, " --data d/imagenet/imagenet-train ") {
		t.Errorf("features step does not use the test-transform train shards: %s", f)
	}

	// ImageNet-200 trains from scratch at the same geometry.
	o = recipeOptions{Bench: recipeBenchmarks()["imagenet200"], Root: root, Data: "d", Out: "r", Seeds: []int{0}, Width: 1, BatchSize: 128,
		Methods: "t2fnorm", Phase: "train"}
	writeImageNetLists(t, root, "imagenet200", "imagenet200")
	tr = stepArgs(recipePlan(o).Steps)
	if !strings.Contains(tr["data-imagenet200-train"], " --size 256 ") || strings.Contains(tr["train-s0"], "--init") {
		t.Errorf("imagenet200: %s / %s", tr["data-imagenet200-train"], tr["train-s0"])
	}
}

// TestRecipeCIFARPlanGeometry: CIFAR shards stay 32×32 with no --resize, and
// the train split is not duplicated for the test phase.
func TestRecipeCIFARPlanGeometry(t *testing.T) {
	root := t.TempDir()
	writeOpenOOD(t, root)
	o := recipeOptions{Bench: recipeBenchmarks()["cifar10"], Root: root, Data: "d", Out: "r", Seeds: []int{0}, Width: 1, BatchSize: 128,
		Methods: "all", Phase: "test"}
	for _, s := range recipePlan(o).Steps {
		a := " " + strings.Join(s.Args, " ") + " "
		if strings.Contains(a, "--resize") || strings.Contains(a, "-eval") || strings.Contains(a, "--init") ||
			(strings.HasPrefix(s.Name, "data-") && s.Skip == "" && !strings.Contains(a, " --size 32 ")) {
			t.Errorf("cifar10 step %s: %s", s.Name, a)
		}
	}
}

func TestRecipePretrainedFlag(t *testing.T) {
	root := filepath.Join(t.TempDir(), "OpenOOD", "data")
	writeImageNetLists(t, root, "imagenet", "imagenet")
	writeOpenOOD(t, root)
	cut, err := filepath.Abs(filepath.Join("..", "..", "formats", "pth", "testdata", "legacy_cut.pth"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := filepath.Abs(filepath.Join("..", "..", "formats", "pth", "testdata", "legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := filepath.Abs(filepath.Join("..", "..", "formats", "pth", "testdata", "resnet50_w1-128.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defaultPath := filepath.Join(filepath.Dir(root), "results", "pretrained_weights", "resnet50_imagenet1k_v1.pth")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing default", []string{"--bench", "imagenet"}, exitFailure, []string{"pretrained weights are missing", defaultPath, "--pretrained FILE", "resnet50-0676ba61.pth"}},
		{"truncated file", []string{"--bench", "imagenet", "--pretrained", cut}, exitFailure, []string{"--pretrained", "legacy_cut.pth", "truncated file?"}},
		{"cifar", []string{"--bench", "cifar10", "--pretrained", good}, exitUsage, []string{"trains cifar10 from scratch"}},
		{"width", []string{"--bench", "imagenet", "--width", "0.5"}, exitUsage, []string{"--width 0.5", "width is 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"t2f", "recipe", "train", "--openood", root, "--data", t.TempDir(), "--out", t.TempDir()}, tc.args...)
			code := run(context.Background(), args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q lacks %q", errb.String(), w)
				}
			}
		})
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"t2f", "recipe", "train", "--bench", "imagenet", "--openood", root, "--pretrained", good, "--list"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "--init "+good) {
		t.Errorf("--list: exit %d, stdout %s, stderr %s; want the train step with --init", code, out.String(), errb.String())
	}
	// The check before any step accepts torch.save's zip and legacy (pre-1.6)
	// formats and refuses what t2f train --init cannot read.
	for _, tc := range []struct {
		path string
		ok   bool
	}{{good, true}, {legacy, true}, {cut, false}, {filepath.Join(filepath.Dir(good), "whole_model.pth"), false}} {
		if err := checkPretrained(tc.path); (err == nil) != tc.ok {
			t.Errorf("checkPretrained(%s) = %v, want ok %v", filepath.Base(tc.path), err, tc.ok)
		}
	}
}
