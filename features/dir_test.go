package features

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
)

func testHead(tab *Table) Head {
	h := Head{Kind: tab.Meta.Head, Model: tab.Meta.Model, Width: tab.Meta.Width, Classes: tab.Meta.Classes,
		CheckpointSHA256: tab.Meta.CheckpointSHA256, Dim: tab.Dim, NumClasses: tab.NumClasses,
		Weight: make([]float32, tab.Dim*tab.NumClasses), Bias: make([]float32, tab.NumClasses), Tau: tab.Meta.Tau}
	for i := range h.Weight {
		h.Weight[i] = float32(i) * 0.25
	}
	for i := range h.Bias {
		h.Bias[i] = -float32(i)
	}
	return h
}

func TestHeadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := testHead(randomTable(1, 4, 3, 1))
	if err := WriteHead(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHead(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("ReadHead = %+v\nwant %+v", *got, want)
	}
	// The documented layout, read with the codec alone.
	f, err := safetensors.Read(filepath.Join(dir, HeadFileName))
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{"fc.weight": {3, 4}, "fc.bias": {3}, "tau": {}} {
		tn, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(tn.Shape) != len(shape) || (len(shape) > 0 && !reflect.DeepEqual(tn.Shape, shape)) {
			t.Errorf("%s shape %v, want %v", name, tn.Shape, shape)
		}
	}
	w, _ := f.Tensor("fc.weight")
	wv, _ := w.Float32s()
	if wv[1*4+2] != 6*0.25 { // W[1][2] = element 6
		t.Errorf("fc.weight[1][2] = %v, want 1.5 (row-major C×D)", wv[6])
	}
	if f.Metadata["head"] != "t2fnorm" || f.Metadata["checkpoint_sha256"] != want.CheckpointSHA256 || f.Metadata["classes"] != `["a","b","c"]` {
		t.Errorf("metadata %v", f.Metadata)
	}
}

func TestReadHeadRejects(t *testing.T) {
	good := testHead(randomTable(1, 4, 3, 1))
	meta := map[string]string{"t2f_head_version": "1", "head": "t2fnorm", "model": "m", "width": "1", "classes": "[]", "checkpoint_sha256": "x"}
	w := safetensors.FromFloat32s("fc.weight", []int{3, 4}, good.Weight)
	b := safetensors.FromFloat32s("fc.bias", []int{3}, good.Bias)
	tau := safetensors.FromFloat64s("tau", nil, []float64{0.1})
	for _, tc := range []struct {
		name    string
		tensors []safetensors.Tensor
		meta    func(map[string]string)
		wantErr string
	}{
		{"bias of another C", []safetensors.Tensor{w, safetensors.FromFloat32s("fc.bias", []int{2}, good.Bias[:2]), tau}, nil,
			"fc.weight [3 4], fc.bias [2], tau []"},
		{"no tau", []safetensors.Tensor{w, b}, nil, "want exactly fc.weight, fc.bias and tau"},
		{"zero tau", []safetensors.Tensor{w, b, safetensors.FromFloat64s("tau", nil, []float64{0})}, nil, "tau 0, want a finite value > 0"},
		{"F32 weight as F64", []safetensors.Tensor{safetensors.FromFloat64s("fc.weight", []int{3, 4}, make([]float64, 12)), b, tau}, nil,
			"has dtype F64"},
		{"no version", []safetensors.Tensor{w, b, tau}, func(m map[string]string) { delete(m, "t2f_head_version") },
			`t2f_head_version is ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := map[string]string{}
			for k, v := range meta {
				m[k] = v
			}
			if tc.meta != nil {
				tc.meta(m)
			}
			if err := safetensors.Write(filepath.Join(dir, HeadFileName), tc.tensors, m); err != nil {
				t.Fatal(err)
			}
			_, err := ReadHead(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), HeadFileName) {
				t.Fatalf("ReadHead error %v, want one naming %s and containing %q", err, HeadFileName, tc.wantErr)
			}
		})
	}
}

// writeSet writes a consistent features directory: cifar10 train and test,
// svhn test (OOD), and the head.
func writeSet(t *testing.T, dir string) []*Table {
	t.Helper()
	var tabs []*Table
	for i, ds := range [][2]string{{"cifar10", "train"}, {"cifar10", "test"}, {"svhn", "test"}} {
		tab := randomTable(5+i, 4, 3, uint64(i))
		tab.Meta.Dataset, tab.Meta.Split = ds[0], ds[1]
		if err := WriteFile(filepath.Join(dir, FileName(ds[0], ds[1])), tab); err != nil {
			t.Fatal(err)
		}
		tabs = append(tabs, tab)
	}
	if err := WriteHead(dir, testHead(tabs[0])); err != nil {
		t.Fatal(err)
	}
	return tabs
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	want := writeSet(t, dir)
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by file name: cifar10_test, cifar10_train, svhn_test.
	order := []int{1, 0, 2}
	if len(got) != 3 {
		t.Fatalf("ReadDir returned %d tables, want 3", len(got))
	}
	for i, j := range order {
		if d := tableDiff(got[i], want[j]); d != "" {
			t.Errorf("table %d (%s): %s", i, FileName(want[j].Meta.Dataset, want[j].Meta.Split), d)
		}
	}
}

func TestListDirRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, dir string)
		wantErr string
	}{
		{"other checkpoint", func(t *testing.T, dir string) {
			tab := randomTable(3, 4, 3, 9)
			tab.Meta.Dataset, tab.Meta.Split = "mnist", "test"
			tab.Meta.CheckpointSHA256 = strings.Repeat("cd", 32)
			if err := WriteFile(filepath.Join(dir, "mnist_test.parquet"), tab); err != nil {
				t.Fatal(err)
			}
		}, "come from different checkpoints (SHA-256 " + strings.Repeat("ab", 32) + " and " + strings.Repeat("cd", 32)},
		{"other dimension", func(t *testing.T, dir string) {
			tab := randomTable(3, 5, 3, 9)
			tab.Meta.Dataset, tab.Meta.Split = "mnist", "test"
			if err := WriteFile(filepath.Join(dir, "mnist_test.parquet"), tab); err != nil {
				t.Fatal(err)
			}
		}, "have different shapes (D 4, C 3 and D 5, C 3)"},
		{"renamed file", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "svhn_test.parquet"), filepath.Join(dir, "mnist_test.parquet")); err != nil {
				t.Fatal(err)
			}
		}, `holds dataset "svhn" split "test", so it must be named "svhn_test.parquet"`},
		{"head of another checkpoint", func(t *testing.T, dir string) {
			h := testHead(randomTable(1, 4, 3, 1))
			h.CheckpointSHA256 = "ff"
			if err := WriteHead(dir, h); err != nil {
				t.Fatal(err)
			}
		}, "head.safetensors comes from checkpoint SHA-256 ff"},
		{"head with another tau", func(t *testing.T, dir string) {
			h := testHead(randomTable(1, 4, 3, 1))
			h.Tau = 1
			if err := WriteHead(dir, h); err != nil {
				t.Fatal(err)
			}
		}, "head.safetensors is t2fnorm τ=1 of resnet18_32x32 ×0.5"},
		{"a parquet file that is not features", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "notes.parquet"), []byte("PAR1"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "notes.parquet"},
		{"empty", func(t *testing.T, dir string) {
			for _, n := range []string{"cifar10_train.parquet", "cifar10_test.parquet", "svhn_test.parquet"} {
				os.Remove(filepath.Join(dir, n))
			}
		}, "no feature files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSet(t, dir)
			tc.edit(t, dir)
			_, err := ListDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ListDir error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
