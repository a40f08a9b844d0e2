package parquetfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64},
}, nil)

func record(mem memory.Allocator, names []string, xs []float64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(names, nil)
	b.Field(1).(*array.Float64Builder).AppendValues(xs, nil)
	return b.NewRecordBatch()
}

func TestCommitWritesTheFileAsAsked(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "t.parquet")
	w, err := Create(path, schema, Options{Mem: mem, CreatedBy: "t2f test", Dictionary: []string{"name"},
		More: []parquet.WriterProperty{parquet.WithStats(false)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("before Commit: stat %v, want no file under the final name", err)
	}
	rec := record(mem, []string{"a", "b", "a"}, []float64{1, 2, 3})
	err = w.Write(rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	md := r.MetaData()
	if md.NumRows != 3 || md.GetCreatedBy() != "t2f test" || md.KeyValueMetadata().FindValue("ARROW:schema") == nil {
		t.Errorf("rows %d, created_by %q, ARROW:schema stored %v; want 3, t2f test, true", md.NumRows, md.GetCreatedBy(), md.KeyValueMetadata().FindValue("ARROW:schema") != nil)
	}
	rg := md.RowGroup(0)
	for i, want := range []bool{true, false} {
		col, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if got := col.HasDictionaryPage(); got != want {
			t.Errorf("column %d dictionary page %v, want %v", i, got, want)
		}
		if col.Compression().String() != "SNAPPY" {
			t.Errorf("column %d compression %s, want SNAPPY", i, col.Compression())
		}
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	w, err := Create(path, schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(memory.DefaultAllocator, []string{"a"}, []float64{1})
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("after Abort the directory holds %v, want nothing", ents)
	}
}
