package parquetfile

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/t2f/t2f/internal/atomicfile"
)

// Options are what differs between t2f's Parquet files.
type Options struct {
	Mem        memory.Allocator // nil: memory.DefaultAllocator
	CreatedBy  string           // the footer's created_by, e.g. "t2f features"
	Dictionary []string         // columns to dictionary-encode; every other column is PLAIN
	// More are further writer properties (row-group length, statistics),
	// applied after the common ones.
	More []parquet.WriterProperty
}

// Writer writes record batches of one schema into a file that appears at
// its path on Commit. It is not safe for concurrent use.
type Writer struct {
	f  *atomicfile.File
	fw *pqarrow.FileWriter
}

// Create starts the Parquet file path for records of schema.
func Create(path string, schema *arrow.Schema, o Options) (*Writer, error) {
	mem := o.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	props := []parquet.WriterProperty{parquet.WithAllocator(mem), parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(false), parquet.WithCreatedBy(o.CreatedBy)}
	for _, c := range o.Dictionary {
		props = append(props, parquet.WithDictionaryFor(c, true))
	}
	props = append(props, o.More...)
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	// Not an io.Closer, so the Parquet writer's Close leaves the file to
	// Commit, which renames it into place.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{f}, parquet.NewWriterProperties(props...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		f.Abort()
		return nil, err
	}
	return &Writer{f: f, fw: fw}, nil
}

// Write writes rec as one or more row groups (of at most the row-group
// length), unbuffered.
func (w *Writer) Write(rec arrow.RecordBatch) error { return w.fw.Write(rec) }

// Commit finishes the file (footer, fsync) and renames it into place. On an
// error nothing is left under the final name or the temporary one.
func (w *Writer) Commit() error {
	err := w.fw.Close()
	if err == nil {
		err = w.f.Commit()
	}
	if err != nil {
		w.f.Abort()
	}
	return err
}

// Abort discards the file; the final name is left untouched.
func (w *Writer) Abort() {
	w.fw.Close()
	w.f.Abort()
}
