package features

import (
	"context"
	"fmt"
	"math"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Network is what extraction needs from a trained classifier, in eval mode
// (BatchNorm with running statistics, no dropout).
//
// Forward runs the n samples x (n×C×H×W float32, NCHW, test-transformed) and
// writes into the caller's slices:
//
//	feature    n×Dim         f, the penultimate feature (after global pooling)
//	logits     n×NumClasses  the training forward: W·f/max(‖f‖,1e-12)/τ + b (T2FNorm), W·f + b (linear)
//	logitsOOD  n×NumClasses  the OOD-inference forward: W·f/τ + b (T2FNorm), W·f + b (linear)
//
// Forward may keep x only for the duration of the call. Extract calls it from
// Options.Workers goroutines at once; with Workers > 1 (the default is 1) it
// must be safe for concurrent use, which in practice means one model
// instance per goroutine or a model whose forward keeps no per-call state in
// the model.
type Network interface {
	InputShape() (c, h, w int)
	Dim() int
	NumClasses() int
	Forward(x []float32, n int, feature, logits, logitsOOD []float32) error
}

// Source yields test-transformed samples of one dataset split in a fixed
// order.
//
// Load fills x (n×C×H×W float32, NCHW, n = len(ids) = len(labels)) with the
// samples of rows [start, start+n), and ids and labels with their sample ids
// and labels (−1 for OOD). Extract calls Load from one goroutine at a time,
// in increasing start order.
type Source interface {
	Len() int
	Shape() (c, h, w int)
	Load(start int, x []float32, ids []int64, labels []int32) error
}

// Options configure Extract, ExtractTo and ExtractFile.
type Options struct {
	// BatchSize is the number of samples per Forward call. Default 128.
	BatchSize int
	// Workers is the number of batches in Forward at once. Default 1. Loading
	// (the test transform) always runs on its own goroutine, one batch ahead,
	// so with Workers = 1 loading and the forward pass overlap.
	Workers int
	// Meta is copied into the rows produced (Table.Meta, the file metadata).
	Meta Meta
	// Progress, if set, is called after each batch, in order, with the number
	// of samples done and the total. It runs on the caller's goroutine of
	// Extract and must not block for long.
	Progress func(done, total int)
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 128
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	return o
}

// Extract runs net over every sample of src and returns the rows in src's
// order: the network's outputs plus feature_normalized =
// f/max(‖f‖₂, 1e-12) (float32 division, as PyTorch's F.normalize),
// feature_norm = ‖f‖₂ (summed in float64) and pred = the first index of the
// largest training-forward logit. A non-finite network output is an error
// naming the sample.
func Extract(ctx context.Context, net Network, src Source, opts Options) (*Table, error) {
	n := src.Len()
	d, c := net.Dim(), net.NumClasses()
	t := &Table{
		Meta: opts.Meta, Dim: d, NumClasses: c,
		IDs: make([]int64, 0, n), Labels: make([]int32, 0, n), Preds: make([]int32, 0, n),
		Feature: make([]float32, 0, n*d), FeatureNormalized: make([]float32, 0, n*d), FeatureNorm: make([]float32, 0, n),
		Logits: make([]float32, 0, n*c), LogitsOOD: make([]float32, 0, n*c),
	}
	err := extract(ctx, net, src, opts, func(b *Table) error {
		t.appendRows(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ExtractTo is Extract writing the rows to w batch by batch instead of
// holding them; memory stays a few batches whatever the split's size. The
// caller closes w (or aborts it on error).
func ExtractTo(ctx context.Context, net Network, src Source, opts Options, w *Writer) error {
	return extract(ctx, net, src, opts, w.Write)
}

// ExtractFile is ExtractTo into a new feature file at path with metadata
// opts.Meta, written atomically: on error nothing is left at path.
func ExtractFile(ctx context.Context, net Network, src Source, opts Options, path string, fileOpts ...Option) error {
	w, err := NewWriter(path, opts.Meta, net.Dim(), net.NumClasses(), fileOpts...)
	if err != nil {
		return err
	}
	if err := ExtractTo(ctx, net, src, opts, w); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// batch is one batch's buffers.
type batch struct {
	index, start, n int
	x               []float32 // BatchSize×C×H×W
	rows            Table     // BatchSize rows
}

// extract runs the pipeline loader → Workers forward goroutines → emit, in
// source order, on the caller's goroutine. Each stage owns its goroutines;
// the first error (or ctx) stops them all.
func extract(ctx context.Context, net Network, src Source, opts Options, emit func(*Table) error) error {
	opts = opts.withDefaults()
	nc, nh, nw := net.InputShape()
	sc, sh, sw := src.Shape()
	if nc != sc || nh != sh || nw != sw {
		return fmt.Errorf("features: source images are [N %d %d %d], the network wants [N %d %d %d]", sc, sh, sw, nc, nh, nw)
	}
	d, c, per := net.Dim(), net.NumClasses(), nc*nh*nw
	if d < 1 || c < 1 || per < 1 {
		return fmt.Errorf("features: network has dim %d, %d classes, input [%d %d %d]; want all ≥ 1", d, c, nc, nh, nw)
	}
	total, bs := src.Len(), opts.BatchSize
	nbatches := (total + bs - 1) / bs
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	if nbatches == 0 {
		return ctx.Err()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	nbuf := opts.Workers + 2
	free := make(chan *batch, nbuf)
	for range nbuf {
		free <- &batch{
			x: make([]float32, bs*per),
			rows: Table{Meta: opts.Meta, Dim: d, NumClasses: c,
				IDs: make([]int64, bs), Labels: make([]int32, bs), Preds: make([]int32, bs),
				Feature: make([]float32, bs*d), FeatureNormalized: make([]float32, bs*d), FeatureNorm: make([]float32, bs),
				Logits: make([]float32, bs*c), LogitsOOD: make([]float32, bs*c)},
		}
	}
	loaded := make(chan *batch, nbuf)
	done := make(chan *batch, nbuf)

	g.Go(func() error { // loader
		defer close(loaded)
		for k := range nbatches {
			var b *batch
			select {
			case b = <-free:
			case <-gctx.Done():
				return gctx.Err()
			}
			b.index, b.start, b.n = k, k*bs, min(bs, total-k*bs)
			if err := src.Load(b.start, b.x[:b.n*per], b.rows.IDs[:b.n], b.rows.Labels[:b.n]); err != nil {
				return fmt.Errorf("features: load rows %d..%d: %w", b.start, b.start+b.n-1, err)
			}
			select {
			case loaded <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var workers sync.WaitGroup
	for range opts.Workers {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for b := range loaded {
				if err := forward(net, b, per); err != nil {
					return err
				}
				select {
				case done <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { // done is closed once no worker can send on it
		workers.Wait()
		close(done)
	}()

	var (
		pending = map[int]*batch{}
		next    int
		emitErr error
	)
	for b := range done {
		if emitErr != nil {
			continue // drain so the workers can finish
		}
		pending[b.index] = b
		for p, ok := pending[next]; ok; p, ok = pending[next] {
			delete(pending, next)
			if emitErr = emit(p.rows.Slice(0, p.n)); emitErr != nil {
				cancel()
				break
			}
			next++
			if opts.Progress != nil {
				opts.Progress(min(next*bs, total), total)
			}
			free <- p
		}
	}
	gerr := g.Wait()
	switch {
	case emitErr != nil:
		return emitErr
	case gerr != nil:
		return gerr
	case next != nbatches:
		return fmt.Errorf("features: internal error: emitted %d of %d batches", next, nbatches)
	}
	return nil
}

// forward runs the network on b and derives the normalised feature, the
// norm and the prediction.
func forward(net Network, b *batch, per int) error {
	d, c, n := b.rows.Dim, b.rows.NumClasses, b.n
	r := &b.rows
	f, lg, lo := r.Feature[:n*d], r.Logits[:n*c], r.LogitsOOD[:n*c]
	if err := net.Forward(b.x[:n*per], n, f, lg, lo); err != nil {
		return fmt.Errorf("features: forward rows %d..%d: %w", b.start, b.start+n-1, err)
	}
	for i := range n {
		fi, li, oi := f[i*d:(i+1)*d], lg[i*c:(i+1)*c], lo[i*c:(i+1)*c]
		for _, s := range []struct {
			name string
			v    []float32
		}{{colFeature, fi}, {colLogits, li}, {colLogitsOOD, oi}} {
			if j := firstNonFinite(s.v); j >= 0 {
				return fmt.Errorf("features: row %d (id %d): the network's %s[%d] is %v; is the checkpoint diverged?",
					b.start+i, r.IDs[i], s.name, j, s.v[j])
			}
		}
		r.deriveRow(i)
	}
	return nil
}

// deriveRow fills row i's feature_norm (‖f‖₂ summed in float64),
// feature_normalized (f/max(‖f‖₂, 1e-12) in float32, as F.normalize) and
// pred (the first maximum of logits) from its feature and logits.
func (t *Table) deriveRow(i int) {
	d, c := t.Dim, t.NumClasses
	f := t.Feature[i*d : (i+1)*d]
	var ss float64
	for _, v := range f {
		ss += float64(v) * float64(v)
	}
	norm := float32(math.Sqrt(ss))
	t.FeatureNorm[i] = norm
	den := max(norm, 1e-12)
	fn := t.FeatureNormalized[i*d : (i+1)*d]
	for j, v := range f {
		fn[j] = v / den
	}
	li := t.Logits[i*c : (i+1)*c]
	best := 0
	for j, v := range li {
		if v > li[best] {
			best = j
		}
	}
	t.Preds[i] = int32(best)
}
