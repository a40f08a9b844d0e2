package features

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// randomTable is n rows of dimension dim with ncls classes; the derived
// columns are consistent with the features but their exact values do not
// matter to the I/O tests.
func randomTable(n, dim, ncls int, seed uint64) *Table {
	rng := rand.New(rand.NewPCG(seed, 1))
	t := &Table{
		Meta: Meta{Dataset: "cifar10", Split: "test", Model: "resnet18_32x32", Width: 0.5, Head: "t2fnorm",
			Tau: 0.1, Classes: []string{"a", "b", "c"}[:min(3, ncls)], CheckpointSHA256: strings.Repeat("ab", 32)},
		Dim: dim, NumClasses: ncls,
		IDs: make([]int64, n), Labels: make([]int32, n), Preds: make([]int32, n),
		Feature: make([]float32, n*dim), FeatureNormalized: make([]float32, n*dim), FeatureNorm: make([]float32, n),
		Logits: make([]float32, n*ncls), LogitsOOD: make([]float32, n*ncls),
	}
	if ncls != 3 {
		t.Meta.Classes = nil
	}
	for i := range n {
		t.IDs[i] = int64(1000 + 3*i)
		t.Labels[i] = int32(rng.IntN(ncls+1)) - 1
		t.Preds[i] = int32(rng.IntN(ncls))
		t.FeatureNorm[i] = rng.Float32() * 10
	}
	for i := range t.Feature {
		t.Feature[i] = float32(rng.NormFloat64())
		t.FeatureNormalized[i] = rng.Float32()
	}
	for i := range t.Logits {
		t.Logits[i] = float32(rng.NormFloat64() * 5)
		t.LogitsOOD[i] = float32(rng.NormFloat64() * 50)
	}
	return t
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, dim, ncls  int
		rowGroupRows  int
		writeInChunks []int // streaming writes of these sizes; nil: WriteFile
	}{
		{name: "one row group", n: 50, dim: 7, ncls: 3},
		{name: "many row groups", n: 103, dim: 5, ncls: 10, rowGroupRows: 16},
		{name: "streamed uneven chunks", n: 100, dim: 4, ncls: 3, rowGroupRows: 32, writeInChunks: []int{1, 30, 0, 2, 67}},
		{name: "one row", n: 1, dim: 512, ncls: 10},
		{name: "no rows", n: 0, dim: 84, ncls: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			want := randomTable(tc.n, tc.dim, tc.ncls, 7)
			path := filepath.Join(t.TempDir(), FileName("cifar10", "test"))
			opts := []Option{WithAllocator(mem), WithRowGroupRows(tc.rowGroupRows)}
			if tc.writeInChunks == nil {
				if err := WriteFile(path, want, opts...); err != nil {
					t.Fatal(err)
				}
			} else {
				w, err := NewWriter(path, want.Meta, tc.dim, tc.ncls, opts...)
				if err != nil {
					t.Fatal(err)
				}
				// Each chunk is copied into one scratch table that the next
				// chunk overwrites: Write must not keep references.
				scratch := randomTable(100, tc.dim, tc.ncls, 99)
				lo := 0
				for _, k := range tc.writeInChunks {
					chunk := scratch.Slice(0, k)
					copyRows(chunk, want.Slice(lo, lo+k))
					if err := w.Write(chunk); err != nil {
						t.Fatal(err)
					}
					lo += k
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadFile(path, WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			if d := tableDiff(got, want); d != "" {
				t.Error(d)
			}
			info, err := Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Rows != tc.n || info.Dim != tc.dim || info.NumClasses != tc.ncls || !reflect.DeepEqual(info.Meta, want.Meta) {
				t.Errorf("Stat = %+v, want %d rows dim %d classes %d meta %+v", info, tc.n, tc.dim, tc.ncls, want.Meta)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the feature file", len(entries))
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Table)
		wantErr string
	}{
		{"NaN feature", func(t *Table) { t.Feature[3*4+2] = float32(math.NaN()) }, "column feature row 3 (id 1009)"},
		{"Inf logit", func(t *Table) { t.LogitsOOD[5*3] = float32(math.Inf(-1)) }, "column logits_ood row 5 (id 1015)"},
		{"short feature", func(t *Table) { t.Feature = t.Feature[:len(t.Feature)-1] }, "column feature has 39 values, want 40"},
		{"pred out of range", func(t *Table) { t.Preds[2] = 3 }, "column pred row 2 (id 1006): 3, want [0, 3)"},
		{"label below -1", func(t *Table) { t.Labels[1] = -2 }, "column label row 1 (id 1003): -2"},
		{"no dataset", func(t *Table) { t.Meta.Dataset = "" }, "needs a dataset and a split"},
		{"zero dim", func(t *Table) { t.Dim = 0 }, "dim 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := randomTable(10, 4, 3, 1)
			tc.mutate(tab)
			dir := t.TempDir()
			path := filepath.Join(dir, "x_test.parquet")
			err := WriteFile(path, tab)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("WriteFile error %v, want one containing %q", err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed write left %d files", len(entries))
			}
		})
	}
}

// writeRaw writes a Parquet file with arbitrary columns and metadata,
// bypassing the Writer's checks.
func writeRaw(t *testing.T, path string, meta arrow.Metadata, fields []arrow.Field, arrays []arrow.Array) {
	t.Helper()
	sc := arrow.NewSchema(fields, &meta)
	rec := array.NewRecordBatch(sc, arrays, int64(arrays[0].Len()))
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

// rawTable returns the fields and arrays of tab with list columns as
// list<float> built from rows (so a test can give a row a wrong length),
// feature_norm nullable, and the metadata encodeMeta writes.
func rawTable(t *testing.T, tab *Table, rowLen func(col string, row, want int) int, nullNormRow int) (arrow.Metadata, []arrow.Field, []arrow.Array) {
	t.Helper()
	mem := memory.DefaultAllocator
	md, err := encodeMeta(tab.Meta, tab.Dim, tab.NumClasses)
	if err != nil {
		t.Fatal(err)
	}
	n := tab.Len()
	listOf := func(col string, v []float32, per int) arrow.Array {
		b := array.NewListBuilder(mem, arrow.PrimitiveTypes.Float32)
		defer b.Release()
		vb := b.ValueBuilder().(*array.Float32Builder)
		for r := range n {
			b.Append(true)
			k := rowLen(col, r, per)
			for j := range k {
				vb.Append(v[r*per+j%per])
			}
		}
		return b.NewArray()
	}
	ids := array.NewInt64Builder(mem)
	ids.AppendValues(tab.IDs, nil)
	labels := array.NewInt32Builder(mem)
	labels.AppendValues(tab.Labels, nil)
	preds := array.NewInt32Builder(mem)
	preds.AppendValues(tab.Preds, nil)
	norm := array.NewFloat32Builder(mem)
	for r, v := range tab.FeatureNorm {
		if r == nullNormRow {
			norm.AppendNull()
		} else {
			norm.Append(v)
		}
	}
	ds, sp := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
	for range n {
		ds.Append(tab.Meta.Dataset)
		sp.Append(tab.Meta.Split)
	}
	lt := arrow.ListOf(arrow.PrimitiveTypes.Float32)
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "dataset", Type: arrow.BinaryTypes.String},
		{Name: "split", Type: arrow.BinaryTypes.String}, {Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "feature", Type: lt}, {Name: "feature_normalized", Type: lt},
		{Name: "feature_norm", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "logits", Type: lt}, {Name: "logits_ood", Type: lt}, {Name: "pred", Type: arrow.PrimitiveTypes.Int32},
	}
	arrays := []arrow.Array{ids.NewArray(), ds.NewArray(), sp.NewArray(), labels.NewArray(),
		listOf("feature", tab.Feature, tab.Dim), listOf("feature_normalized", tab.FeatureNormalized, tab.Dim),
		norm.NewArray(), listOf("logits", tab.Logits, tab.NumClasses), listOf("logits_ood", tab.LogitsOOD, tab.NumClasses),
		preds.NewArray()}
	t.Cleanup(func() {
		for _, a := range arrays {
			a.Release()
		}
	})
	return md, fields, arrays
}

func sameLen(_ string, _, want int) int { return want }

func TestReadAcceptsVariableListType(t *testing.T) {
	// A file whose list columns are plain list<float> (as pandas or DuckDB
	// write them) reads the same as ours.
	want := randomTable(9, 6, 3, 3)
	md, fields, arrays := rawTable(t, want, sameLen, -1)
	path := filepath.Join(t.TempDir(), "x.parquet")
	writeRaw(t, path, md, fields, arrays)
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := tableDiff(got, want); d != "" {
		t.Error(d)
	}
}

func TestReadRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Table)
		rowLen  func(col string, row, want int) int
		nullRow int
		edit    func(md *arrow.Metadata, fields []arrow.Field, arrays []arrow.Array) ([]arrow.Field, []arrow.Array)
		wantErr string
	}{
		{name: "NaN feature", mutate: func(t *Table) { t.Feature[4*6+1] = float32(math.NaN()) },
			wantErr: "column feature row 4 (id 1012): value NaN is not finite"},
		{name: "Inf normalized feature", mutate: func(t *Table) { t.FeatureNormalized[7*6] = float32(math.Inf(1)) },
			wantErr: "column feature_normalized row 7 (id 1021): value +Inf is not finite"},
		{name: "short feature row", rowLen: func(col string, row, want int) int {
			if col == "feature" && row == 5 {
				return want - 1
			}
			return want
		}, wantErr: "column feature row 5 (id 1015): 5 values, want 6"},
		{name: "long logits row", rowLen: func(col string, row, want int) int {
			if col == "logits_ood" && row == 0 {
				return want + 2
			}
			return want
		}, wantErr: "column logits_ood row 0 (id 1000): 5 values, want 3"},
		{name: "empty feature list", rowLen: func(col string, row, want int) int {
			if col == "feature_normalized" && row == 6 {
				return 0
			}
			return want
		}, wantErr: "column feature_normalized row 6 (id 1018): null or empty list, want a value"},
		{name: "null norm", nullRow: 2, wantErr: "column feature_norm row 2 (id 1006): null, want a value"},
		{name: "missing column", edit: func(_ *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			return f[:9], a[:9]
		}, wantErr: "columns [id dataset split label feature feature_normalized feature_norm logits logits_ood], want"},
		{name: "label as int64", edit: func(_ *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			f[3], a[3] = f[0], a[0]
			f[3].Name = "label"
			return f, a
		}, wantErr: "column label has type int64, want int32"},
		{name: "dim metadata disagrees", edit: func(md *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			*md = replaceMeta(*md, keyDim, "7")
			return f, a
		}, wantErr: "column feature row 0 (id 1000): 6 values, want 7"},
		{name: "wrong version", edit: func(md *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			*md = replaceMeta(*md, keyVersion, "2")
			return f, a
		}, wantErr: `t2f_features_version is "2"`},
		{name: "no metadata", edit: func(md *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			*md = arrow.Metadata{}
			return f, a
		}, wantErr: "not a t2f feature file"},
		{name: "row of another dataset", edit: func(md *arrow.Metadata, f []arrow.Field, a []arrow.Array) ([]arrow.Field, []arrow.Array) {
			b := array.NewStringBuilder(memory.DefaultAllocator)
			defer b.Release()
			for i := range a[1].Len() {
				if i == 3 {
					b.Append("svhn")
				} else {
					b.Append("cifar10")
				}
			}
			a[1] = b.NewArray() // leaks nothing: the default allocator is not checked
			return f, a
		}, wantErr: `column dataset row 3 (id 1009): "svhn", the file's metadata says "cifar10"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := randomTable(10, 6, 3, 5)
			if tc.mutate != nil {
				tc.mutate(tab)
			}
			rowLen := tc.rowLen
			if rowLen == nil {
				rowLen = sameLen
			}
			nullRow := -1
			if tc.nullRow > 0 {
				nullRow = tc.nullRow
			}
			md, fields, arrays := rawTable(t, tab, rowLen, nullRow)
			if tc.edit != nil {
				fields, arrays = tc.edit(&md, fields, arrays)
			}
			path := filepath.Join(t.TempDir(), "bad.parquet")
			writeRaw(t, path, md, fields, arrays)
			_, err := ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ReadFile error %v, want one naming %s and containing %q", err, path, tc.wantErr)
			}
		})
	}
}

func replaceMeta(md arrow.Metadata, key, val string) arrow.Metadata {
	keys, vals := slicesClone(md.Keys()), slicesClone(md.Values())
	for i, k := range keys {
		if k == key {
			vals[i] = val
		}
	}
	return arrow.NewMetadata(keys, vals)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// tableDiff describes the first difference between got and want, or "".
func tableDiff(got, want *Table) string {
	if !reflect.DeepEqual(got.Meta, want.Meta) {
		return fmt.Sprintf("meta %+v, want %+v", got.Meta, want.Meta)
	}
	if got.Dim != want.Dim || got.NumClasses != want.NumClasses {
		return fmt.Sprintf("dim %d classes %d, want %d %d", got.Dim, got.NumClasses, want.Dim, want.NumClasses)
	}
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range gv.NumField() {
		g, w := gv.Field(i), wv.Field(i)
		if g.Kind() != reflect.Slice {
			continue
		}
		name := gv.Type().Field(i).Name
		if g.Len() != w.Len() {
			return fmt.Sprintf("%s has %d values, want %d", name, g.Len(), w.Len())
		}
		for j := range g.Len() {
			if !reflect.DeepEqual(g.Index(j).Interface(), w.Index(j).Interface()) {
				return fmt.Sprintf("%s[%d] = %v, want %v", name, j, g.Index(j), w.Index(j))
			}
		}
	}
	return ""
}

// copyRows copies src's rows into dst of the same shape.
func copyRows(dst, src *Table) {
	copy(dst.IDs, src.IDs)
	copy(dst.Labels, src.Labels)
	copy(dst.Preds, src.Preds)
	copy(dst.Feature, src.Feature)
	copy(dst.FeatureNormalized, src.FeatureNormalized)
	copy(dst.FeatureNorm, src.FeatureNorm)
	copy(dst.Logits, src.Logits)
	copy(dst.LogitsOOD, src.LogitsOOD)
}

// TestMethodMetadata checks the optional training-method key: written and
// read back when set, absent (and read as "") when not.
func TestMethodMetadata(t *testing.T) {
	for _, method := range []string{"logitnorm", ""} {
		tab := randomTable(4, 3, 2, 1)
		tab.Meta.Method = method
		path := filepath.Join(t.TempDir(), FileName("cifar10", "test"))
		if err := WriteFile(path, tab); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Meta.Method != method {
			t.Errorf("method %q read back as %q", method, got.Meta.Method)
		}
	}
}

func TestRecoveredCause(t *testing.T) {
	inner := fmt.Errorf("write x: %w", syscall.ENOSPC)
	err := recoveredCause(fmt.Errorf("unknown error type: %w", inner))
	if strings.Contains(err.Error(), "unknown error type") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got %q (is ENOSPC: %v)", err, errors.Is(err, syscall.ENOSPC))
	}
}
