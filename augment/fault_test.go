package augment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mappedData serves images from a memory-mapped file, like shards.Reader.
type mappedData struct {
	m   []byte
	per int
}

func (d mappedData) Len() int            { return len(d.m) / d.per }
func (d mappedData) Image(i int) []uint8 { return d.m[i*d.per : (i+1)*d.per] }
func (d mappedData) Label(int) int32     { return 0 }

// TestTruncatedMappingIsAnError: a mapped file truncated under the loader
// (SIGBUS on read) ends the epoch with an error, not a crash.
func TestTruncatedMappingIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shard")
	per := 8 * 8
	n := 4096 // 64 pages
	if err := os.WriteFile(path, make([]byte, n*per), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	m, err := unix.Mmap(int(f.Fd()), 0, n*per, unix.PROT_READ, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		t.Skip(err)
	}
	defer unix.Munmap(m)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	norm, err := Preset("mnist")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(mappedData{m: m, per: per}, Config{Shape: Shape{H: 8, W: 8, C: 1}, Transform: TestTransform(norm), BatchSize: 64, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	it, err := l.Start(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if err != nil {
			if !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("error %v, want one naming a truncated shard", err)
			}
			return
		}
		l.Release(b)
	}
}
