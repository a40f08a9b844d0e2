package shards

import (
	"os"
	"path/filepath"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ and run with the regular
// tests; fuzz one with
//   nice -n 19 go test ./shards -run '^$' -fuzz '^FuzzShard$' -parallel 1 -fuzztime 10m

var fuzzMeta = Meta{Dataset: "toy", Split: "train", Classes: []string{"a", "b", "c"}, Height: 5, Width: 4, Channels: 3, Layout: Layout}

// realShard writes a real shard (3 batches, ragged) and returns its bytes.
func realShard(f *testing.F, n, batchRows int) []byte {
	f.Helper()
	dir := f.TempDir()
	meta := fuzzMeta
	meta.Layout = ""
	m := writeDir(f, dir, meta, randRows(n, meta.ImageLen(), 3, 7), 1000, batchRows)
	b, err := os.ReadFile(filepath.Join(dir, m.Shards[0].File))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzShard decodes mutated real shards: every input is a checked shard or
// an error, never a panic, and every row of an accepted shard can be read.
func FuzzShard(f *testing.F) {
	f.Add(realShard(f, 7, 3))
	f.Add(realShard(f, 1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, bs, err := decodeShard("fuzz", data, fuzzMeta)
		if err != nil {
			return
		}
		defer fr.Close()
		n := fuzzMeta.ImageLen()
		for _, b := range bs {
			if len(b.labels) != len(b.ids) || len(b.pix) != len(b.ids)*n || b.src.Len() != len(b.ids) {
				t.Fatalf("accepted batch with %d ids, %d labels, %d pixel bytes, %d sources", len(b.ids), len(b.labels), len(b.pix), b.src.Len())
			}
			for j := range b.ids {
				_ = b.src.Value(j)
				_ = b.pix[j*n : (j+1)*n]
			}
			b.rec.Release()
		}
	})
}

// FuzzManifest parses mutated manifests: an accepted one describes images a
// reader can build a schema for (bounded sizes) and row counts that add up.
func FuzzManifest(f *testing.F) {
	dir := f.TempDir()
	meta := fuzzMeta
	meta.Layout = ""
	writeDir(f, dir, meta, randRows(9, meta.ImageLen(), 3, 1), 4, 2)
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":"t2f-shards/1","height":65536,"width":65536,"channels":3,"shards":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest("fuzz", data)
		if err != nil {
			return
		}
		meta := m.Meta()
		if meta.Height > MaxSide || meta.Width > MaxSide || meta.Height <= 0 || meta.Width <= 0 {
			t.Fatalf("accepted image size %dx%d", meta.Height, meta.Width)
		}
		_ = Schema(meta)
		var rows int64
		for _, s := range m.Shards {
			if s.File != filepath.Base(s.File) {
				t.Fatalf("accepted shard name %q", s.File)
			}
			rows += int64(s.Rows)
		}
		if rows != m.Rows {
			t.Fatalf("accepted %d shard rows for %d rows", rows, m.Rows)
		}
	})
}
