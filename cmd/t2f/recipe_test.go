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
