package cublasload

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocateOrder(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	touch(t, filepath.Join(a, "libcublas.so.12"))
	touch(t, filepath.Join(b, "libcublas.so.13"))
	touch(t, filepath.Join(b, "libcublas.so.12"))
	if err := os.MkdirAll(filepath.Join(a, "libcublas.so.11"), 0o755); err != nil { // a directory is no library
		t.Fatal(err)
	}
	got, err := Locate(Config{Dirs: []string{a, filepath.Join(root, "missing"), b}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(b, "libcublas.so.13"), // the newest soname wins over directory order
		filepath.Join(a, "libcublas.so.12"),
		filepath.Join(b, "libcublas.so.12"),
		"libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Locate = %v\nwant %v", got, want)
	}
}

func TestLocateExplicit(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "custom.so")
	touch(t, lib)
	touch(t, filepath.Join(root, "libcublas.so.13"))
	got, err := Locate(Config{Path: lib, Dirs: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{lib}) {
		t.Fatalf("Locate with an explicit path = %v, want only %s", got, lib)
	}
	if _, err := Locate(Config{Path: filepath.Join(root, "nope.so")}); err == nil || !strings.Contains(err.Error(), "nope.so") {
		t.Fatalf("missing explicit path: err = %v, want one naming the file", err)
	}
	if _, err := Locate(Config{Path: root}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory as explicit path: err = %v", err)
	}
}

func TestSplitPathList(t *testing.T) {
	got := SplitPathList("/a::/b/c:")
	if !slices.Equal(got, []string{"/a", "/b/c"}) {
		t.Fatalf("SplitPathList = %v", got)
	}
	if got := SplitPathList(""); len(got) != 0 {
		t.Fatalf("SplitPathList(\"\") = %v, want none", got)
	}
}

func TestNotFoundError(t *testing.T) {
	e := &NotFoundError{Tried: []string{"libcublas.so.13", "libcublas.so.12"}, Errors: []string{"x: cannot open", "libcublas.so.12: cannot open shared object file"}}
	msg := e.Error()
	for _, want := range []string{"cublasload: no cuBLAS found", "[libcublas.so.13 libcublas.so.12]", "libcublas.so.12: cannot open shared object file", "LD_LIBRARY_PATH"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}
