package augment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Dataset is what the loader reads: Len rows, each an image of the
// configured Shape (H·W·C uint8 bytes, HWC) and an int32 label. Image is
// called from several goroutines at once and must be safe for concurrent
// reads; the loader does not keep or modify the slice it returns.
// shards.Reader satisfies it.
type Dataset interface {
	Len() int
	Image(i int) []uint8
	Label(i int) int32
}

// Config configures a Loader.
type Config struct {
	// Shape is the shape of every stored image.
	Shape Shape
	// Transform is applied to every sample.
	Transform Transform
	// BatchSize is the number of samples per batch (OpenOOD: 128).
	BatchSize int
	// DropLast drops the last, smaller batch of an epoch. Default false
	// (OpenOOD's drop_last=False: the last batch holds Len % BatchSize rows).
	DropLast bool
	// Shuffle visits rows in a per-epoch permutation from (Seed, epoch);
	// false visits them in order (evaluation).
	Shuffle bool
	// Seed keys the shuffle and every sample's random choices.
	Seed uint64
	// Workers is the number of goroutines that transform samples. Default 1.
	Workers int
	// Prefetch is the number of batches prepared ahead of the consumer.
	// Default 2. The loader owns at most Prefetch+1 batch buffers.
	Prefetch int
}

// Batch is one batch, NCHW float32. A Batch belongs to its Loader: hand it
// back with Loader.Release once the data has been consumed, and do not touch
// it afterwards (it is refilled).
type Batch struct {
	N, C, H, W int
	// Data holds N·C·H·W normalised values, NCHW.
	Data []float32
	// Labels and Index hold the label and the dataset row of each sample.
	Labels []int32
	Index  []int
	// Epoch and Pos say which batch this is: position Pos (from 0) of epoch
	// Epoch.
	Epoch, Pos int

	owner   *Loader
	data    []float32 // full-size buffers the fields above are views of
	labels  []int32
	index   []int
	pending atomic.Int32  // chunks not yet filled
	done    chan struct{} // receives once when pending reaches 0
	pooled  bool          // in the free list (guarded by owner.mu)
}

// Loader turns a Dataset into batches, one epoch at a time (Start). It owns
// the batch buffers and reuses them, so a steady-state epoch allocates
// nothing per batch.
type Loader struct {
	ds      Dataset
	cfg     Config
	augs    []*Augmenter // one per worker
	c, h, w int          // output sample shape
	nb      int          // batches per epoch
	chunk   int          // samples per work item
	perm    []int

	mu        sync.Mutex
	free      []*Batch
	allocated int
	active    bool
}

// NewLoader checks the configuration against the dataset.
func NewLoader(ds Dataset, cfg Config) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("augment: nil dataset")
	}
	n := ds.Len()
	if n <= 0 {
		return nil, fmt.Errorf("augment: empty dataset (%d rows)", n)
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("augment: batch size %d, want > 0", cfg.BatchSize)
	}
	if cfg.Workers < 0 || cfg.Prefetch < 0 {
		return nil, fmt.Errorf("augment: workers %d, prefetch %d, want ≥ 0", cfg.Workers, cfg.Prefetch)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 2
	}
	a, err := NewAugmenter(cfg.Transform, cfg.Shape)
	if err != nil {
		return nil, err
	}
	if got, want := len(ds.Image(0)), cfg.Shape.H*cfg.Shape.W*cfg.Shape.C; got != want {
		return nil, fmt.Errorf("augment: dataset row 0 has %d image bytes, want %v = %d", got, cfg.Shape, want)
	}
	l := &Loader{ds: ds, cfg: cfg, augs: make([]*Augmenter, cfg.Workers)}
	l.c, l.h, l.w = a.OutShape()
	for i := range l.augs {
		l.augs[i] = a.Clone()
	}
	l.nb = n / cfg.BatchSize
	if !cfg.DropLast && n%cfg.BatchSize != 0 {
		l.nb++
	}
	if l.nb == 0 {
		return nil, fmt.Errorf("augment: %d rows make no full batch of %d (DropLast)", n, cfg.BatchSize)
	}
	// About four work items per worker per batch balances the pool without
	// making hand-offs significant.
	l.chunk = max(1, (cfg.BatchSize+4*cfg.Workers-1)/(4*cfg.Workers))
	l.perm = make([]int, n)
	return l, nil
}

// BatchesPerEpoch is the number of batches in one epoch.
func (l *Loader) BatchesPerEpoch() int { return l.nb }

// OutShape is the CHW shape of one sample.
func (l *Loader) OutShape() (c, h, w int) { return l.c, l.h, l.w }

// Config is the loader's configuration with defaults filled in.
func (l *Loader) Config() Config { return l.cfg }

// acquire returns a free buffer, allocating while under the bound, or nil.
func (l *Loader) acquire() *Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := len(l.free); k > 0 {
		b := l.free[k-1]
		l.free = l.free[:k-1]
		b.pooled = false
		return b
	}
	if l.allocated >= l.cfg.Prefetch+1 {
		return nil
	}
	l.allocated++
	bs, chw := l.cfg.BatchSize, l.c*l.h*l.w
	return &Batch{
		owner:  l,
		data:   make([]float32, bs*chw),
		labels: make([]int32, bs),
		index:  make([]int, bs),
		done:   make(chan struct{}, 1),
	}
}

// Release hands a batch back for reuse. It may be called from any goroutine,
// also after the epoch that produced the batch has ended. Releasing a batch
// twice or one from another Loader panics.
func (l *Loader) Release(b *Batch) {
	if b == nil || b.owner != l {
		panic("augment: Release of a batch from another loader")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.pooled {
		panic("augment: batch released twice")
	}
	b.pooled = true
	l.free = append(l.free, b)
}

// job is one work item: samples [lo, hi) of batch b.
type job struct {
	b      *Batch
	lo, hi int
}

// Iter delivers the batches of one epoch in order. It is used by one
// goroutine (the consumer); Release may be called from anywhere.
type Iter struct {
	l       *Loader
	ctx     context.Context // the caller's
	gctx    context.Context // the workers', cancelled by Close or a worker error
	cancel  context.CancelFunc
	g       *errgroup.Group
	jobs    chan job
	epoch   int
	next    int // position of the next batch Next returns
	disp    int // position of the next batch to dispatch
	ring    []*Batch
	head, n int // in-flight batches: ring[head], ... (n of them)
	wait    time.Duration
	err     error // sticky
	stopped bool
}

// Start begins epoch epoch at batch position pos (0 for a whole epoch;
// k to resume after k batches had been consumed: the batches delivered are
// exactly positions k, k+1, … of the uninterrupted epoch). Workers start at
// once and prefetch; they stop when the epoch ends, on Close, or when ctx is
// cancelled. One epoch runs at a time per Loader: Close it before the next
// Start.
func (l *Loader) Start(ctx context.Context, epoch, pos int) (*Iter, error) {
	if epoch < 0 {
		return nil, fmt.Errorf("augment: epoch %d, want ≥ 0", epoch)
	}
	if pos < 0 || pos > l.nb {
		return nil, fmt.Errorf("augment: start position %d outside [0, %d] batches", pos, l.nb)
	}
	l.mu.Lock()
	if l.active {
		l.mu.Unlock()
		return nil, errors.New("augment: an epoch is already running on this loader; Close it first")
	}
	l.active = true
	l.mu.Unlock()

	if l.cfg.Shuffle {
		permutation(l.perm, l.cfg.Seed, epoch)
	} else {
		for i := range l.perm {
			l.perm[i] = i
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(gctx)
	chunks := (l.cfg.BatchSize + l.chunk - 1) / l.chunk
	it := &Iter{
		l: l, ctx: ctx, gctx: gctx, cancel: cancel, g: g,
		jobs:  make(chan job, l.cfg.Prefetch*chunks),
		epoch: epoch, next: pos, disp: pos,
		ring: make([]*Batch, l.cfg.Prefetch),
	}
	for w := range l.cfg.Workers {
		a := l.augs[w]
		g.Go(func() error { return l.work(gctx, a, epoch, it.jobs) })
	}
	it.dispatch()
	return it, nil
}

// work is one worker: it fills the chunks it receives until gctx ends.
func (l *Loader) work(gctx context.Context, a *Augmenter, epoch int, jobs <-chan job) (err error) {
	// Images may be views of memory-mapped shards: a shard truncated while
	// training faults (SIGBUS) on read. The fault becomes this worker's
	// error instead of killing the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// A fault carries its address (see debug.SetPanicOnFault).
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = fmt.Errorf("augment: reading the dataset faulted (%v): a memory-mapped shard was truncated or replaced while in use; check it with t2f pipeline verify", r)
		}
	}()
	done := gctx.Done()
	chw := l.c * l.h * l.w
	want := l.cfg.Shape.H * l.cfg.Shape.W * l.cfg.Shape.C
	for {
		select {
		case <-done:
			return nil
		case j := <-jobs:
			b := j.b
			base := b.Pos * l.cfg.BatchSize
			for s := j.lo; s < j.hi; s++ {
				select {
				case <-done:
					return nil
				default:
				}
				row := l.perm[base+s]
				img := l.ds.Image(row)
				if len(img) != want {
					return fmt.Errorf("augment: dataset row %d has %d image bytes, want %v = %d", row, len(img), l.cfg.Shape, want)
				}
				if err := a.Apply(b.data[s*chw:(s+1)*chw], img, a.Draw(l.cfg.Seed, epoch, row)); err != nil {
					return fmt.Errorf("augment: dataset row %d: %w", row, err)
				}
				b.labels[s] = l.ds.Label(row)
				b.index[s] = row
			}
			if b.pending.Add(-1) == 0 {
				b.done <- struct{}{}
			}
		}
	}
}

// dispatch hands batches to the workers while fewer than Prefetch are in
// flight and a buffer is free.
func (it *Iter) dispatch() {
	l := it.l
	for it.disp < l.nb && it.n < len(it.ring) {
		b := l.acquire()
		if b == nil {
			return
		}
		lo := it.disp * l.cfg.BatchSize
		n := min(l.cfg.BatchSize, len(l.perm)-lo)
		b.N, b.C, b.H, b.W = n, l.c, l.h, l.w
		b.Data = b.data[:n*l.c*l.h*l.w]
		b.Labels = b.labels[:n]
		b.Index = b.index[:n]
		b.Epoch, b.Pos = it.epoch, it.disp
		chunks := (n + l.chunk - 1) / l.chunk
		b.pending.Store(int32(chunks))
		it.ring[(it.head+it.n)%len(it.ring)] = b
		it.n++
		it.disp++
		for s := 0; s < n; s += l.chunk {
			it.jobs <- job{b, s, min(s+l.chunk, n)} // never blocks: capacity Prefetch·chunks
		}
	}
}

// Next returns the next batch of the epoch, io.EOF after the last one (the
// workers have then stopped), or
// the error that stopped the workers (ctx's error on cancellation). The time
// Next spends waiting for a batch that is not ready yet adds to Wait.
// Release each batch when done with it; a caller holding every buffer gets
// an error instead of a deadlock.
func (it *Iter) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.next >= it.l.nb {
		if err := it.stop(); err != nil {
			it.err = err
			return nil, err
		}
		return nil, io.EOF
	}
	it.dispatch()
	if it.n == 0 {
		it.err = fmt.Errorf("augment: all %d batch buffers are held by the caller; Release batches before calling Next", it.l.cfg.Prefetch+1)
		it.stop()
		return nil, it.err
	}
	b := it.ring[it.head]
	select {
	case <-b.done:
	default:
		t0 := time.Now()
		select {
		case <-b.done:
			it.wait += time.Since(t0)
		case <-it.gctx.Done():
			it.wait += time.Since(t0)
			it.err = it.stop()
			if it.err == nil {
				it.err = context.Cause(it.ctx)
			}
			if it.err == nil {
				it.err = errors.New("augment: iterator closed")
			}
			return nil, it.err
		}
	}
	it.ring[it.head] = nil
	it.head = (it.head + 1) % len(it.ring)
	it.n--
	it.next++
	it.dispatch()
	return b, nil
}

// Wait is the total time Next has spent waiting for data in this epoch.
func (it *Iter) Wait() time.Duration { return it.wait }

// Pos is the position of the batch the next call to Next returns.
func (it *Iter) Pos() int { return it.next }

// stop cancels and joins the workers and returns the batches in flight to
// the free list. It returns the first worker error.
func (it *Iter) stop() error {
	if it.stopped {
		return nil
	}
	it.stopped = true
	it.cancel()
	err := it.g.Wait()
	for ; it.n > 0; it.n-- {
		b := it.ring[it.head]
		it.ring[it.head] = nil
		it.head = (it.head + 1) % len(it.ring)
		select {
		case <-b.done:
		default:
		}
		it.l.Release(b)
	}
	it.l.mu.Lock()
	it.l.active = false
	it.l.mu.Unlock()
	return err
}

// Close stops the workers and waits for them; batches still held by the
// caller stay valid until released. It returns the first worker error, if
// Next has not returned it already. Close is idempotent.
func (it *Iter) Close() error {
	err := it.stop()
	if it.err == nil {
		it.err = errors.New("augment: iterator closed")
	}
	return err
}
