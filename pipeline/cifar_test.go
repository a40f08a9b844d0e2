package pipeline

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/shards"
)

// cifarRecord is one record in the official layout with its expected HWC
// pixels computed here: label byte(s), then the R, G and B planes.
func cifarRecords(rng *rand.Rand, n int, labelMax []int) (file []byte, labels [][]int, hwc [][]uint8) {
	for range n {
		var ls []int
		for _, m := range labelMax {
			l := rng.IntN(m)
			ls = append(ls, l)
			file = append(file, byte(l))
		}
		planes := make([]byte, 3072)
		for i := range planes {
			planes[i] = byte(rng.IntN(256))
		}
		file = append(file, planes...)
		img := make([]uint8, 0, 3072)
		for y := range 32 {
			for x := range 32 {
				for c := range 3 {
					img = append(img, planes[c*1024+y*32+x])
				}
			}
		}
		labels = append(labels, ls)
		hwc = append(hwc, img)
	}
	return
}

func TestCIFAR10Build(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 0))
	dir := t.TempDir()
	var labels [][]int
	var imgs [][]uint8
	for b := 1; b <= 5; b++ {
		f, l, im := cifarRecords(rng, 3+b, []int{10})
		os.WriteFile(filepath.Join(dir, "data_batch_"+string(rune('0'+b))+".bin"), f, 0o644)
		labels, imgs = append(labels, l...), append(imgs, im...)
	}
	tf, _, _ := cifarRecords(rng, 4, []int{10})
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), tf, 0o644)
	out := filepath.Join(t.TempDir(), "o")
	res, err := Build(context.Background(), Params{Source: "cifar10", Input: dir, Split: "train", Out: out, Workers: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Classes[0] != "airplane" || res.Manifest.Classes[9] != "truck" {
		t.Errorf("classes %v", res.Manifest.Classes)
	}
	r, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Len() != len(imgs) {
		t.Fatalf("%d rows, want %d", r.Len(), len(imgs))
	}
	for i := range imgs {
		if !bytes.Equal(r.Image(i), imgs[i]) || int(r.Label(i)) != labels[i][0] {
			t.Fatalf("row %d (%s) differs from the record", i, r.Source(i))
		}
	}
	if r.Source(4) != "data_batch_2.bin#0" {
		t.Errorf("row 4 source %q, want data_batch_2.bin#0", r.Source(4))
	}
}

func TestCIFAR100Build(t *testing.T) {
	rng := rand.New(rand.NewPCG(100, 0))
	dir := t.TempDir()
	f, labels, imgs := cifarRecords(rng, 9, []int{20, 100})
	os.WriteFile(filepath.Join(dir, "test.bin"), f, 0o644)
	for _, coarse := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "o")
		res, err := Build(context.Background(), Params{Source: "cifar100", Input: dir, Split: "test", Coarse: coarse, Out: out}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 100
		if coarse {
			want = 20
		}
		if len(res.Manifest.Classes) != want {
			t.Fatalf("coarse=%v: %d classes", coarse, len(res.Manifest.Classes))
		}
		r, _ := shards.Open(out)
		for i := range imgs {
			l := labels[i][1]
			if coarse {
				l = labels[i][0]
			}
			if !bytes.Equal(r.Image(i), imgs[i]) || int(r.Label(i)) != l {
				t.Fatalf("coarse=%v row %d differs", coarse, i)
			}
		}
		r.Close()
	}
}

func TestCIFARBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	good, _, _ := cifarRecords(rng, 3, []int{10})
	bad := bytes.Clone(good)
	bad[3073] = 10 // record 1's label
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-100], "record 2 has 2973 bytes"},
		{"label out of range", bad, "record 1: label 10"},
		{"empty", nil, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "test_batch.bin"), tc.data, 0o644)
			out := filepath.Join(dir, "o")
			_, err := Build(context.Background(), Params{Source: "cifar10", Input: dir, Split: "test", Out: out}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test_batch.bin") {
				t.Fatalf("err = %v, want one naming test_batch.bin with %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output left behind")
			}
		})
	}
}
