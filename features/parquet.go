package features

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"

	"github.com/t2f/t2f/internal/parquetfile"
	"github.com/t2f/t2f/internal/safename"
)

// FormatVersion is the value of the "t2f_features_version" metadata key
// written by this package and the only one ReadFile accepts.
const FormatVersion = "1"

// Metadata keys of a feature file.
const (
	keyVersion    = "t2f_features_version"
	keyDataset    = "dataset"
	keySplit      = "split"
	keyModel      = "model"
	keyWidth      = "width"
	keyHead       = "head"
	keyTau        = "tau"
	keyClasses    = "classes"
	keyCheckpoint = "checkpoint_sha256"
	keyDim        = "dim"
	keyNumClasses = "num_classes"
	keyMethod     = "method" // optional: written when Meta.Method is set
)

// Column names, in file order.
const (
	colID                = "id"
	colDataset           = "dataset"
	colSplit             = "split"
	colLabel             = "label"
	colFeature           = "feature"
	colFeatureNormalized = "feature_normalized"
	colFeatureNorm       = "feature_norm"
	colLogits            = "logits"
	colLogitsOOD         = "logits_ood"
	colPred              = "pred"
)

var columnNames = []string{colID, colDataset, colSplit, colLabel, colFeature, colFeatureNormalized,
	colFeatureNorm, colLogits, colLogitsOOD, colPred}

// rowGroupBytes is the target uncompressed size of a row group.
const rowGroupBytes = 64 << 20

// Option configures WriteFile, NewWriter, ReadFile and ReadDir.
type Option func(*options)

type options struct {
	mem          memory.Allocator
	rowGroupRows int
}

// WithAllocator sets the allocator for Arrow and Parquet buffers. The
// default is memory.DefaultAllocator.
func WithAllocator(mem memory.Allocator) Option { return func(o *options) { o.mem = mem } }

// WithRowGroupRows sets the number of rows per Parquet row group (writing
// only). The default is as many rows as fit in about 64 MiB, at least 1024.
func WithRowGroupRows(n int) Option { return func(o *options) { o.rowGroupRows = n } }

func newOptions(opts []Option) options {
	o := options{mem: memory.DefaultAllocator}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// FileName is the conventional name of the feature file of one dataset
// split: "<dataset>_<split>.parquet".
// Both names come from data (a shard manifest), so each is passed through
// safename.Escape: the result is always one file name inside the directory.
func FileName(dataset, split string) string {
	return safename.Escape(dataset) + "_" + safename.Escape(split) + ".parquet"
}

// schemaFor is the Arrow schema of a feature file with feature dimension dim
// and numClasses classes; meta becomes the Parquet key/value metadata.
func schemaFor(dim, numClasses int, meta arrow.Metadata) *arrow.Schema {
	elem := arrow.Field{Name: "element", Type: arrow.PrimitiveTypes.Float32}
	return arrow.NewSchema([]arrow.Field{
		{Name: colID, Type: arrow.PrimitiveTypes.Int64},
		{Name: colDataset, Type: arrow.BinaryTypes.String},
		{Name: colSplit, Type: arrow.BinaryTypes.String},
		{Name: colLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: colFeature, Type: arrow.FixedSizeListOfField(int32(dim), elem)},
		{Name: colFeatureNormalized, Type: arrow.FixedSizeListOfField(int32(dim), elem)},
		{Name: colFeatureNorm, Type: arrow.PrimitiveTypes.Float32},
		{Name: colLogits, Type: arrow.FixedSizeListOfField(int32(numClasses), elem)},
		{Name: colLogitsOOD, Type: arrow.FixedSizeListOfField(int32(numClasses), elem)},
		{Name: colPred, Type: arrow.PrimitiveTypes.Int32},
	}, &meta)
}

// encodeMeta is the file's key/value metadata.
func encodeMeta(m Meta, dim, numClasses int) (arrow.Metadata, error) {
	classes := m.Classes
	if classes == nil {
		classes = []string{}
	}
	cj, err := json.Marshal(classes)
	if err != nil {
		return arrow.Metadata{}, fmt.Errorf("features: encode class names: %w", err)
	}
	keys := []string{keyVersion, keyDataset, keySplit, keyModel, keyWidth, keyHead, keyTau, keyClasses, keyCheckpoint, keyDim, keyNumClasses}
	vals := []string{FormatVersion, m.Dataset, m.Split, m.Model,
		strconv.FormatFloat(m.Width, 'g', -1, 64), m.Head, strconv.FormatFloat(m.Tau, 'g', -1, 64),
		string(cj), m.CheckpointSHA256, strconv.Itoa(dim), strconv.Itoa(numClasses)}
	if m.Method != "" {
		keys, vals = append(keys, keyMethod), append(vals, m.Method)
	}
	return arrow.NewMetadata(keys, vals), nil
}

// checkMeta rejects metadata that cannot name a feature file.
func checkMeta(m Meta) error {
	if m.Dataset == "" || m.Split == "" {
		return fmt.Errorf("features: metadata needs a dataset and a split, got dataset %q split %q", m.Dataset, m.Split)
	}
	if m.Width < 0 || m.Tau < 0 || m.Width != m.Width || m.Tau != m.Tau {
		return fmt.Errorf("features: metadata width %v and tau %v must be ≥ 0", m.Width, m.Tau)
	}
	return nil
}

// Writer streams rows into one feature file. Rows are written under a
// temporary name in the destination directory; Close renames it into place,
// so a failed or abandoned write never leaves a half-written file under the
// final name. A Writer is not safe for concurrent use.
type Writer struct {
	path         string
	fw           *parquetfile.Writer
	schema       *arrow.Schema
	meta         Meta
	dim, ncls    int
	mem          memory.Allocator
	rows         int
	rowGroupRows int
	pending      Table // rows not yet written, fewer than rowGroupRows
	err          error // sticky
	closed       bool
}

// NewWriter starts the feature file path for rows of dimension dim with
// numClasses classes, described by meta.
func NewWriter(path string, meta Meta, dim, numClasses int, opts ...Option) (*Writer, error) {
	if dim < 1 || numClasses < 1 {
		return nil, fmt.Errorf("features: write %q: dim %d and %d classes, want both ≥ 1", path, dim, numClasses)
	}
	if err := checkMeta(meta); err != nil {
		return nil, fmt.Errorf("features: write %q: %w", path, err)
	}
	o := newOptions(opts)
	md, err := encodeMeta(meta, dim, numClasses)
	if err != nil {
		return nil, err
	}
	rg := o.rowGroupRows
	if rg <= 0 {
		rg = max(1024, rowGroupBytes/(4*(2*dim+2*numClasses+5)))
	}
	schema := schemaFor(dim, numClasses, md)
	fw, err := parquetfile.Create(path, schema, parquetfile.Options{Mem: o.mem, CreatedBy: "t2f features",
		Dictionary: []string{colDataset, colSplit},
		More: []parquet.WriterProperty{
			parquet.WithMaxRowGroupLength(int64(rg)),
			parquet.WithStats(false),
			parquet.WithStatsFor(colID, true),
			parquet.WithStatsFor(colLabel, true),
			parquet.WithStatsFor(colFeatureNorm, true),
			parquet.WithStatsFor(colPred, true),
		}})
	if err != nil {
		return nil, fmt.Errorf("features: write %q: %w", path, err)
	}
	return &Writer{path: path, fw: fw, schema: schema, meta: meta,
		dim: dim, ncls: numClasses, mem: o.mem, rowGroupRows: rg,
		pending: Table{Dim: dim, NumClasses: numClasses}}, nil
}

// Write appends the rows of t. t.Dim and t.NumClasses must match the
// writer's; t.Meta is ignored (the file's metadata is the one given to
// NewWriter). Whole row groups are encoded straight from t's slices, smaller
// pieces are copied into a buffer of up to one row group; either way t may
// be reused once Write returns.
func (w *Writer) Write(t *Table) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("features: write %q: writer is closed", w.path)
	}
	if t.Dim != w.dim || t.NumClasses != w.ncls {
		return fmt.Errorf("features: write %q: rows of dim %d with %d classes, file has dim %d with %d classes",
			w.path, t.Dim, t.NumClasses, w.dim, w.ncls)
	}
	if err := t.Check(); err != nil {
		return fmt.Errorf("features: write %q: rows %d..: %w", w.path, w.rows, err)
	}
	if t.Len() == 0 {
		return nil
	}
	// Row groups are cut here rather than by pqarrow, and written unbuffered
	// (FileWriter.Write: one record = one row group, column chunks streamed
	// to the file). pqarrow's buffered mode grows every column's pages by
	// reallocation (~3× the data in copies), and arrow-go v18.8.0 writes the
	// wrong rows of fixed-size list columns when it splits a record across
	// row groups itself (caught by TestWriteReadRoundTrip). Whole row groups
	// go straight from t's slices; smaller pieces are gathered in w.pending.
	n := t.Len()
	for lo := 0; lo < n; {
		if w.pending.Len() == 0 && n-lo >= w.rowGroupRows {
			if err := w.writeGroup(t.Slice(lo, lo+w.rowGroupRows)); err != nil {
				return err
			}
			lo += w.rowGroupRows
			continue
		}
		hi := min(n, lo+w.rowGroupRows-w.pending.Len())
		w.pending.appendRows(t.Slice(lo, hi))
		lo = hi
		if w.pending.Len() == w.rowGroupRows {
			if err := w.flushPending(); err != nil {
				return err
			}
		}
	}
	w.rows += n
	return nil
}

// writeGroup writes t as one row group.
func (w *Writer) writeGroup(t *Table) error {
	rec := w.record(t)
	err := w.fw.Write(rec)
	rec.Release()
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// flushPending writes the gathered rows, if any, as one row group.
func (w *Writer) flushPending() error {
	if w.pending.Len() == 0 {
		return nil
	}
	if err := w.writeGroup(&w.pending); err != nil {
		return err
	}
	w.pending.truncate()
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("features: write %q: %w", w.path, recoveredCause(err))
	w.abort()
	return w.err
}

// record wraps t's slices as an Arrow record without copying the numeric
// columns.
func (w *Writer) record(t *Table) arrow.RecordBatch {
	n := t.Len()
	cols := make([]arrow.Array, 0, len(columnNames))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	cols = append(cols,
		primitive(arrow.PrimitiveTypes.Int64, n, arrow.Int64Traits.CastToBytes(t.IDs)),
		repeatedString(w.mem, w.meta.Dataset, n),
		repeatedString(w.mem, w.meta.Split, n),
		primitive(arrow.PrimitiveTypes.Int32, n, arrow.Int32Traits.CastToBytes(t.Labels)),
		fixedList(w.schema.Field(4).Type, n, t.Feature),
		fixedList(w.schema.Field(5).Type, n, t.FeatureNormalized),
		primitive(arrow.PrimitiveTypes.Float32, n, arrow.Float32Traits.CastToBytes(t.FeatureNorm)),
		fixedList(w.schema.Field(7).Type, n, t.Logits),
		fixedList(w.schema.Field(8).Type, n, t.LogitsOOD),
		primitive(arrow.PrimitiveTypes.Int32, n, arrow.Int32Traits.CastToBytes(t.Preds)),
	)
	return array.NewRecordBatch(w.schema, cols, int64(n))
}

// primitive wraps b (n values of type dt, no nulls) as an array without copying.
func primitive(dt arrow.DataType, n int, b []byte) arrow.Array {
	d := array.NewData(dt, n, []*memory.Buffer{nil, memory.NewBufferBytes(b)}, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// fixedList wraps v (n rows of dt's list size) as a fixed-size list array
// without copying.
func fixedList(dt arrow.DataType, n int, v []float32) arrow.Array {
	child := array.NewData(arrow.PrimitiveTypes.Float32, len(v),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(v))}, nil, 0, 0)
	defer child.Release()
	d := array.NewData(dt, n, []*memory.Buffer{nil}, []arrow.ArrayData{child}, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// repeatedString is a string array of n copies of s.
func repeatedString(mem memory.Allocator, s string, n int) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	b.ReserveData(n * len(s))
	for range n {
		b.Append(s)
	}
	return b.NewArray()
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int { return w.rows }

// Close finishes the file and renames it into place. After an error nothing
// is left under the final name or the temporary one.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	err := w.flushPending()
	if w.err != nil { // flushPending failed and aborted
		return w.err
	}
	w.closed = true
	if err = w.fw.Commit(); err != nil {
		w.err = fmt.Errorf("features: write %q: %w", w.path, err)
		return w.err
	}
	return nil
}

// Abort discards the file; the final name is left untouched. Calling it after
// Close does nothing.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	if w.err == nil {
		w.err = fmt.Errorf("features: write %q: aborted", w.path)
	}
	w.abort()
}

func (w *Writer) abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.fw.Abort()
}

// WriteFile writes t to path as a feature file (see the package comment for
// the layout), atomically: a temporary file beside path is renamed over it
// only once complete. t must pass Check and its Meta must name a dataset and
// a split.
func WriteFile(path string, t *Table, opts ...Option) error {
	if err := t.Check(); err != nil {
		return fmt.Errorf("features: write %q: %w", path, err)
	}
	w, err := NewWriter(path, t.Meta, t.Dim, t.NumClasses, opts...)
	if err != nil {
		return err
	}
	if err := w.Write(t); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// recoveredCause drops the "unknown error type: " that Arrow's Parquet
// column writers put before an I/O error they recovered from (a full disk
// reads "no space left on device", not "unknown error type: ..."); the
// error chain is kept for errors.Is.
func recoveredCause(err error) error {
	const junk = "unknown error type: "
	if err == nil || !strings.Contains(err.Error(), junk) {
		return err
	}
	return causeError{msg: strings.ReplaceAll(err.Error(), junk, ""), err: err}
}

type causeError struct {
	msg string
	err error
}

func (e causeError) Error() string { return e.msg }
func (e causeError) Unwrap() error { return e.err }
