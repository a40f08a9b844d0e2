package features

import (
	"fmt"
	"io"
	"runtime"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"golang.org/x/sync/errgroup"
)

// Reading decodes each Parquet leaf column straight from its pages in
// chunks of levelChunk values (a cache-sized scratch buffer) and copies the
// chunk into the table's slice, checking the definition and repetition
// levels on the way: every level must be a present value (def = max def:
// no null, no empty list) and, for list columns, a new row (rep = 0) must
// start exactly every per values. This avoids pqarrow's intermediate Arrow
// arrays, whose buffers grow by reallocation (~5× the data in copies).
const levelChunk = 1 << 14

// leafCols maps each top-level column name to its one leaf column index.
func leafCols(rdr *file.Reader) (map[string]int, error) {
	sc := rdr.MetaData().Schema
	leaves := make(map[string]int, sc.NumColumns())
	for i := range sc.NumColumns() {
		name := sc.Column(i).ColumnPath()[0]
		if _, dup := leaves[name]; dup {
			return nil, fmt.Errorf("column %s has more than one leaf, want a primitive or a list of primitives", name)
		}
		leaves[name] = i
	}
	return leaves, nil
}

// readRowGroup reads row group rg into t's rows [off, off+rows).
func (t *Table) readRowGroup(rdr *file.Reader, rg int, leaves map[string]int, off, rows int) error {
	rgr := rdr.RowGroup(rg)
	read := func(name string) error {
		cr, err := rgr.Column(leaves[name])
		if err != nil {
			return fmt.Errorf("row group %d column %s: %w", rg, name, err)
		}
		if c, ok := cr.(io.Closer); ok { // releases the page buffers
			defer c.Close()
		}
		return t.readLeaf(name, cr, off, rows)
	}
	// id first, so that later errors can name the row's id.
	if err := read(colID); err != nil {
		return err
	}
	// Columns decode concurrently; the error reported is the first in column
	// order, so a bad file always gets the same message.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	errs := make([]error, len(columnNames))
	for i, name := range columnNames[1:] {
		g.Go(func() error { errs[i+1] = read(name); return nil })
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readLeaf reads one column chunk into t's rows [off, off+rows).
func (t *Table) readLeaf(name string, cr file.ColumnChunkReader, off, rows int) error {
	bad := func(row int, msg string) error {
		if name == colID || row >= rows {
			return fmt.Errorf("column %s row %d: %s", name, off+row, msg)
		}
		return fmt.Errorf("column %s row %d (id %d): %s", name, off+row, t.IDs[off+row], msg)
	}
	var (
		read func(def, rep []int16) (int64, int, error)
		put  func(at, n int) error
	)
	switch cr := cr.(type) {
	case *file.Int64ColumnChunkReader:
		scratch := make([]int64, levelChunk)
		read = func(def, rep []int16) (int64, int, error) { return cr.ReadBatch(levelChunk, scratch, def, rep) }
		put = func(at, n int) error { copy(t.IDs[off+at:], scratch[:n]); return nil }
	case *file.Int32ColumnChunkReader:
		dst := t.Labels
		if name == colPred {
			dst = t.Preds
		}
		scratch := make([]int32, levelChunk)
		read = func(def, rep []int16) (int64, int, error) { return cr.ReadBatch(levelChunk, scratch, def, rep) }
		put = func(at, n int) error { copy(dst[off+at:], scratch[:n]); return nil }
	case *file.Float32ColumnChunkReader:
		dst, per := t.FeatureNorm, 1
		switch name {
		case colFeature:
			dst, per = t.Feature, t.Dim
		case colFeatureNormalized:
			dst, per = t.FeatureNormalized, t.Dim
		case colLogits:
			dst, per = t.Logits, t.NumClasses
		case colLogitsOOD:
			dst, per = t.LogitsOOD, t.NumClasses
		}
		scratch := make([]float32, levelChunk)
		read = func(def, rep []int16) (int64, int, error) { return cr.ReadBatch(levelChunk, scratch, def, rep) }
		put = func(at, n int) error { copy(dst[off*per+at:], scratch[:n]); return nil }
	case *file.ByteArrayColumnChunkReader:
		want := t.Meta.Dataset
		if name == colSplit {
			want = t.Meta.Split
		}
		scratch := make([]parquet.ByteArray, levelChunk)
		read = func(def, rep []int16) (int64, int, error) { return cr.ReadBatch(levelChunk, scratch, def, rep) }
		put = func(at, n int) error {
			for i, v := range scratch[:n] {
				if string(v) != want {
					return bad(at+i, fmt.Sprintf("%q, the file's metadata says %q", v, want))
				}
			}
			return nil
		}
	default:
		return fmt.Errorf("column %s: unexpected Parquet type %v", name, cr.Type())
	}
	per := 1
	switch name {
	case colFeature, colFeatureNormalized:
		per = t.Dim
	case colLogits, colLogitsOOD:
		per = t.NumClasses
	}
	return scanLeaf(cr.Descriptor().MaxDefinitionLevel(), cr.Descriptor().MaxRepetitionLevel(), rows, per, read, put, bad)
}

// scanLeaf drives read (levelChunk levels at a time into def and rep) and
// put (values [at, at+n) of the chunk's column are in the scratch buffer)
// over one column chunk of rows rows of per values each, checking the
// levels.
func scanLeaf(maxDef, maxRep int16, rows, per int, read func(def, rep []int16) (int64, int, error),
	put func(at, n int) error, bad func(row int, msg string) error) error {
	var def, rep []int16
	if maxDef > 0 {
		def = make([]int16, levelChunk)
	}
	if maxRep > 0 {
		rep = make([]int16, levelChunk)
	}
	total := rows * per
	pos := 0      // values read so far (= levels, as every level must be a value)
	rowStart := 0 // value index where the current row began
	started := 0  // rows begun so far
	if maxRep == 0 {
		started = -1 // flat column: rows are values
	}
	for {
		nl, nv, err := read(def, rep)
		if err != nil {
			return bad(max(started, 0), err.Error())
		}
		if nl == 0 {
			break
		}
		for k := range int(nl) {
			if maxRep > 0 && rep[k] == 0 {
				if started > 0 && pos+k-rowStart != per {
					return bad(started-1, fmt.Sprintf("%d values, want %d", pos+k-rowStart, per))
				}
				started++
				rowStart = pos + k
			}
			if maxDef > 0 && def[k] < maxDef {
				if maxRep == 0 {
					return bad(pos+k, "null, want a value")
				}
				return bad(started-1, "null or empty list, want a value")
			}
		}
		if nv != int(nl) {
			return bad(max(started, 0), "null value") // unreachable when the level checks hold
		}
		if pos+nv > total {
			return bad(rows, fmt.Sprintf("more than the %d values of %d rows", total, rows))
		}
		if err := put(pos, nv); err != nil {
			return err
		}
		pos += nv
	}
	if maxRep > 0 {
		if started > 0 && pos-rowStart != per {
			return bad(started-1, fmt.Sprintf("%d values, want %d", pos-rowStart, per))
		}
		if started != rows {
			return bad(started, fmt.Sprintf("the column holds %d rows, the row group %d", started, rows))
		}
	}
	if pos != total {
		return bad(pos/per, fmt.Sprintf("the column holds %d values, want %d (%d rows × %d)", pos, total, rows, per))
	}
	return nil
}
