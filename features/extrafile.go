package features

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/t2f/t2f/internal/parquetfile"
)

// ExtraDirName is the subdirectory of a features directory holding the
// extra-column files, one per split, named FileName(dataset, split) like
// the feature file they extend.
const ExtraDirName = "extra"

// ExtraFormatVersion is the "t2f_extra_version" of the files WriteExtra
// writes and ReadExtra accepts.
const ExtraFormatVersion = "1"

const (
	keyExtraVersion = "t2f_extra_version"
	keyExtraWidths  = "t2f_extra_widths" // JSON-free list "name=width,..." in column order
)

// ExtraPath is the extra-column file of a dataset split in the features
// directory dir.
func ExtraPath(dir, dataset, split string) string {
	return filepath.Join(dir, ExtraDirName, FileName(dataset, split))
}

// WriteExtra writes t atomically to path: an "id" int64 column, then each
// extra column as a fixed-size list of float32 (Width values), and the
// metadata of a feature file (dataset, split, checkpoint SHA-256, ...) plus
// t2f_extra_version.
func WriteExtra(path string, t *ExtraTable, dim, numClasses int, opts ...Option) error {
	if err := checkMeta(t.Meta); err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	n := t.Len()
	for _, c := range t.Columns {
		if len(t.Values[c.Name]) != n*c.Width {
			return fmt.Errorf("features: write %q: column %s has %d values, want %d rows × %d", path, c.Name, len(t.Values[c.Name]), n, c.Width)
		}
	}
	o := newOptions(opts)
	md, err := encodeMeta(t.Meta, dim, numClasses)
	if err != nil {
		return err
	}
	widths := ""
	for i, c := range t.Columns {
		if i > 0 {
			widths += ","
		}
		widths += c.Name + "=" + strconv.Itoa(c.Width)
	}
	keys := append(md.Keys(), keyExtraVersion, keyExtraWidths)
	vals := append(md.Values(), ExtraFormatVersion, widths)
	elem := arrow.Field{Name: "element", Type: arrow.PrimitiveTypes.Float32}
	fields := []arrow.Field{{Name: colID, Type: arrow.PrimitiveTypes.Int64}}
	for _, c := range t.Columns {
		fields = append(fields, arrow.Field{Name: c.Name, Type: arrow.FixedSizeListOfField(int32(c.Width), elem)})
	}
	meta := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema(fields, &meta)

	b := array.NewRecordBuilder(o.mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(t.IDs, nil)
	for i, c := range t.Columns {
		lb := b.Field(i + 1).(*array.FixedSizeListBuilder)
		for range n {
			lb.Append(true)
		}
		lb.ValueBuilder().(*array.Float32Builder).AppendValues(t.Values[c.Name], nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	fw, err := parquetfile.Create(path, schema, parquetfile.Options{Mem: o.mem, CreatedBy: "t2f features --extra",
		More: []parquet.WriterProperty{parquet.WithStats(false)}})
	if err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Abort()
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	if err := fw.Commit(); err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	return nil
}

// ReadExtra reads an extra-column file written by WriteExtra.
func ReadExtra(path string, opts ...Option) (*ExtraTable, error) {
	o := newOptions(opts)
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(o.mem)))
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	defer rdr.Close()
	kv := rdr.MetaData().KeyValueMetadata()
	if v := kv.FindValue(keyExtraVersion); v == nil || *v != ExtraFormatVersion {
		return nil, fmt.Errorf("features: read %q: not a t2f extra-column file of version %s (metadata %s)", path, ExtraFormatVersion, keyExtraVersion)
	}
	m, _, _, err := decodeMeta(kv)
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, o.mem)
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	defer tbl.Release()
	t := &ExtraTable{Meta: m, Values: map[string][]float32{}}
	sc := tbl.Schema()
	if sc.NumFields() < 1 || sc.Field(0).Name != colID {
		return nil, fmt.Errorf("features: read %q: first column is not %q", path, colID)
	}
	for _, ch := range tbl.Column(0).Data().Chunks() {
		ids, ok := ch.(*array.Int64)
		if !ok || ids.NullN() > 0 {
			return nil, fmt.Errorf("features: read %q: column %s is not non-null int64", path, colID)
		}
		t.IDs = append(t.IDs, ids.Int64Values()...)
	}
	for i := 1; i < sc.NumFields(); i++ {
		f := sc.Field(i)
		lt, ok := f.Type.(*arrow.FixedSizeListType)
		if !ok || lt.Elem().ID() != arrow.FLOAT32 {
			return nil, fmt.Errorf("features: read %q: column %s is %s, want a fixed-size list of float32", path, f.Name, f.Type)
		}
		c := ExtraColumn{Name: f.Name, Width: int(lt.Len())}
		vals := make([]float32, 0, t.Len()*c.Width)
		for _, ch := range tbl.Column(i).Data().Chunks() {
			l := ch.(*array.FixedSizeList)
			if l.NullN() > 0 {
				return nil, fmt.Errorf("features: read %q: column %s has nulls", path, f.Name)
			}
			v := l.ListValues().(*array.Float32).Float32Values()
			off := l.Offset() * c.Width
			vals = append(vals, v[off:off+l.Len()*c.Width]...)
		}
		if len(vals) != t.Len()*c.Width {
			return nil, fmt.Errorf("features: read %q: column %s has %d values for %d rows × %d", path, f.Name, len(vals), t.Len(), c.Width)
		}
		t.Columns = append(t.Columns, c)
		t.Values[c.Name] = vals
	}
	return t, nil
}
