package augment

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// memDataset is an in-memory Dataset of random images.
type memDataset struct {
	shape  Shape
	pix    []uint8
	labels []int32
	delay  time.Duration // per Image call
	badRow int           // row whose image is one byte short; -1 for none
}

func newMem(n int, shape Shape, seed uint64) *memDataset {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &memDataset{shape: shape, pix: make([]uint8, n*shape.H*shape.W*shape.C), labels: make([]int32, n), badRow: -1}
	for i := range d.pix {
		d.pix[i] = uint8(r.UintN(256))
	}
	for i := range d.labels {
		d.labels[i] = int32(r.IntN(10))
	}
	return d
}

func (d *memDataset) Len() int { return len(d.labels) }
func (d *memDataset) Image(i int) []uint8 {
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
	sz := d.shape.H * d.shape.W * d.shape.C
	if i == d.badRow {
		return d.pix[i*sz : (i+1)*sz-1]
	}
	return d.pix[i*sz : (i+1)*sz]
}
func (d *memDataset) Label(i int) int32 { return d.labels[i] }

// epochBatches copies every batch of one epoch, starting at pos.
type batchCopy struct {
	n, pos int
	data   []float32
	labels []int32
	index  []int
}

func runEpoch(t *testing.T, l *Loader, epoch, pos int) []batchCopy {
	t.Helper()
	it, err := l.Start(context.Background(), epoch, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []batchCopy
	for {
		b, err := it.Next()
		if err == io.EOF {
			if err := it.Close(); err != nil {
				t.Fatalf("Close after the epoch: %v", err)
			}
			if _, err := it.Next(); err == nil {
				t.Fatal("Next after Close returned a batch")
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Epoch != epoch || b.Pos != pos+len(out) {
			t.Fatalf("got batch (epoch %d, pos %d), want (%d, %d)", b.Epoch, b.Pos, epoch, pos+len(out))
		}
		if len(b.Data) != b.N*b.C*b.H*b.W || len(b.Labels) != b.N || len(b.Index) != b.N {
			t.Fatalf("batch %d: N %d, %d values, %d labels, %d rows", b.Pos, b.N, len(b.Data), len(b.Labels), len(b.Index))
		}
		out = append(out, batchCopy{b.N, b.Pos, slices.Clone(b.Data), slices.Clone(b.Labels), slices.Clone(b.Index)})
		l.Release(b)
	}
	return out
}

func sameBatches(t *testing.T, got, want []batchCopy, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d batches, want %d", what, len(got), len(want))
	}
	for k := range got {
		g, w := got[k], want[k]
		if g.n != w.n || g.pos != w.pos || !slices.Equal(g.labels, w.labels) || !slices.Equal(g.index, w.index) {
			t.Fatalf("%s: batch %d: n %d pos %d rows %v, want n %d pos %d rows %v", what, k, g.n, g.pos, g.index, w.n, w.pos, w.index)
		}
		for i := range g.data {
			if math.Float32bits(g.data[i]) != math.Float32bits(w.data[i]) {
				t.Fatalf("%s: batch %d value %d: got %v, want %v", what, k, i, g.data[i], w.data[i])
			}
		}
	}
}

// refCrop is an independent, literal version of torchvision's
// flip → pad → crop → ToTensor → Normalize, written with a padded copy.
func refCrop(img []uint8, s Shape, pad, size int, p Params, mean, std []float64, outC int) []float32 {
	ph, pw := s.H+2*pad, s.W+2*pad
	padded := make([]uint8, ph*pw*s.C)
	for y := range s.H {
		for x := range s.W {
			sx := x
			if p.Flip {
				sx = s.W - 1 - x
			}
			for c := range s.C {
				padded[((y+pad)*pw+x+pad)*s.C+c] = img[(y*s.W+sx)*s.C+c]
			}
		}
	}
	out := make([]float32, outC*size*size)
	for k := range outC {
		c := min(k, s.C-1)
		m, sd := float32(mean[k%len(mean)]), float32(std[k%len(std)])
		for y := range size {
			for x := range size {
				v := float32(padded[((p.Top+y)*pw+p.Left+x)*s.C+c]) / 255
				out[(k*size+y)*size+x] = (v - m) / sd
			}
		}
	}
	return out
}

func cifarConfig(t *testing.T, workers, prefetch int) Config {
	return Config{
		Shape:     Shape{32, 32, 3},
		Transform: CropTransform(0, mustPreset(t, "cifar10")),
		BatchSize: 16, Shuffle: true, Seed: 42, Workers: workers, Prefetch: prefetch,
	}
}

func TestLoaderWorkerIndependenceAndReference(t *testing.T) {
	ds := newMem(100, Shape{32, 32, 3}, 1)
	var base [][]batchCopy
	for _, wp := range [][2]int{{1, 1}, {2, 2}, {7, 3}, {7, 1}} {
		l, err := NewLoader(ds, cifarConfig(t, wp[0], wp[1]))
		if err != nil {
			t.Fatal(err)
		}
		epochs := [][]batchCopy{runEpoch(t, l, 0, 0), runEpoch(t, l, 1, 0)}
		if base == nil {
			base = epochs
			continue
		}
		for e := range epochs {
			sameBatches(t, epochs[e], base[e], "workers/prefetch "+string(rune('0'+wp[0]))+"/"+string(rune('0'+wp[1])))
		}
	}
	// Every sample equals the literal reference with the drawn parameters.
	a, _ := NewAugmenter(CropTransform(0, mustPreset(t, "cifar10")), Shape{32, 32, 3})
	n := mustPreset(t, "cifar10")
	flips := 0
	for e, ep := range base {
		for _, b := range ep {
			for s, row := range b.index {
				p := a.Draw(42, e, row)
				if p.Flip {
					flips++
				}
				want := refCrop(ds.Image(row), Shape{32, 32, 3}, 4, 32, p, n.Mean, n.Std, 3)
				got := b.data[s*3072 : (s+1)*3072]
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("epoch %d row %d value %d: got %v, want %v (params %+v)", e, row, i, got[i], want[i], p)
					}
				}
				if b.labels[s] != ds.labels[row] {
					t.Fatalf("row %d: label %d, want %d", row, b.labels[s], ds.labels[row])
				}
			}
		}
	}
	if flips < 60 || flips > 140 { // 200 fair coins: mean 100, sd 7
		t.Errorf("%d of 200 samples flipped", flips)
	}
}

func TestLoaderEpochOrder(t *testing.T) {
	ds := newMem(37, Shape{4, 4, 1}, 2)
	for _, tc := range []struct {
		name            string
		shuffle, drop   bool
		batches, lastN  int
		wantInOrder     bool
		epochsDifferent bool
	}{
		{"shuffle", true, false, 5, 5, false, true},
		{"shuffle-droplast", true, true, 4, 8, false, true},
		{"ordered", false, false, 5, 5, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Shape: Shape{4, 4, 1}, Transform: TestTransform(mustPreset(t, "mnist")), BatchSize: 8,
				Shuffle: tc.shuffle, DropLast: tc.drop, Seed: 7, Workers: 2}
			l, err := NewLoader(ds, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if l.BatchesPerEpoch() != tc.batches {
				t.Fatalf("BatchesPerEpoch %d, want %d", l.BatchesPerEpoch(), tc.batches)
			}
			var rows [2][]int
			for e := range 2 {
				bs := runEpoch(t, l, e, 0)
				if len(bs) != tc.batches || bs[len(bs)-1].n != tc.lastN {
					t.Fatalf("epoch %d: %d batches, last of %d; want %d, last of %d", e, len(bs), bs[len(bs)-1].n, tc.batches, tc.lastN)
				}
				for _, b := range bs {
					rows[e] = append(rows[e], b.index...)
				}
			}
			for e := range 2 {
				sorted := slices.Sorted(slices.Values(rows[e]))
				if !tc.drop {
					for i, r := range sorted {
						if r != i {
							t.Fatalf("epoch %d visits rows %v, want each of 0..36 once", e, sorted)
						}
					}
				} else if len(slices.Compact(sorted)) != 32 {
					t.Fatalf("epoch %d: rows repeat: %v", e, sorted)
				}
				inOrder := slices.IsSorted(rows[e])
				if inOrder != tc.wantInOrder {
					t.Errorf("epoch %d in order: %v, want %v", e, inOrder, tc.wantInOrder)
				}
			}
			if diff := !slices.Equal(rows[0], rows[1]); diff != tc.epochsDifferent {
				t.Errorf("epochs differ: %v, want %v", diff, tc.epochsDifferent)
			}
		})
	}
}

func TestLoaderResume(t *testing.T) {
	ds := newMem(90, Shape{32, 32, 3}, 3)
	l, err := NewLoader(ds, cifarConfig(t, 3, 2))
	if err != nil {
		t.Fatal(err)
	}
	full := runEpoch(t, l, 4, 0)
	for _, k := range []int{1, 3, 5, 6} { // 6 batches per epoch; 6 = resume at the end
		sameBatches(t, runEpoch(t, l, 4, k), full[k:], "resume")
	}
	// Interrupt after 2 batches (Close mid-epoch), then resume: the union is the epoch.
	it, err := l.Start(context.Background(), 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []batchCopy
	for range 2 {
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, batchCopy{b.N, b.Pos, slices.Clone(b.Data), slices.Clone(b.Labels), slices.Clone(b.Index)})
		l.Release(b)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	got = append(got, runEpoch(t, l, 4, it.Pos())...)
	sameBatches(t, got, full, "interrupt+resume")
	if _, err := l.Start(context.Background(), 4, 7); err == nil {
		t.Error("start position past the epoch accepted")
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoaderCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := newMem(2000, Shape{32, 32, 3}, 4)
	ds.delay = time.Millisecond // 16 ms per batch per worker: the epoch takes seconds
	l, err := NewLoader(ds, cifarConfig(t, 4, 2))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	it, err := l.Start(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	l.Release(b)
	if it.Wait() <= 0 {
		t.Errorf("no data wait recorded for a batch that took milliseconds to build")
	}
	cancel()
	t0 := time.Now()
	var nextErr error
	for nextErr == nil { // at most the prefetched batches still come
		b, nextErr = it.Next()
		if nextErr == nil {
			l.Release(b)
		}
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Next took %v to notice the cancellation", el)
	}
	if !errors.Is(nextErr, context.Canceled) {
		t.Errorf("Next after cancel: %v, want context.Canceled", nextErr)
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitGoroutines(t, before)
	// The loader is reusable after a cancelled epoch.
	ds.delay = 0
	if bs := runEpoch(t, l, 0, 123); len(bs) != l.BatchesPerEpoch()-123 {
		t.Errorf("after cancel: %d batches, want %d", len(bs), l.BatchesPerEpoch()-123)
	}
	waitGoroutines(t, before)
}

func TestLoaderCloseMidEpochNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := newMem(500, Shape{28, 28, 1}, 5)
	cfg := Config{Shape: Shape{28, 28, 1}, Transform: CropTransform(0, mustPreset(t, "mnist")), BatchSize: 10, Shuffle: true, Workers: 7, Prefetch: 4}
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		it, err := l.Start(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Start(context.Background(), 1, 0); err == nil {
			t.Error("a second concurrent epoch was accepted")
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := it.Next(); err == nil {
			t.Error("Next after Close returned a batch")
		}
		l.Release(b) // releasing after Close is allowed
	}
	waitGoroutines(t, before)
	if l.allocated > cfg.Prefetch+1 {
		t.Errorf("%d buffers allocated, bound %d", l.allocated, cfg.Prefetch+1)
	}
}

func TestLoaderBoundedBuffers(t *testing.T) {
	ds := newMem(200, Shape{8, 8, 3}, 6)
	cfg := Config{Shape: Shape{8, 8, 3}, Transform: CropTransform(0, mustPreset(t, "cifar10")), BatchSize: 4, Shuffle: true, Workers: 3, Prefetch: 3}
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	it, err := l.Start(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var held []*Batch
	var err2 error
	for err2 == nil { // never release: the loader must refuse rather than allocate or hang
		var b *Batch
		b, err2 = it.Next()
		if err2 == nil {
			held = append(held, b)
		}
		if l.allocated > cfg.Prefetch+1 {
			t.Fatalf("%d buffers allocated, bound %d", l.allocated, cfg.Prefetch+1)
		}
	}
	if len(held) != cfg.Prefetch+1 || !strings.Contains(err2.Error(), "held by the caller") {
		t.Errorf("held %d batches, then %v; want %d then a held-buffers error", len(held), err2, cfg.Prefetch+1)
	}
	for _, b := range held {
		l.Release(b)
	}
	defer func() {
		if recover() == nil {
			t.Error("double Release did not panic")
		}
	}()
	l.Release(held[0])
}

func TestLoaderWorkerError(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := newMem(64, Shape{32, 32, 3}, 7)
	ds.badRow = 33
	l, err := NewLoader(ds, cifarConfig(t, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	it, err := l.Start(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		var b *Batch
		b, err = it.Next()
		if err == nil {
			l.Release(b)
		}
	}
	if err == io.EOF || !strings.Contains(err.Error(), "row 33") {
		t.Errorf("got %v, want an error naming row 33", err)
	}
	it.Close()
	waitGoroutines(t, before)
}

func TestLoaderSteadyStateAllocs(t *testing.T) {
	ds := newMem(4096, Shape{32, 32, 3}, 8)
	cfg := cifarConfig(t, 2, 2)
	cfg.BatchSize = 8
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	it, err := l.Start(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	allocs := testing.AllocsPerRun(200, func() {
		b, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		l.Release(b)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

func TestNewLoaderErrors(t *testing.T) {
	good := newMem(10, Shape{32, 32, 3}, 9)
	cifar := mustPreset(t, "cifar10")
	for _, tc := range []struct {
		name string
		ds   Dataset
		cfg  Config
		want string
	}{
		{"empty", newMem(0, Shape{32, 32, 3}, 1), Config{Shape: Shape{32, 32, 3}, Transform: TestTransform(cifar), BatchSize: 4}, "empty dataset"},
		{"batch", good, Config{Shape: Shape{32, 32, 3}, Transform: TestTransform(cifar), BatchSize: 0}, "batch size 0"},
		{"shape", good, Config{Shape: Shape{28, 28, 3}, Transform: TestTransform(cifar), BatchSize: 4}, "want 28×28×3"},
		{"channels", good, Config{Shape: Shape{32, 32, 2}, Transform: TestTransform(cifar), BatchSize: 4}, "C 1 or 3"},
		{"norm-grey", newMem(4, Shape{28, 28, 1}, 1), Config{Shape: Shape{28, 28, 1}, Transform: TestTransform(cifar), BatchSize: 4}, "replicate"},
		{"test-resize", good, Config{Shape: Shape{32, 32, 3}, Transform: Transform{Kind: KindTest, Size: 24, Norm: cifar}, BatchSize: 4}, "does not resize"},
		{"crop-too-big", good, Config{Shape: Shape{32, 32, 3}, Transform: CropTransform(48, cifar), BatchSize: 4}, "larger than the padded"},
		{"rrc-size", good, Config{Shape: Shape{32, 32, 3}, Transform: ResizedCropTransform(0, cifar), BatchSize: 4}, "needs an output size"},
		{"droplast", good, Config{Shape: Shape{32, 32, 3}, Transform: TestTransform(cifar), BatchSize: 11, DropLast: true}, "no full batch"},
		{"3to1", good, Config{Shape: Shape{32, 32, 3}, Transform: Transform{Kind: KindTest, Norm: cifar, OutChannels: 1}, BatchSize: 4}, "replication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLoader(tc.ds, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "augment: ") {
				t.Errorf("got %v, want an augment error containing %q", err, tc.want)
			}
		})
	}
}

// Worker independence for the other transforms, and every sample equal to
// the single-sample Augmenter (whose outputs the golden tests tie to
// torchvision).
func TestLoaderOtherTransforms(t *testing.T) {
	imagenet, mnist := mustPreset(t, "imagenet"), mustPreset(t, "mnist")
	grey3 := CropTransform(0, mnist)
	grey3.OutChannels = 3
	noflip := ResizedCropTransform(24, imagenet)
	noflip.NoFlip = true
	for _, tc := range []struct {
		name  string
		shape Shape
		tr    Transform
	}{
		{"resized-crop", Shape{40, 48, 3}, ResizedCropTransform(32, imagenet)},
		{"resized-crop-noflip", Shape{40, 48, 3}, noflip},
		{"grey-to-3", Shape{28, 28, 1}, grey3},
		{"test", Shape{20, 20, 3}, TestTransform(imagenet)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newMem(45, tc.shape, 11)
			var base []batchCopy
			for _, w := range []int{1, 2, 7} {
				l, err := NewLoader(ds, Config{Shape: tc.shape, Transform: tc.tr, BatchSize: 8, Shuffle: true, Seed: 5, Workers: w})
				if err != nil {
					t.Fatal(err)
				}
				got := runEpoch(t, l, 2, 0)
				if base == nil {
					base = got
					continue
				}
				sameBatches(t, got, base, tc.name)
			}
			a, err := NewAugmenter(tc.tr, tc.shape)
			if err != nil {
				t.Fatal(err)
			}
			c, h, w := a.OutShape()
			want := make([]float32, c*h*w)
			for _, b := range base {
				for s, row := range b.index {
					if err := a.Apply(want, ds.Image(row), a.Draw(5, 2, row)); err != nil {
						t.Fatal(err)
					}
					sameBatches(t, []batchCopy{{1, 0, b.data[s*c*h*w : (s+1)*c*h*w], nil, nil}},
						[]batchCopy{{1, 0, want, nil, nil}}, tc.name+" sample")
				}
			}
		})
	}
}
