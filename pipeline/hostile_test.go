package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNonRegularImageFiles: a FIFO, a link to a device and a symlink loop
// named like images fail the build naming the file (never hang or exhaust
// memory), and --skip-bad skips them.
func TestNonRegularImageFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(path string) error
		want string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "not a regular file"},
		{"link to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file"},
		{"symlink loop", func(p string) error { return os.Symlink(filepath.Base(p), p) }, "too many levels of symbolic links"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			makeFolder(t, root, []string{"a", "b"}, 10, 4, 4, []string{"png"})
			bad := filepath.Join(root, "b", "pipe.png")
			if err := tc.make(bad); err != nil {
				t.Skip(err)
			}
			out := filepath.Join(t.TempDir(), "o")
			done := make(chan error, 1)
			go func() {
				_, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, ShardRows: 10, Workers: 2, Out: out}, nil)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pipe.png") {
					t.Fatalf("err = %v, want %q naming pipe.png", err, tc.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("build hangs on a non-regular file")
			}
			res, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, ShardRows: 10, SkipBad: true, Out: out}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m := res.Manifest; m.Rows != 20 || m.SkippedN != 1 {
				t.Errorf("skip-bad: %d rows, %d skipped; want 20, 1", m.Rows, m.SkippedN)
			}
		})
	}
}

// TestImgListLabelBound: a huge label is refused before it becomes a class
// count (memory, and a manifest with millions of class names).
func TestImgListLabelBound(t *testing.T) {
	for _, lab := range []string{"5000000", "9223372036854775807"} {
		_, err := ParseImgList(strings.NewReader("a/x.png " + lab + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("label %s: %v, want an error naming line 1", lab, err)
		}
	}
}

// TestIDXMaxPixels: the per-image pixel limit applies to IDX files, checked
// from the header before the data is read.
func TestIDXMaxPixels(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idxBytes([]int{1, 100, 100}, make([]byte, 100*100)), 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxBytes([]int{1}, []byte{3}), 0o644)
	if _, err := OpenMNIST(dir, "test", nil, 100*100); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := OpenMNIST(dir, "test", nil, 100*100-1)
	if err == nil || !strings.Contains(err.Error(), "exceed the limit") {
		t.Fatalf("over the limit: %v", err)
	}
	// A header claiming 2^32·… bytes is refused without reading further.
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idxBytes([]int{1 << 30, 64, 64}, nil), 0o644)
	if _, err := OpenMNIST(dir, "test", nil, 0); err == nil || !strings.Contains(err.Error(), "exceed the limit") {
		t.Fatalf("huge header: %v", err)
	}
}
