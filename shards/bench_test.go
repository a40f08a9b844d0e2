package shards

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkReaderBatch measures random-access batch reads (what the loader
// does each step): 128 random rows of 32×32×3 copied into a caller buffer.
func BenchmarkReaderBatch(b *testing.B) {
	meta := Meta{Dataset: "bench", Split: "train", Classes: []string{"a", "b"}, Height: 32, Width: 32, Channels: 3}
	rows := randRows(20000, meta.ImageLen(), 2, 1)
	dir := b.TempDir()
	w, err := NewWriter(dir, meta, WithShardRows(5000))
	if err != nil {
		b.Fatal(err)
	}
	counts := make([]int64, 2)
	var ood int64
	for _, r := range rows {
		if err := w.Append(r.id, r.label, r.img, r.src); err != nil {
			b.Fatal(err)
		}
		if r.label < 0 {
			ood++
		} else {
			counts[r.label]++
		}
	}
	infos, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := WriteManifest(dir, &Manifest{Dataset: "bench", Split: "train", Classes: meta.Classes, ClassCounts: counts, OODCount: ood,
		Height: 32, Width: 32, Channels: 3, Rows: int64(len(rows)), Shards: infos}); err != nil {
		b.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, bs := range []int{128} {
		b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			idx := make([]int, bs)
			imgs := make([]uint8, bs*meta.ImageLen())
			labels := make([]int32, bs)
			b.ReportAllocs()
			b.SetBytes(int64(len(imgs)))
			for b.Loop() {
				for i := range idx {
					idx[i] = rng.IntN(r.Len())
				}
				if err := r.Batch(idx, imgs, labels); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
