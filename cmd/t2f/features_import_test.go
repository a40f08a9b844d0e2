package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/internal/dirlock"
)

// npyBytes is a .npy (version 1.0) of a float32 or int64 array.
func npyBytes(shape []int, v any) []byte {
	descr := "<f4"
	if _, ok := v.([]int64); ok {
		descr = "<i8"
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

type npyArray struct {
	shape []int
	v     any
}

func writeNPZ(t *testing.T, path string, arrays map[string]npyArray) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, a := range arrays {
		w, err := zw.Create(name + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(npyBytes(a.shape, a.v))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFeaturesImportCommand(t *testing.T) {
	dir := t.TempDir()
	const d, c = 4, 3
	w := []float32{1, 0, -1, 0.5, 0, 1, 0, -0.5, -1, 0.5, 1, 0}
	bias := []float32{0.1, 0, -0.1}
	split := func(name string, n int, ood bool, extra map[string]npyArray) {
		f := make([]float32, n*d)
		labels := make([]int64, n)
		logits := make([]float32, n*c)
		for i := range n {
			for j := range d {
				f[i*d+j] = float32(math.Sin(float64(7*i+j+len(name)))) * 3
			}
			labels[i] = int64(i % c)
			if ood {
				labels[i] = -1
			}
			for k := range c {
				z := bias[k]
				for j := range d {
					z += w[k*d+j] * f[i*d+j]
				}
				logits[i*c+k] = z
			}
		}
		arrays := map[string]npyArray{"features": {[]int{n, d}, f}, "labels": {[]int{n}, labels}, "logits": {[]int{n, c}, logits}}
		for k, v := range extra {
			arrays[k] = v
		}
		writeNPZ(t, filepath.Join(dir, name+".npz"), arrays)
	}
	split("toy_test", 30, false, map[string]npyArray{"fc.weight": {[]int{c, d}, w}, "fc.bias": {[]int{c}, bias}})
	split("far_test", 20, true, nil)
	out := filepath.Join(dir, "feats")
	code, msg := runCLI(t, "features", "import", "--in", filepath.Join(dir, "toy_test.npz"), "--in", filepath.Join(dir, "far_test.npz"),
		"--classes", "a,b,c", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, msg)
	}
	tabs, err := features.ReadDir(out)
	if err != nil || len(tabs) != 2 {
		t.Fatalf("%d tables, %v", len(tabs), err)
	}
	if code, msg := runCLI(t, "score", "--features", out, "--id", "toy", "--far", "far", "--methods", "msp,ebo", "--out", filepath.Join(dir, "scores"), "--quiet"); code != 0 {
		t.Fatalf("score: exit %d: %s", code, msg)
	}

	// A directory another process writes is refused, naming the holder.
	held, err := dirlock.Acquire(out, "t2f features (another run)")
	if err != nil {
		t.Fatal(err)
	}
	code, msg = runCLI(t, "features", "import", "--in", filepath.Join(dir, "toy_test.npz"), "--out", out, "--quiet")
	held.Release()
	if code != exitFailure || !strings.Contains(msg, "another run") {
		t.Errorf("import into a locked --out: exit %d %q, want %d naming the holder", code, msg, exitFailure)
	}

	// Refusals leave nothing behind.
	writeNPZ(t, filepath.Join(dir, "map_test.npz"), map[string]npyArray{"features": {[]int{2, d, 1, 1}, make([]float32, 2*d)},
		"labels": {[]int{2}, []int64{0, 1}}})
	writeNPZ(t, filepath.Join(dir, "nohead_test.npz"), map[string]npyArray{"features": {[]int{2, d}, make([]float32, 2*d)},
		"labels": {[]int{2}, []int64{0, 1}}})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--in", filepath.Join(dir, "map_test.npz"), "--head-file", filepath.Join(dir, "toy_test.npz")}, exitFailure, "pool it first"},
		{[]string{"--in", filepath.Join(dir, "nohead_test.npz")}, exitUsage, "--head-file"},
		{[]string{"--in", filepath.Join(dir, "toy_test.npz"), "--classes", "a,b"}, exitUsage, "--classes names 2 classes"},
		{[]string{"--in", filepath.Join(dir, "toy_test.npz"), "--head", "t2fnorm"}, exitFailure, "needs τ"},
		{[]string{"--in", filepath.Join(dir, "toy_test.npz"), "--head", "t2fnorm", "--tau", "0.5"}, exitFailure, "the head is not this model's"},
		{[]string{"--in", filepath.Join(dir, "toy_test.npz"), "--in", filepath.Join(dir, "toy_test.npz")}, exitUsage, "each split once"},
		{[]string{"--in", filepath.Join(dir, "feats")}, exitUsage, "name it <dataset>_<split>"},
	} {
		o := filepath.Join(dir, "refused")
		code, msg := runCLI(t, append(append([]string{"features", "import"}, tc.args...), "--out", o, "--quiet")...)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: exit %d %q, want %d containing %q", tc.args, code, msg, tc.code, tc.want)
		}
		if left, _ := filepath.Glob(filepath.Join(o, "*")); len(left) > 0 {
			t.Errorf("%v: left %v", tc.args, left)
		}
	}
}

// TestFeaturesImportPyTorchScript runs the dump script of docs/features.md
// with PyTorch, imports its output and scores it. It needs /usr/bin/python3
// with torch and torchvision and skips without them (CI has no Python).
func TestFeaturesImportPyTorchScript(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, torchvision, numpy").Run(); err != nil {
		t.Skipf("%s with torch, torchvision and numpy is not available: %v", python, err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "features.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(doc, []byte("# dump_features.py OUTDIR"))
	if start < 0 {
		t.Fatal("docs/features.md has no dump_features.py script")
	}
	end := bytes.Index(doc[start:], []byte("```"))
	script := doc[start : start+end]
	if lines := bytes.Count(script, []byte("\n")); lines > 22 {
		t.Errorf("the script is %d lines, want about 20", lines)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dump_features.py"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "dump_features.py", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dump_features.py: %v\n%s", err, out)
	}
	feats := filepath.Join(dir, "feats")
	args := []string{"features", "import", "--model", "resnet18", "--out", feats, "--quiet"}
	for _, s := range []string{"fake_train", "fake_val", "fake_test", "noise_test"} {
		args = append(args, "--in", filepath.Join(dir, s+".npz"))
	}
	if code, msg := runCLI(t, args...); code != 0 {
		t.Fatalf("import: exit %d: %s", code, msg)
	}
	if code, msg := runCLI(t, "score", "--features", feats, "--id", "fake", "--far", "noise", "--methods", "msp,ebo,mls,knn,mds,vim,react",
		"--out", filepath.Join(dir, "results"), "--quiet"); code != 0 {
		t.Fatalf("score: exit %d: %s", code, msg)
	}
	tab, err := features.ReadFile(filepath.Join(feats, "fake_test.parquet"))
	if err != nil || tab.Len() != 64 || tab.Dim != 512 || tab.NumClasses != 10 {
		t.Fatalf("fake_test: %v rows D %d C %d, %v", tab.Len(), tab.Dim, tab.NumClasses, err)
	}
}

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"t2f"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}
