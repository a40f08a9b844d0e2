package shards

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sys/unix"
)

// Reader gives random access to the rows of a shard directory. Every shard is
// memory-mapped read-only; images are returned as views into the mapping.
// A Reader is safe for concurrent use by multiple goroutines (all methods
// only read) until Close.
type Reader struct {
	dir      string
	manifest *Manifest
	meta     Meta
	maps     [][]byte
	readers  []*ipc.FileReader
	batches  []batch // all record batches of all shards, in row order
	starts   []int   // global first row of each batch
	rows     int
}

type batch struct {
	rec    arrow.RecordBatch
	ids    []int64
	labels []int32
	pix    []uint8 // n·H·W·C bytes
	src    *array.String
	shard  int
}

// Open reads DIR/dataset.json and memory-maps every shard it lists, checking
// each shard's schema, every record batch's structure (column types and
// lengths, list sizes, string offsets, no nulls) and row count against the
// manifest. A corrupt shard is an error naming it, never a panic.
func Open(dir string) (*Reader, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	r := &Reader{dir: dir, manifest: m, meta: m.Meta()}
	for k, s := range m.Shards {
		path := filepath.Join(dir, s.File)
		data, err := mmapFile(path)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.maps = append(r.maps, data)
		fr, bs, err := decodeShard(path, data, r.meta)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.readers = append(r.readers, fr)
		n := 0
		for _, bt := range bs {
			bt.shard = k
			r.starts = append(r.starts, r.rows+n)
			r.batches = append(r.batches, bt)
			n += len(bt.ids)
		}
		if n != s.Rows {
			r.Close()
			return nil, fmt.Errorf("shards: shard %q holds %d rows, manifest says %d", path, n, s.Rows)
		}
		r.rows += n
	}
	r.meta.Rows = r.rows
	return r, nil
}

// decodeShard opens the Arrow IPC file held in data (a mapping of path) and
// decodes and checks every record batch. Arrow's decoder trusts the
// flatbuffers it reads and panics on some corrupt files; those panics, and
// allocations beyond the file's own size (compressed buffers claiming a
// huge size), become an error naming the shard. On error nothing is left
// to release.
func decodeShard(path string, data []byte, meta Meta) (fr *ipc.FileReader, out []batch, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shards: shard %q is corrupt (Arrow decoder: %v); rebuild it or restore it from a copy", path, p)
		}
		if err != nil {
			for _, b := range out {
				b.rec.Release()
			}
			out = nil
			if fr != nil {
				_ = fr.Close()
				fr = nil
			}
		}
	}()
	if err := checkArrowFile(data); err != nil {
		return nil, nil, fmt.Errorf("shards: shard %q is corrupt (%w); rebuild it or restore it from a copy", path, err)
	}
	mem := &cappedAllocator{limit: int64(len(data)) + 1<<20}
	fr, err = ipc.NewMappedFileReader(data, ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, fmt.Errorf("shards: open shard %q: %w", path, err)
	}
	if err := checkSchema(fr.Schema(), meta); err != nil {
		return fr, nil, fmt.Errorf("shards: shard %q: %w", path, err)
	}
	imgLen := meta.ImageLen()
	for b := 0; b < fr.NumRecords(); b++ {
		rec, err := fr.RecordBatchAt(b)
		if err != nil {
			return fr, out, fmt.Errorf("shards: shard %q batch %d: %w", path, b, err)
		}
		bt, err := newBatch(rec, imgLen)
		if err != nil {
			rec.Release()
			return fr, out, fmt.Errorf("shards: shard %q batch %d: %w", path, b, err)
		}
		if len(bt.ids) == 0 {
			rec.Release()
			continue
		}
		out = append(out, bt)
	}
	return fr, out, nil
}

// cappedAllocator is the Go allocator with a budget: the Arrow decoder only
// allocates for compressed buffers (t2f never writes them), and a corrupt
// size must not become an out-of-memory kill. Exceeding the budget panics,
// which decodeShard turns into an error.
type cappedAllocator struct {
	limit int64
	used  atomic.Int64
}

func (a *cappedAllocator) Allocate(size int) []byte {
	if size < 0 || a.used.Add(int64(size)) > a.limit {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the shard's size", size))
	}
	return memory.DefaultAllocator.Allocate(size)
}

func (a *cappedAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 || a.used.Add(int64(size-len(b))) > a.limit {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the shard's size", size))
	}
	return memory.DefaultAllocator.Reallocate(size, b)
}

func (a *cappedAllocator) Free(b []byte) {
	a.used.Add(-int64(len(b)))
	memory.DefaultAllocator.Free(b)
}

// newBatch checks one decoded record batch against the schema's promises —
// every column holds exactly NumRows values without nulls, the image list
// holds NumRows·imgLen bytes, the source strings' offsets are in range — and
// keeps typed views of its columns.
func newBatch(rec arrow.RecordBatch, imgLen int) (batch, error) {
	if rec.NumCols() != 4 {
		return batch{}, fmt.Errorf("%d columns, want 4", rec.NumCols())
	}
	ids, ok1 := rec.Column(0).(*array.Int64)
	labels, ok2 := rec.Column(1).(*array.Int32)
	imgs, ok3 := rec.Column(2).(*array.FixedSizeList)
	src, ok4 := rec.Column(3).(*array.String)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return batch{}, fmt.Errorf("column types %v", rec.Schema())
	}
	n := rec.NumRows()
	if n < 0 || n > math.MaxInt32 {
		return batch{}, fmt.Errorf("batch length %d", n)
	}
	for k, c := range rec.Columns() {
		if int64(c.Len()) != n {
			return batch{}, fmt.Errorf("column %q holds %d values, batch length is %d", rec.ColumnName(k), c.Len(), n)
		}
		if c.NullN() != 0 {
			return batch{}, fmt.Errorf("column %q has %d nulls", rec.ColumnName(k), c.NullN())
		}
	}
	if len(ids.Int64Values()) != int(n) || len(labels.Int32Values()) != int(n) {
		return batch{}, fmt.Errorf("id/label buffers hold %d/%d values, batch length is %d", len(ids.Int64Values()), len(labels.Int32Values()), n)
	}
	if err := src.ValidateFull(); err != nil {
		return batch{}, fmt.Errorf("column %q: %w", ColSource, err)
	}
	vals, ok := imgs.ListValues().(*array.Uint8)
	if !ok {
		return batch{}, fmt.Errorf("image values are %s, want uint8", imgs.ListValues().DataType())
	}
	if imgs.Offset() < 0 || vals.NullN() != 0 {
		return batch{}, fmt.Errorf("image list offset %d, %d null pixels", imgs.Offset(), vals.NullN())
	}
	off := imgs.Offset() * imgLen
	pix := vals.Uint8Values()
	if int64(len(pix)) < int64(off)+n*int64(imgLen) {
		return batch{}, fmt.Errorf("image column holds %d bytes, want %d", len(pix)-off, n*int64(imgLen))
	}
	m := int(n)
	return batch{rec: rec, ids: ids.Int64Values(), labels: labels.Int32Values(),
		pix: pix[off : off+m*imgLen : off+m*imgLen], src: src}, nil
}

func mmapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("shards: shard %q is empty", path)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shards: mmap %q: %w", path, err)
	}
	return data, nil
}

// Len returns the number of rows.
func (r *Reader) Len() int { return r.rows }

// Meta returns the dataset description (Rows = Len()).
func (r *Reader) Meta() Meta { return r.meta }

// Manifest returns the parsed dataset.json. The caller must not modify it.
func (r *Reader) Manifest() *Manifest { return r.manifest }

// locate returns the batch holding global row i and the row inside it.
func (r *Reader) locate(i int) (*batch, int) {
	if i < 0 || i >= r.rows {
		panic(fmt.Sprintf("shards: row %d out of range [0, %d)", i, r.rows))
	}
	b := sort.Search(len(r.starts), func(k int) bool { return r.starts[k] > i }) - 1
	return &r.batches[b], i - r.starts[b]
}

// Image returns the H·W·C bytes (HWC) of row i as a zero-copy view into the
// mapped shard. It is valid until Close and must not be written to.
// It panics if i is out of range.
func (r *Reader) Image(i int) []uint8 {
	b, j := r.locate(i)
	n := r.meta.ImageLen()
	return b.pix[j*n : (j+1)*n : (j+1)*n]
}

// Label returns the label of row i (−1 = OOD).
func (r *Reader) Label(i int) int32 { b, j := r.locate(i); return b.labels[j] }

// ID returns the stable sample id of row i.
func (r *Reader) ID(i int) int64 { b, j := r.locate(i); return b.ids[j] }

// Source returns where row i came from (file path or "file#record").
func (r *Reader) Source(i int) string { b, j := r.locate(i); return b.src.Value(j) }

// Labels returns a copy of every row's label, in row order.
func (r *Reader) Labels() []int32 {
	out := make([]int32, 0, r.rows)
	for _, b := range r.batches {
		out = append(out, b.labels...)
	}
	return out
}

// Batch copies the images of the given rows into images (len(rows)·H·W·C
// bytes, HWC per image, images back to back) and their labels into labels
// (len(rows), or nil to skip labels).
func (r *Reader) Batch(rows []int, images []uint8, labels []int32) error {
	n := r.meta.ImageLen()
	if len(images) != len(rows)*n {
		return fmt.Errorf("shards: batch buffer of %d bytes for %d rows, want %d", len(images), len(rows), len(rows)*n)
	}
	if labels != nil && len(labels) != len(rows) {
		return fmt.Errorf("shards: label buffer of %d for %d rows", len(labels), len(rows))
	}
	for k, i := range rows {
		if i < 0 || i >= r.rows {
			return fmt.Errorf("shards: row %d out of range [0, %d)", i, r.rows)
		}
		b, j := r.locate(i)
		copy(images[k*n:(k+1)*n], b.pix[j*n:(j+1)*n])
		if labels != nil {
			labels[k] = b.labels[j]
		}
	}
	return nil
}

// Close releases the record batches and unmaps the shards. Views returned by
// Image are invalid afterwards.
func (r *Reader) Close() error {
	for _, b := range r.batches {
		b.rec.Release()
	}
	r.batches, r.starts = nil, nil
	for _, fr := range r.readers {
		_ = fr.Close()
	}
	r.readers = nil
	var err error
	for _, m := range r.maps {
		if e := unix.Munmap(m); e != nil && err == nil {
			err = fmt.Errorf("shards: munmap: %w", e)
		}
	}
	r.maps = nil
	r.rows = 0
	return err
}

// ScanShard reads one complete shard file on its own (no manifest needed):
// its row count, SHA-256, ids and labels. Builds use it to continue from the
// shards an interrupted run left.
func ScanShard(path string, meta Meta) (info ShardInfo, ids []int64, labels []int32, err error) {
	sum, err := FileSHA256(path)
	if err != nil {
		return info, nil, nil, err
	}
	data, err := mmapFile(path)
	if err != nil {
		return info, nil, nil, err
	}
	defer unix.Munmap(data)
	if meta.Layout == "" {
		meta.Layout = Layout
	}
	fr, bs, err := decodeShard(path, data, meta)
	if err != nil {
		return info, nil, nil, err
	}
	defer fr.Close()
	for _, bt := range bs {
		ids = append(ids, bt.ids...)
		labels = append(labels, bt.labels...)
		bt.rec.Release()
	}
	return ShardInfo{File: filepath.Base(path), Rows: len(ids), SHA256: sum}, ids, labels, nil
}
