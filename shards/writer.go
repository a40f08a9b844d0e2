package shards

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/t2f/t2f/internal/crashpoint"
)

// Defaults for [NewWriter].
const (
	DefaultShardRows = 10000
	DefaultBatchRows = 1024
)

// ShardName returns the file name of shard k: "shard-00007.arrow".
func ShardName(k int) string { return fmt.Sprintf("shard-%05d.arrow", k) }

// TempSuffix marks a shard (or manifest) that is still being written.
const TempSuffix = ".tmp"

type writerConfig struct {
	shardRows int
	batchRows int
	mem       memory.Allocator
	existing  []ShardInfo
}

// WriterOption configures a [Writer].
type WriterOption func(*writerConfig)

// WithShardRows sets the rows per shard file. Default [DefaultShardRows].
func WithShardRows(n int) WriterOption { return func(c *writerConfig) { c.shardRows = n } }

// WithBatchRows sets the rows per Arrow record batch inside a shard.
// Default [DefaultBatchRows] (capped at the shard rows).
func WithBatchRows(n int) WriterOption { return func(c *writerConfig) { c.batchRows = n } }

// WithAllocator sets the Arrow allocator for builders. Default memory.DefaultAllocator.
func WithAllocator(mem memory.Allocator) WriterOption { return func(c *writerConfig) { c.mem = mem } }

// WithExisting continues a build: the given complete shards (already in the
// directory, in order) are kept and new shards are numbered after them.
// Default none.
func WithExisting(s []ShardInfo) WriterOption {
	return func(c *writerConfig) { c.existing = append([]ShardInfo(nil), s...) }
}

// Writer appends rows to a sequence of shard files in one directory. Each
// shard is written under a temporary name and renamed when full or at Close.
// Writer is not safe for concurrent use. Errors are sticky.
type Writer struct {
	dir    string
	meta   Meta
	schema *arrow.Schema
	cfg    writerConfig
	shards []ShardInfo

	// current shard
	f       *os.File
	h       hash.Hash
	fw      *ipc.FileWriter
	tmp     string
	bld     *array.RecordBuilder
	inBatch int
	inShard int

	err    error
	closed bool
}

// NewWriter returns a Writer that writes shards for images described by meta
// into dir, which must exist.
func NewWriter(dir string, meta Meta, opts ...WriterOption) (*Writer, error) {
	cfg := writerConfig{shardRows: DefaultShardRows, batchRows: DefaultBatchRows, mem: memory.DefaultAllocator}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.shardRows <= 0 {
		return nil, fmt.Errorf("shards: shard rows %d must be positive", cfg.shardRows)
	}
	if cfg.batchRows <= 0 {
		return nil, fmt.Errorf("shards: batch rows %d must be positive", cfg.batchRows)
	}
	cfg.batchRows = min(cfg.batchRows, cfg.shardRows)
	if meta.Layout == "" {
		meta.Layout = Layout
	}
	if err := meta.validate(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("shards: output directory %q: not a directory (%v)", dir, err)
	}
	return &Writer{dir: dir, meta: meta, schema: Schema(meta), cfg: cfg, shards: cfg.existing}, nil
}

// Append adds one row. image must hold exactly H·W·C bytes in HWC order; it
// is copied.
func (w *Writer) Append(id int64, label int32, image []uint8, source string) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("shards: append after close")
	}
	if len(image) != w.meta.ImageLen() {
		return fmt.Errorf("shards: image of %d bytes for row id %d, want %d (%dx%dx%d)",
			len(image), id, w.meta.ImageLen(), w.meta.Height, w.meta.Width, w.meta.Channels)
	}
	if label < -1 || int(label) >= len(w.meta.Classes) {
		return fmt.Errorf("shards: label %d for row id %d (source %q) out of range [-1, %d)", label, id, source, len(w.meta.Classes))
	}
	if w.f == nil {
		if w.err = w.openShard(); w.err != nil {
			return w.err
		}
	}
	w.bld.Field(0).(*array.Int64Builder).Append(id)
	w.bld.Field(1).(*array.Int32Builder).Append(label)
	lb := w.bld.Field(2).(*array.FixedSizeListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Uint8Builder).AppendValues(image, nil)
	w.bld.Field(3).(*array.StringBuilder).Append(source)
	w.inBatch++
	w.inShard++
	if w.inBatch == w.cfg.batchRows {
		if w.err = w.flushBatch(); w.err != nil {
			return w.err
		}
	}
	if w.inShard == w.cfg.shardRows {
		if w.err = w.finishShard(); w.err != nil {
			return w.err
		}
	}
	return nil
}

func (w *Writer) openShard() error {
	name := ShardName(len(w.shards))
	w.tmp = filepath.Join(w.dir, name+TempSuffix)
	f, err := os.Create(w.tmp)
	if err != nil {
		return fmt.Errorf("shards: create shard: %w", err)
	}
	w.f = f
	w.h = sha256.New()
	fw, err := ipc.NewFileWriter(io.MultiWriter(f, w.h), ipc.WithSchema(w.schema), ipc.WithAllocator(w.cfg.mem))
	if err != nil {
		w.abortShard()
		return fmt.Errorf("shards: start shard %q: %w", w.tmp, err)
	}
	w.fw = fw
	w.bld = array.NewRecordBuilder(w.cfg.mem, w.schema)
	w.reserve()
	w.inShard, w.inBatch = 0, 0
	return nil
}

// reserve sizes the builders for a full batch so appends never regrow them.
func (w *Writer) reserve() {
	n := min(w.cfg.batchRows, w.cfg.shardRows-w.inShard)
	for i := range 4 {
		w.bld.Field(i).Reserve(n)
	}
	w.bld.Field(2).(*array.FixedSizeListBuilder).ValueBuilder().Reserve(n * w.meta.ImageLen())
}

func (w *Writer) flushBatch() error {
	if w.inBatch == 0 {
		return nil
	}
	rec := w.bld.NewRecordBatch()
	defer rec.Release()
	w.inBatch = 0
	if w.inShard < w.cfg.shardRows {
		w.reserve()
	}
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("shards: write shard %q: %w", w.tmp, err)
	}
	return nil
}

func (w *Writer) finishShard() error {
	if err := w.flushBatch(); err != nil {
		w.abortShard()
		return err
	}
	err := w.fw.Close()
	w.fw = nil
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	w.bld.Release()
	w.bld = nil
	final := w.tmp[:len(w.tmp)-len(TempSuffix)]
	if err == nil {
		crashpoint.Hit("before rename " + filepath.Base(final))
		err = os.Rename(w.tmp, final)
		crashpoint.Hit("after rename " + filepath.Base(final))
	}
	if err != nil {
		_ = os.Remove(w.tmp)
		return fmt.Errorf("shards: finish shard %q: %w", final, err)
	}
	w.shards = append(w.shards, ShardInfo{File: filepath.Base(final), Rows: w.inShard, SHA256: hex.EncodeToString(w.h.Sum(nil))})
	w.inShard = 0
	return nil
}

// abortShard drops the shard being written, removing its temporary file.
func (w *Writer) abortShard() {
	if w.fw != nil {
		_ = w.fw.Close()
		w.fw = nil
	}
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
		_ = os.Remove(w.tmp)
	}
	if w.bld != nil {
		w.bld.Release()
		w.bld = nil
	}
}

// Shards returns the complete shards written so far (including existing ones).
func (w *Writer) Shards() []ShardInfo { return append([]ShardInfo(nil), w.shards...) }

// Close finishes the last (partial) shard and returns every shard in order.
func (w *Writer) Close() ([]ShardInfo, error) {
	if w.closed {
		return w.Shards(), w.err
	}
	w.closed = true
	if w.err != nil {
		w.abortShard()
		return w.Shards(), w.err
	}
	if w.f != nil {
		if w.err = w.finishShard(); w.err != nil {
			return w.Shards(), w.err
		}
	}
	return w.Shards(), nil
}

// Abort stops writing and removes the shard in progress; complete shards stay.
func (w *Writer) Abort() {
	w.closed = true
	w.abortShard()
	if w.err == nil {
		w.err = errors.New("shards: writer aborted")
	}
}
