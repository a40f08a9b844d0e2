package features

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
)

// writeArrays writes ts as dir/name and returns the path.
func writeArrays(t *testing.T, dir, name string, ts ...safetensors.Tensor) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportFiles(t *testing.T) {
	dir := t.TempDir()
	f, w, b, labels := importFixture()
	id := writeArrays(t, dir, "toy_test.safetensors", f, labels, w, b)
	far := writeArrays(t, dir, "far_away_test.safetensors", f, labels)
	headOnly := writeArrays(t, dir, "head.safetensors", w, b, safetensors.FromFloat32s("tau", nil, []float32{0.5}))

	im, err := ImportFiles(ImportSpec{In: []string{id, far}, Kind: HeadLinear, Model: "toynet", Classes: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Tables) != 2 || im.HeadSource != id {
		t.Fatalf("%d tables, head from %s; want 2 tables, head from %s", len(im.Tables), im.HeadSource, id)
	}
	for i, want := range [][2]string{{"toy", "test"}, {"far_away", "test"}} {
		m := im.Tables[i].Meta
		if m.Dataset != want[0] || m.Split != want[1] || m.Model != "toynet" || m.Width != 1 || m.Head != HeadLinear ||
			!slices.Equal(m.Classes, []string{"a", "b"}) || m.CheckpointSHA256 != im.Head.CheckpointSHA256 {
			t.Errorf("table %d meta %+v, want %s/%s of toynet ×1, linear head, classes a b", i, m, want[0], want[1])
		}
		if err := im.Tables[i].Check(); err != nil {
			t.Errorf("table %d: %v", i, err)
		}
	}

	// A head file wins over the inputs' arrays, and its tau makes the T2FNorm head.
	im, err = ImportFiles(ImportSpec{In: []string{far}, HeadFile: headOnly, Kind: HeadT2FNorm})
	if err != nil {
		t.Fatal(err)
	}
	if im.HeadSource != headOnly || im.Head.Tau != 0.5 || im.Tables[0].Meta.Head != HeadT2FNorm {
		t.Errorf("head from %s, τ %v, table head %q; want %s, 0.5, %q", im.HeadSource, im.Head.Tau, im.Tables[0].Meta.Head, headOnly, HeadT2FNorm)
	}
}

func TestImportFilesRefusals(t *testing.T) {
	dir := t.TempDir()
	f, w, b, labels := importFixture()
	id := writeArrays(t, dir, "toy_test.safetensors", f, labels, w, b)
	noHead := writeArrays(t, dir, "far_test.safetensors", f, labels)
	unnamed := writeArrays(t, dir, "toy.safetensors", f, labels, w, b)
	empty := filepath.Join(dir, "empty_test")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		spec     ImportSpec
		settings bool // want an ErrImportSettings
		want     string
	}{
		{"unnamed split", ImportSpec{In: []string{unnamed}, Kind: HeadLinear}, true, "name it <dataset>_<split>"},
		{"split twice", ImportSpec{In: []string{id, id}, Kind: HeadLinear}, true, "each split once"},
		{"no head", ImportSpec{In: []string{noHead}, Kind: HeadLinear}, true, "--head-file"},
		{"classes", ImportSpec{In: []string{id}, Kind: HeadLinear, Classes: []string{"a", "b", "c"}}, true, "--classes names 3 classes, the head has C = 2"},
		{"no tau", ImportSpec{In: []string{id}, Kind: HeadT2FNorm}, false, "needs τ"},
		{"unknown kind", ImportSpec{In: []string{id}, Kind: "cosine"}, false, `head kind "cosine"`},
		{"missing file", ImportSpec{In: []string{filepath.Join(dir, "gone_test.npz")}, Kind: HeadLinear}, false, "gone_test.npz"},
		{"empty directory", ImportSpec{In: []string{empty}, Kind: HeadLinear}, false, "a directory without .npy files"},
		{"missing head file", ImportSpec{In: []string{id}, HeadFile: filepath.Join(dir, "gone.npz"), Kind: HeadLinear}, false, "--head-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := ImportFiles(tc.spec)
			if err == nil {
				t.Fatalf("imported %d tables, want an error containing %q", len(im.Tables), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrImportSettings) != tc.settings {
				t.Errorf("error %q (settings: %v), want one containing %q (settings: %v)", err, errors.Is(err, ErrImportSettings), tc.want, tc.settings)
			}
		})
	}
}
