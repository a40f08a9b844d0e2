package shards

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

type row struct {
	id    int64
	label int32
	img   []uint8
	src   string
}

func randRows(n, imgLen, classes int, seed uint64) []row {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]row, n)
	for i := range rows {
		img := make([]uint8, imgLen)
		for j := range img {
			img[j] = uint8(rng.IntN(256))
		}
		rows[i] = row{id: int64(1000 + 3*i), label: int32(rng.IntN(classes+1) - 1), img: img, src: fmt.Sprintf("f.bin#%d", i)}
	}
	return rows
}

// writeDir writes rows with the given shard/batch sizes and a manifest whose
// counts are computed here, independently of the reader.
func writeDir(t testing.TB, dir string, meta Meta, rows []row, shardRows, batchRows int) *Manifest {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w, err := NewWriter(dir, meta, WithShardRows(shardRows), WithBatchRows(batchRows), WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Dataset: meta.Dataset, Split: meta.Split, Classes: meta.Classes, Height: meta.Height,
		Width: meta.Width, Channels: meta.Channels, ClassCounts: make([]int64, len(meta.Classes))}
	for _, r := range rows {
		if err := w.Append(r.id, r.label, r.img, r.src); err != nil {
			t.Fatal(err)
		}
		if r.label < 0 {
			m.OODCount++
		} else {
			m.ClassCounts[r.label]++
		}
	}
	if m.Shards, err = w.Close(); err != nil {
		t.Fatal(err)
	}
	m.Rows = int64(len(rows))
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	meta := Meta{Dataset: "toy", Split: "train", Classes: []string{"a", "b", "c"}, Height: 5, Width: 4, Channels: 3}
	for _, tc := range []struct {
		name              string
		n, shard, batches int
		wantShards        int
	}{
		{"one shard one batch", 7, 100, 1024, 1},
		{"exact multiple", 12, 4, 2, 3},
		{"ragged", 23, 5, 3, 5},
		{"empty", 0, 5, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rows := randRows(tc.n, meta.ImageLen(), len(meta.Classes), uint64(tc.n))
			m := writeDir(t, dir, meta, rows, tc.shard, tc.batches)
			if len(m.Shards) != tc.wantShards {
				t.Fatalf("got %d shards, want %d", len(m.Shards), tc.wantShards)
			}
			for k, s := range m.Shards {
				if s.File != ShardName(k) {
					t.Errorf("shard %d named %q", k, s.File)
				}
				if _, err := os.Stat(filepath.Join(dir, s.File+TempSuffix)); err == nil {
					t.Errorf("temp file of %q left behind", s.File)
				}
			}
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Len() != tc.n {
				t.Fatalf("Len %d, want %d", r.Len(), tc.n)
			}
			got := r.Meta()
			if got.Dataset != "toy" || got.Split != "train" || got.Height != 5 || got.Width != 4 || got.Channels != 3 || strings.Join(got.Classes, ",") != "a,b,c" || got.Rows != tc.n {
				t.Errorf("Meta %+v", got)
			}
			for i, want := range rows {
				if r.ID(i) != want.id || r.Label(i) != want.label || r.Source(i) != want.src || !bytes.Equal(r.Image(i), want.img) {
					t.Fatalf("row %d: got (%d,%d,%q), want (%d,%d,%q) / image equal %v", i, r.ID(i), r.Label(i), r.Source(i), want.id, want.label, want.src, bytes.Equal(r.Image(i), want.img))
				}
			}
			if tc.n > 2 {
				idx := []int{tc.n - 1, 0, tc.n / 2}
				imgs := make([]uint8, len(idx)*meta.ImageLen())
				labels := make([]int32, len(idx))
				if err := r.Batch(idx, imgs, labels); err != nil {
					t.Fatal(err)
				}
				for k, i := range idx {
					if !bytes.Equal(imgs[k*meta.ImageLen():(k+1)*meta.ImageLen()], rows[i].img) || labels[k] != rows[i].label {
						t.Errorf("Batch row %d differs", i)
					}
				}
				if err := r.Batch(idx, imgs[1:], labels); err == nil {
					t.Error("Batch accepted a short buffer")
				}
			}
			if err := Verify(dir); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyDetects(t *testing.T) {
	meta := Meta{Dataset: "toy", Split: "test", Classes: []string{"a", "b"}, Height: 2, Width: 2, Channels: 1}
	rows := randRows(30, meta.ImageLen(), 2, 9)
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string, m *Manifest)
		want   string
	}{
		{"flipped byte", func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Shards[1].File)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "sha256"},
		{"missing shard", func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, m.Shards[0].File))
		}, "no such file"},
		{"leftover temp", func(t *testing.T, dir string, m *Manifest) {
			os.WriteFile(filepath.Join(dir, ShardName(9)+TempSuffix), []byte("x"), 0o644)
		}, "unfinished"},
		{"wrong class count", func(t *testing.T, dir string, m *Manifest) {
			m.ClassCounts[0]++
			m.OODCount--
			WriteManifest(dir, m)
		}, "class 0"},
		{"wrong row count", func(t *testing.T, dir string, m *Manifest) {
			m.Shards[0].Rows++
			m.Rows++
			WriteManifest(dir, m)
		}, "holds 8 rows, manifest says 9"},
		{"schema mismatch", func(t *testing.T, dir string, m *Manifest) {
			m.Split = "train"
			WriteManifest(dir, m)
		}, "does not match manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := writeDir(t, dir, meta, rows, 8, 3)
			if err := Verify(dir); err != nil {
				t.Fatalf("clean dir: %v", err)
			}
			tc.break_(t, dir, m)
			err := Verify(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestWriterRejects(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Dataset: "toy", Classes: []string{"a"}, Height: 2, Width: 2, Channels: 1}
	w, err := NewWriter(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(0, 0, make([]uint8, 3), "x"); err == nil || !strings.Contains(err.Error(), "want 4") {
		t.Errorf("short image: %v", err)
	}
	if err := w.Append(0, 1, make([]uint8, 4), "x"); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("label 1 of 1 class: %v", err)
	}
	if err := w.Append(0, 0, make([]uint8, 4), "x"); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("Abort left %v", ents)
	}
	if _, err := NewWriter(dir, Meta{Height: 2, Width: 2, Channels: 2}); err == nil {
		t.Error("channels 2 accepted")
	}
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "shards")
	defer os.RemoveAll(dir)
	meta := Meta{Dataset: "digits", Split: "test", Classes: []string{"zero", "one"}, Height: 2, Width: 2, Channels: 1}
	w, _ := NewWriter(dir, meta, WithShardRows(2))
	w.Append(10, 0, []uint8{0, 1, 2, 3}, "a.png")
	w.Append(11, 1, []uint8{4, 5, 6, 7}, "b.png")
	w.Append(12, -1, []uint8{8, 9, 10, 11}, "noise#0")
	infos, _ := w.Close()
	WriteManifest(dir, &Manifest{Dataset: "digits", Split: "test", Classes: meta.Classes, ClassCounts: []int64{1, 1},
		OODCount: 1, Height: 2, Width: 2, Channels: 1, Rows: 3, Shards: infos})

	r, err := Open(dir)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for i := range r.Len() {
		fmt.Println(r.ID(i), r.Label(i), r.Image(i), r.Source(i))
	}
	fmt.Println(len(infos), "shards;", Verify(dir))
	// Output:
	// 10 0 [0 1 2 3] a.png
	// 11 1 [4 5 6 7] b.png
	// 12 -1 [8 9 10 11] noise#0
	// 2 shards; <nil>
}

func TestVerifyDuplicateIDAndLabelRange(t *testing.T) {
	meta := Meta{Dataset: "toy", Split: "test", Classes: []string{"a", "b"}, Height: 1, Width: 1, Channels: 1}
	rows := []row{{7, 0, []uint8{1}, "x"}, {8, 1, []uint8{2}, "y"}, {7, -1, []uint8{3}, "z"}}
	dir := t.TempDir()
	writeDir(t, dir, meta, rows, 10, 10)
	if err := Verify(dir); err == nil || !strings.Contains(err.Error(), "rows 0 and 2 share id 7") {
		t.Errorf("duplicate id: %v", err)
	}
	// A manifest claiming fewer classes than the shards' labels use.
	dir2 := t.TempDir()
	m := writeDir(t, dir2, meta, rows[:2], 10, 10)
	m.Classes, m.ClassCounts = []string{"a"}, []int64{1}
	WriteManifest(dir2, m)
	if err := Verify(dir2); err == nil {
		t.Error("manifest with the wrong classes verified")
	}
}
