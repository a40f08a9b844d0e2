package features

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// rawBytes is the in-memory size of t's columns, the unit of the MB/s
// figures.
func rawBytes(t *Table) int64 {
	return int64(8*len(t.IDs) + 4*(len(t.Labels)+len(t.Preds)+len(t.Feature)+len(t.FeatureNormalized)+
		len(t.FeatureNorm)+len(t.Logits)+len(t.LogitsOOD)))
}

// BenchmarkWriteFile and BenchmarkReadFile measure a CIFAR-10-sized ID train
// split: 50,000 rows, D = 512, C = 10. rows/s = 50000 / (sec/op).
//
//	go test ./features -run '^$' -bench 'File$|Raw' -benchtime 5x -count 5
func BenchmarkWriteFile(b *testing.B) {
	tab := randomTable(50000, 512, 10, 1)
	path := filepath.Join(b.TempDir(), "cifar10_train.parquet")
	b.SetBytes(rawBytes(tab))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteFile(path, tab); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tab.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkReadFile(b *testing.B) {
	tab := randomTable(50000, 512, 10, 1)
	path := filepath.Join(b.TempDir(), "cifar10_train.parquet")
	if err := WriteFile(path, tab); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rawBytes(tab))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tab.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRawWrite and BenchmarkRawRead are the reference for the two
// above, measured in the same run: the same columns as one flat binary file
// (os.WriteFile of the bytes plus fsync; os.ReadFile plus a copy back into
// typed slices), i.e. what the disk and memory system allow with no format at
// all.
func BenchmarkRawWrite(b *testing.B) {
	tab := randomTable(50000, 512, 10, 1)
	raw := flatBytes(tab)
	path := filepath.Join(b.TempDir(), "raw.bin")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tab.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkRawRead(b *testing.B) {
	tab := randomTable(50000, 512, 10, 1)
	raw := flatBytes(tab)
	path := filepath.Join(b.TempDir(), "raw.bin")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		f := make([]float32, len(data)/4)
		copy(arrow.Float32Traits.CastToBytes(f), data)
	}
	b.ReportMetric(float64(tab.Len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// flatBytes concatenates t's columns.
func flatBytes(t *Table) []byte {
	var out []byte
	out = append(out, arrow.Int64Traits.CastToBytes(t.IDs)...)
	out = append(out, arrow.Int32Traits.CastToBytes(t.Labels)...)
	out = append(out, arrow.Int32Traits.CastToBytes(t.Preds)...)
	for _, v := range [][]float32{t.Feature, t.FeatureNormalized, t.FeatureNorm, t.Logits, t.LogitsOOD} {
		out = append(out, arrow.Float32Traits.CastToBytes(v)...)
	}
	return out
}
