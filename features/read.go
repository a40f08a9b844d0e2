package features

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
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
	if v := kv.FindValue(keyMethod); v != nil {
		m.Method = *v
	}
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
// for what is checked). Each column is decoded page by page into a small
// scratch buffer and copied in bulk into the table (see leaves.go), the
// columns of a row group in parallel; peak memory is the table plus a few
// MiB.
func ReadFile(path string, opts ...Option) (*Table, error) {
	t, err := readFile(path, newOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("features: read %q: %w", path, err)
	}
	return t, nil
}

func readFile(path string, o options) (*Table, error) {
	// Column chunks are streamed through a 1 MiB buffer rather than read
	// whole: peak memory is the table plus a few MiB per column reader.
	props := parquet.NewReaderProperties(o.mem)
	props.BufferedStreamEnabled = true
	props.BufferSize = 1 << 20
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(props))
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
	leaves, err := leafCols(rdr)
	if err != nil {
		return nil, err
	}
	row := 0
	for rg := range rdr.NumRowGroups() {
		rows := int(rdr.MetaData().RowGroup(rg).NumRows())
		if row+rows > n {
			return nil, fmt.Errorf("row group %d ends at row %d, the footer counts %d rows", rg, row+rows, n)
		}
		if err := t.readRowGroup(rdr, rg, leaves, row, rows); err != nil {
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
