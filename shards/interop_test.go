//go:build interop

package shards

// The interop test reads shards with a second, independent Arrow
// implementation (the apache-arrow npm package under Node). It needs node and
// `npm ci` in testdata/interop; run it with
//   (cd shards/testdata/interop && npm ci) && go test -tags interop ./shards

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestInteropNodeArrow(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (apt-get install nodejs npm): %v", err)
	}
	meta := Meta{Dataset: "interop", Split: "val", Classes: []string{"a", "b", "c", "d"}, Height: 3, Width: 2, Channels: 3}
	rows := randRows(25, meta.ImageLen(), len(meta.Classes), 77)
	rows[3].src = "dir with space/ünïcode.png"
	dir := t.TempDir()
	m := writeDir(t, dir, meta, rows, 10, 4)

	cmd := exec.Command(node, "read.mjs", dir)
	cmd.Dir = filepath.Join("testdata", "interop")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("node read.mjs: %v\n%s(did you run `npm ci` in shards/testdata/interop?)", err, msg)
	}
	var got struct {
		Shards []struct {
			File     string
			Rows     int
			Batches  int
			Fields   []struct{ Name, Type string }
			Metadata map[string]string
		}
		Rows []struct {
			ID     string
			Label  int32
			Source string
			Image  string
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output: %v\n%s", err, out)
	}
	if len(got.Shards) != len(m.Shards) {
		t.Fatalf("node saw %d shards, want %d", len(got.Shards), len(m.Shards))
	}
	wantTypes := []string{"Int64", "Int32", "FixedSizeList[18]<Uint8>", "Utf8"}
	for k, s := range got.Shards {
		if s.Rows != m.Shards[k].Rows {
			t.Errorf("shard %d: node saw %d rows, want %d", k, s.Rows, m.Shards[k].Rows)
		}
		for j, f := range s.Fields {
			if f.Name != []string{ColID, ColLabel, ColImage, ColSource}[j] || f.Type != wantTypes[j] {
				t.Errorf("shard %d field %d: %s %s, want %s", k, j, f.Name, f.Type, wantTypes[j])
			}
		}
		for key, want := range map[string]string{"dataset": "interop", "split": "val", "classes": `["a","b","c","d"]`,
			"height": "3", "width": "2", "channels": "3", "layout": "HWC", "t2f.format": Format} {
			if s.Metadata[key] != want {
				t.Errorf("shard %d metadata %q = %q, want %q", k, key, s.Metadata[key], want)
			}
		}
	}
	if len(got.Rows) != len(rows) {
		t.Fatalf("node read %d rows, want %d", len(got.Rows), len(rows))
	}
	for i, r := range got.Rows {
		w := rows[i]
		if r.ID != strconv.FormatInt(w.id, 10) || r.Label != w.label || r.Source != w.src || r.Image != hex.EncodeToString(w.img) {
			t.Errorf("row %d: node saw %+v, want id %d label %d source %q image %s", i, r, w.id, w.label, w.src, fmt.Sprintf("%x", w.img))
		}
	}
}
