package shards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryByteFlipIsAnErrorOrAShard flips every byte of a real shard in
// turn (and truncates it at every length): decoding returns an error or a
// structurally checked shard, never panics.
func TestEveryByteFlipIsAnErrorOrAShard(t *testing.T) {
	dir := t.TempDir()
	meta := fuzzMeta
	meta.Layout = ""
	m := writeDir(t, dir, meta, randRows(7, meta.ImageLen(), 3, 7), 1000, 3)
	orig, err := os.ReadFile(filepath.Join(dir, m.Shards[0].File))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, data []byte) {
		fr, bs, err := decodeShard("flip", data, fuzzMeta)
		if err != nil {
			return
		}
		for _, b := range bs {
			if len(b.pix) != len(b.ids)*fuzzMeta.ImageLen() || len(b.labels) != len(b.ids) || b.src.Len() != len(b.ids) {
				t.Errorf("%s: accepted a batch with inconsistent lengths", what)
			}
			b.rec.Release()
		}
		fr.Close()
	}
	for i := range orig {
		data := append([]byte(nil), orig...)
		data[i] ^= 0xff
		check("flip", data)
		check("truncate", orig[:i])
	}
}

// TestVerifyCatchesRehashedCorruption: a corrupt shard whose manifest was
// re-hashed to match passes the checksum but not the structural check.
func TestVerifyCatchesRehashedCorruption(t *testing.T) {
	dir := t.TempDir()
	meta := fuzzMeta
	meta.Layout = ""
	m := writeDir(t, dir, meta, randRows(7, meta.ImageLen(), 3, 7), 1000, 3)
	path := filepath.Join(dir, m.Shards[0].File)
	data, _ := os.ReadFile(path)
	// The footer's flatbuffer sits just before the trailing length and magic.
	data[len(data)-20] ^= 0x5a
	os.WriteFile(path, data, 0o644)
	sum, _ := FileSHA256(path)
	m.Shards[0].SHA256 = sum
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir); err == nil {
		t.Fatal("Verify passed a corrupt shard")
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a corrupt shard")
	}
}

// TestManifestBounds: sizes and names read from dataset.json are bounded
// before anything is allocated or named after them.
func TestManifestBounds(t *testing.T) {
	base := map[string]any{"format": Format, "dataset": "toy", "split": "test", "height": 28, "width": 28, "channels": 1,
		"classes": []string{}, "class_counts": []int{}, "rows": 0, "shards": []any{}}
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"height", 65536, "image size"},
		{"width", 1 << 40, "image size"},
		{"height", -1, "image size"},
		{"dataset", "../../escape", "path separator"},
		{"split", "..", "directory reference"},
		{"dataset", "a\nb", "control character"},
	} {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		m[tc.key] = tc.val
		b, _ := json.Marshal(m)
		_, err := parseManifest("dataset.json", b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: %v, want an error about %s", tc.key, tc.val, err, tc.want)
		}
	}
}
