package features

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// FileInfo describes a feature file from its footer alone.
type FileInfo struct {
	Path       string
	Meta       Meta
	Dim        int // D
	NumClasses int // C
	Rows       int
}

// Stat reads the footer of the feature file path: its metadata, dimensions
// and row count. It does not read or check the rows.
func Stat(path string) (FileInfo, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return FileInfo{}, fmt.Errorf("features: read %q: %w", path, err)
	}
	defer rdr.Close()
	m, dim, ncls, err := decodeMeta(rdr.MetaData().KeyValueMetadata())
	if err != nil {
		return FileInfo{}, fmt.Errorf("features: read %q: %w", path, err)
	}
	return FileInfo{Path: path, Meta: m, Dim: dim, NumClasses: ncls, Rows: int(rdr.NumRows())}, nil
}

// decodeMeta parses the key/value metadata written by encodeMeta.
func decodeMeta(kv metadata.KeyValueMetadata) (Meta, int, int, error) {
	get := func(key string) (string, error) {
		v := kv.FindValue(key)
		if v == nil {
			return "", fmt.Errorf("metadata key %q missing (not a t2f feature file?)", key)
		}
		return *v, nil
	}
	var (
		m    Meta
		errs []error
		str  = func(key string) string {
			v, err := get(key)
			if err != nil {
				errs = append(errs, err)
			}
			return v
		}
	)
	if v := str(keyVersion); len(errs) == 0 && v != FormatVersion {
		return m, 0, 0, fmt.Errorf("metadata %s is %q, this t2f reads version %q", keyVersion, v, FormatVersion)
	}
	m.Dataset, m.Split, m.Model, m.Head = str(keyDataset), str(keySplit), str(keyModel), str(keyHead)
	m.CheckpointSHA256 = str(keyCheckpoint)
	width, tau, classes, dim, ncls := str(keyWidth), str(keyTau), str(keyClasses), str(keyDim), str(keyNumClasses)
	if len(errs) > 0 {
		return m, 0, 0, errs[0]
	}
	var err error
	if m.Width, err = strconv.ParseFloat(width, 64); err != nil {
		return m, 0, 0, fmt.Errorf("metadata %s %q: %w", keyWidth, width, err)
	}
	if m.Tau, err = strconv.ParseFloat(tau, 64); err != nil {
		return m, 0, 0, fmt.Errorf("metadata %s %q: %w", keyTau, tau, err)
	}
	if err := json.Unmarshal([]byte(classes), &m.Classes); err != nil {
		return m, 0, 0, fmt.Errorf("metadata %s %q: want a JSON array of strings: %w", keyClasses, classes, err)
	}
	if len(m.Classes) == 0 {
		m.Classes = nil
	}
	d, err := strconv.Atoi(dim)
	if err != nil || d < 1 {
		return m, 0, 0, fmt.Errorf("metadata %s %q: want an integer ≥ 1", keyDim, dim)
	}
	c, err := strconv.Atoi(ncls)
	if err != nil || c < 1 {
		return m, 0, 0, fmt.Errorf("metadata %s %q: want an integer ≥ 1", keyNumClasses, ncls)
	}
	if len(m.Classes) != 0 && len(m.Classes) != c {
		return m, 0, 0, fmt.Errorf("metadata names %d classes, %s is %d", len(m.Classes), keyNumClasses, c)
	}
	if err := checkMeta(m); err != nil {
		return m, 0, 0, err
	}
	return m, d, c, nil
}

// ReadFile reads and checks the feature file path (see the package comment
// for what is checked). The float columns are copied in bulk from the
// decoded Parquet pages, one row group at a time, so peak memory is the
// table plus one row group.
func ReadFile(path string, opts ...Option) (*Table, error) {
	t, err := readFile(path, newOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	return t, nil
}

func readFile(path string, o options) (*Table, error) {
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(o.mem)))
	if err != nil {
		return nil, err
	}
	defer rdr.Close()
	m, dim, ncls, err := decodeMeta(rdr.MetaData().KeyValueMetadata())
	if err != nil {
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: 1 << 16}, o.mem)
	if err != nil {
		return nil, err
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, err
	}
	if err := checkSchema(sc, dim, ncls); err != nil {
		return nil, err
	}
	n := int(rdr.NumRows())
	t := &Table{
		Meta: m, Dim: dim, NumClasses: ncls,
		IDs:               make([]int64, n),
		Labels:            make([]int32, n),
		Preds:             make([]int32, n),
		Feature:           make([]float32, n*dim),
		FeatureNormalized: make([]float32, n*dim),
		FeatureNorm:       make([]float32, n),
		Logits:            make([]float32, n*ncls),
		LogitsOOD:         make([]float32, n*ncls),
	}
	leaves := make([]int, rdr.MetaData().Schema.NumColumns())
	for i := range leaves {
		leaves[i] = i
	}
	row := 0
	for rg := range rdr.NumRowGroups() {
		tbl, err := fr.ReadRowGroups(context.Background(), leaves, []int{rg})
		if err != nil {
			return nil, fmt.Errorf("row group %d: %w", rg, err)
		}
		rows := int(tbl.NumRows())
		if row+rows > n {
			tbl.Release()
			return nil, fmt.Errorf("row group %d ends at row %d, the footer counts %d rows", rg, row+rows, n)
		}
		err = t.copyRowGroup(tbl, row)
		tbl.Release()
		if err != nil {
			return nil, err
		}
		row += rows
	}
	if row != n {
		return nil, fmt.Errorf("row groups hold %d rows, the footer counts %d", row, n)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkSchema requires exactly the feature columns, with compatible types.
func checkSchema(sc *arrow.Schema, dim, ncls int) error {
	var got []string
	for _, f := range sc.Fields() {
		got = append(got, f.Name)
	}
	want := slices.Clone(columnNames)
	g := slices.Clone(got)
	slices.Sort(g)
	slices.Sort(want)
	if !slices.Equal(g, want) {
		return fmt.Errorf("columns [%s], want [%s]", strings.Join(got, " "), strings.Join(columnNames, " "))
	}
	for _, f := range sc.Fields() {
		var ok bool
		switch f.Name {
		case colID:
			ok = f.Type.ID() == arrow.INT64
		case colLabel, colPred:
			ok = f.Type.ID() == arrow.INT32
		case colFeatureNorm:
			ok = f.Type.ID() == arrow.FLOAT32
		case colDataset, colSplit:
			ok = isStringType(f.Type)
		case colFeature, colFeatureNormalized, colLogits, colLogitsOOD:
			want := dim
			if f.Name == colLogits || f.Name == colLogitsOOD {
				want = ncls
			}
			switch lt := f.Type.(type) {
			case *arrow.FixedSizeListType:
				ok = lt.Elem().ID() == arrow.FLOAT32
				if ok && int(lt.Len()) != want {
					return fmt.Errorf("column %s is %s, metadata says %d values per row", f.Name, f.Type, want)
				}
			case *arrow.ListType:
				ok = lt.Elem().ID() == arrow.FLOAT32
			case *arrow.LargeListType:
				ok = lt.Elem().ID() == arrow.FLOAT32
			}
		}
		if !ok {
			return fmt.Errorf("column %s has type %s, want %s", f.Name, f.Type, wantType(f.Name))
		}
	}
	return nil
}

func wantType(col string) string {
	switch col {
	case colID:
		return "int64"
	case colLabel, colPred:
		return "int32"
	case colFeatureNorm:
		return "float"
	case colDataset, colSplit:
		return "utf8"
	default:
		return "a list of float"
	}
}

func isStringType(dt arrow.DataType) bool {
	switch t := dt.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return true
	case *arrow.DictionaryType:
		return isStringType(t.ValueType)
	}
	return false
}

// copyRowGroup copies one decoded row group into t starting at row off.
func (t *Table) copyRowGroup(tbl arrow.Table, off int) error {
	cols := make(map[string][]arrow.Array, tbl.NumCols())
	for i := range int(tbl.NumCols()) {
		c := tbl.Column(i)
		cols[c.Name()] = c.Data().Chunks()
	}
	// id first: later errors name the row's id.
	for _, name := range columnNames {
		r := off
		for _, a := range cols[name] {
			if a.NullN() > 0 {
				return fmt.Errorf("column %s row %d: null, want a value", name, r+firstNull(a))
			}
			if err := t.copyChunk(name, a, r); err != nil {
				return err
			}
			r += a.Len()
		}
		if r-off != int(tbl.NumRows()) {
			return fmt.Errorf("column %s holds %d rows, the row group %d", name, r-off, tbl.NumRows())
		}
	}
	return nil
}

func firstNull(a arrow.Array) int {
	for i := range a.Len() {
		if a.IsNull(i) {
			return i
		}
	}
	return 0
}

// copyChunk copies the chunk a of column name into t at row r.
func (t *Table) copyChunk(name string, a arrow.Array, r int) error {
	n := a.Len()
	switch name {
	case colID:
		copy(t.IDs[r:r+n], a.(*array.Int64).Int64Values())
	case colLabel:
		copy(t.Labels[r:r+n], a.(*array.Int32).Int32Values())
	case colPred:
		copy(t.Preds[r:r+n], a.(*array.Int32).Int32Values())
	case colFeatureNorm:
		copy(t.FeatureNorm[r:r+n], a.(*array.Float32).Float32Values())
	case colDataset, colSplit:
		want := t.Meta.Dataset
		if name == colSplit {
			want = t.Meta.Split
		}
		for i := range n {
			if s := stringAt(a, i); s != want {
				return fmt.Errorf("column %s row %d (id %d): %q, the file's metadata says %q", name, r+i, t.IDs[r+i], s, want)
			}
		}
	case colFeature, colFeatureNormalized, colLogits, colLogitsOOD:
		dst, per := t.Feature, t.Dim
		switch name {
		case colFeatureNormalized:
			dst = t.FeatureNormalized
		case colLogits:
			dst, per = t.Logits, t.NumClasses
		case colLogitsOOD:
			dst, per = t.LogitsOOD, t.NumClasses
		}
		vals, err := listValues(a, per, func(i, got int) error {
			if got < 0 {
				return fmt.Errorf("column %s row %d (id %d): null list element, want a value", name, r+i, t.IDs[r+i])
			}
			return fmt.Errorf("column %s row %d (id %d): %d values, want %d", name, r+i, t.IDs[r+i], got, per)
		})
		if err != nil {
			return err
		}
		copy(dst[r*per:(r+n)*per], vals)
	}
	return nil
}

// stringAt is row i of a string, large string or dictionary-of-string array.
func stringAt(a arrow.Array, i int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Dictionary:
		return stringAt(a.Dictionary(), a.GetValueIndex(i))
	}
	panic("features: stringAt on " + a.DataType().String()) // checkSchema admits only the cases above
}

// listValues returns the a.Len()·per contiguous values of a list-like array
// of float32 whose every row must hold per values; bad(i, got) builds the
// error for a row of the wrong length (got < 0: a null element).
func listValues(a arrow.Array, per int, bad func(i, got int) error) ([]float32, error) {
	var (
		child    arrow.Array
		beg, end int
	)
	switch l := a.(type) {
	case *array.FixedSizeList:
		child = l.ListValues()
		beg, end = l.Offset()*per, (l.Offset()+l.Len())*per
	case *array.List:
		offs := l.Offsets()
		for i := range l.Len() {
			if got := int(offs[i+1] - offs[i]); got != per {
				return nil, bad(i, got)
			}
		}
		child, beg, end = l.ListValues(), int(offs[0]), int(offs[l.Len()])
	case *array.LargeList:
		offs := l.Offsets()
		for i := range l.Len() {
			if got := int(offs[i+1] - offs[i]); got != per {
				return nil, bad(i, got)
			}
		}
		child, beg, end = l.ListValues(), int(offs[0]), int(offs[l.Len()])
	default:
		panic("features: listValues on " + a.DataType().String()) // checkSchema admits only the cases above
	}
	f := child.(*array.Float32)
	if f.NullN() > 0 {
		for i := beg; i < end; i++ {
			if f.IsNull(i) {
				return nil, bad((i-beg)/per, -1)
			}
		}
	}
	return f.Float32Values()[beg:end], nil
}
