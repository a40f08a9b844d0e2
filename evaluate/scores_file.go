package evaluate

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/t2f/t2f/internal/parquetfile"
)

// Columns of scores.parquet that are dictionary-encoded.
const (
	scoresColMethod  = "method"
	scoresColDataset = "dataset"
	scoresColSplit   = "split"
)

// ScoresSchema is the layout of scores.parquet: one row per method, run and
// scored sample.
var ScoresSchema = arrow.NewSchema([]arrow.Field{
	{Name: scoresColMethod, Type: arrow.BinaryTypes.String},
	{Name: "run", Type: arrow.PrimitiveTypes.Int32},
	{Name: scoresColDataset, Type: arrow.BinaryTypes.String},
	{Name: scoresColSplit, Type: arrow.BinaryTypes.String},
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
	fw, err := parquetfile.Create(path, ScoresSchema, parquetfile.Options{Mem: mem, CreatedBy: "t2f score",
		Dictionary: []string{scoresColMethod, scoresColDataset, scoresColSplit}})
	if err != nil {
		return fmt.Errorf("evaluate: write %q: %w", path, err)
	}
	for _, m := range res.Methods {
		for _, s := range m.Scores {
			rec := scoresRecord(mem, m.Method, s)
			err := fw.Write(rec)
			rec.Release()
			if err != nil {
				fw.Abort()
				return fmt.Errorf("evaluate: write %q: %w", path, err)
			}
		}
	}
	if err := fw.Commit(); err != nil {
		return fmt.Errorf("evaluate: write %q: %w", path, err)
	}
	return nil
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
