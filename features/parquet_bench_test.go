package features

import (
	"path/filepath"
	"testing"
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
//	go test ./features -run '^$' -bench 'File$' -benchtime 5x -count 5
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
