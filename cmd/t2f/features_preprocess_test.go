package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/shards"
)

// TestOpenOODTestInputs: for each benchmark of OpenOOD v1.5 (CIFAR-10,
// CIFAR-100, ImageNet-200, ImageNet-1k), an image (RGB photo-like, a small
// RGB one that is upsampled, a greyscale digit) taken through `t2f pipeline
// build` with the benchmark's geometry and the features test transform
// with the --normalize preset named after the benchmark reproduces
// OpenOOD's TestStandardPreProcessor tensor (torchvision/PIL, fixtures by
// scripts/gen_openood_preprocess_fixtures.py): the uint8 image after
// Resize → CenterCrop to ≤ 1 level, the normalised tensor to one level's
// worth (1/255/std) and exactly where the levels agree.
func TestOpenOODTestInputs(t *testing.T) {
	dir := filepath.Join("testdata", "openood_preprocess")
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Bench, Src, Uint8 string
		PreSize           int `json:"pre_size"`
		ImageSize         int `json:"image_size"`
		Mean, Std         []float64
		Index             []int
		Values            []float64
		Sum               float64
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("photo.png -1\nsmall.png -1\ndigit.png -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	built := map[string]*shards.Reader{}
	for _, c := range cases {
		r := built[c.Bench]
		if r == nil {
			out := filepath.Join(t.TempDir(), c.Bench)
			if code, msg := runCLI(t, "pipeline", "build", "--source", "imglist", "--input", list, "--root", abs, "--name", "ood",
				"--split-name", "test", "--resize", fmt.Sprint(c.PreSize), "--size", fmt.Sprint(c.ImageSize), "--channels", "3",
				"--label-ood", "--out", out, "--quiet"); code != 0 {
				t.Fatalf("%s: pipeline build: exit %d: %s", c.Bench, code, msg)
			}
			if r, err = shards.Open(out); err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			built[c.Bench] = r
		}
		row := -1
		for i := range r.Len() {
			if strings.HasSuffix(r.Source(i), c.Src) {
				row = i
			}
		}
		if row < 0 {
			t.Fatalf("%s: no row from %s", c.Bench, c.Src)
		}
		want, err := os.ReadFile(filepath.Join(dir, c.Uint8))
		if err != nil {
			t.Fatal(err)
		}
		got := r.Image(row)
		if len(got) != len(want) {
			t.Fatalf("%s %s: %d bytes, want %d", c.Bench, c.Src, len(got), len(want))
		}
		maxd := 0
		for i := range got {
			maxd = max(maxd, abs8(got[i], want[i]))
		}
		if maxd > 1 {
			t.Errorf("%s %s: uint8 image differs from PIL's by %d levels, want ≤ 1", c.Bench, c.Src, maxd)
		}
		// The features path: the test transform with the benchmark's preset.
		norm, err := augment.Preset(c.Bench)
		if err != nil {
			t.Fatal(err)
		}
		for ch := range 3 {
			if math.Abs(norm.Mean[ch]-c.Mean[ch]) > 1e-12 || math.Abs(norm.Std[ch]-c.Std[ch]) > 1e-12 {
				t.Fatalf("%s: preset %v/%v, OpenOOD's %v/%v", c.Bench, norm.Mean, norm.Std, c.Mean, c.Std)
			}
		}
		aug, err := augment.NewAugmenter(augment.TestTransform(norm), augment.Shape{H: c.ImageSize, W: c.ImageSize, C: 3})
		if err != nil {
			t.Fatal(err)
		}
		src, err := features.NewShardSource(r, aug)
		if err != nil {
			t.Fatal(err)
		}
		hw := c.ImageSize * c.ImageSize
		x := make([]float32, r.Len()*3*hw)
		if err := src.Load(0, x, make([]int64, r.Len()), make([]int32, r.Len())); err != nil {
			t.Fatal(err)
		}
		x = x[row*3*hw : (row+1)*3*hw]
		for k, idx := range c.Index {
			ch, p := idx/hw, idx%hw
			tol := 1e-6
			if got[p*3+ch] != want[p*3+ch] {
				tol = 1.0/255/c.Std[ch] + 1e-6
			}
			if d := math.Abs(float64(x[idx]) - c.Values[k]); d > tol {
				t.Errorf("%s %s: tensor[%d] = %v, OpenOOD %v", c.Bench, c.Src, idx, x[idx], c.Values[k])
			}
		}
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		if maxd == 0 && math.Abs(sum-c.Sum) > 1e-6*float64(len(x)) {
			t.Errorf("%s %s: tensor sum %v, OpenOOD %v", c.Bench, c.Src, sum, c.Sum)
		}
		t.Logf("%s %s: max |Δ| %d level(s)", c.Bench, c.Src, maxd)
	}
}

func abs8(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
