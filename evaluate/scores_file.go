package evaluate

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ScoresSchema is the layout of scores.parquet: one row per method, run and
// scored sample.
var ScoresSchema = arrow.NewSchema([]arrow.Field{
	{Name: "method", Type: arrow.BinaryTypes.String},
	{Name: "run", Type: arrow.PrimitiveTypes.Int32},
	{Name: "dataset", Type: arrow.BinaryTypes.String},
	{Name: "split", Type: arrow.BinaryTypes.String},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "label", Type: arrow.PrimitiveTypes.Int32},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// WriteScores writes every per-sample score of res to path as Parquet
// (ScoresSchema; run is 1-based; label −1 = OOD; score higher = more ID),
// one row group per method and run split.
func WriteScores(path string, res *Result, mem memory.Allocator) error {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return writeAtomic(path, func(w io.Writer) error {
		props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithDictionaryDefault(false), parquet.WithDictionaryFor("method", true), parquet.WithDictionaryFor("dataset", true),
			parquet.WithDictionaryFor("split", true), parquet.WithCreatedBy("t2f score"))
		fw, err := pqarrow.NewFileWriter(ScoresSchema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		for _, m := range res.Methods {
			for _, s := range m.Scores {
				rec := scoresRecord(mem, m.Method, s)
				err := fw.Write(rec)
				rec.Release()
				if err != nil {
					fw.Close()
					return err
				}
			}
		}
		return fw.Close()
	})
}

func scoresRecord(mem memory.Allocator, method string, s Scores) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ScoresSchema)
	defer b.Release()
	n := len(s.Values)
	for range n {
		b.Field(0).(*array.StringBuilder).Append(method)
		b.Field(1).(*array.Int32Builder).Append(int32(s.Run + 1))
		b.Field(2).(*array.StringBuilder).Append(s.Dataset)
		b.Field(3).(*array.StringBuilder).Append(s.Split)
	}
	b.Field(4).(*array.Int64Builder).AppendValues(s.IDs, nil)
	b.Field(5).(*array.Int32Builder).AppendValues(s.Labels, nil)
	b.Field(6).(*array.Float64Builder).AppendValues(s.Values, nil)
	return b.NewRecordBatch()
}
