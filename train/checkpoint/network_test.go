package checkpoint

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// chunked is a Network whose gradient passes hold at most gb images.
type chunked struct {
	Network
	gb int
}

func (c chunked) GradBatch() int { return c.gb }

type memSource struct {
	x    []float32
	n    int
	c, s int
}

func (m memSource) Len() int             { return m.n }
func (m memSource) Shape() (c, h, w int) { return m.c, m.s, m.s }
func (m memSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	per := m.c * m.s * m.s
	copy(x, m.x[start*per:(start+len(ids))*per])
	for i := range ids {
		ids[i], labels[i] = int64(start+i), 0
	}
	return nil
}

// TestGradChunks: the gradient methods (odin, iodin, adascale,
// mds_ensemble) give the same columns, bit for bit, when their batches run
// in chunks of GradBatch images (here 3 of a batch of 8, and a last batch
// of 2), and GradBatch bounds a gradient pass of ResNet-50 at 224×224 to a
// few dozen images and leaves ResNet18_32x32's batches whole.
func TestGradChunks(t *testing.T) {
	m, err := nn.New(cpu.New(2), nn.Config{Arch: nn.ArchResNet18_32, Width: 1.0 / 8, ImageSize: 16, Classes: 5, Head: nn.HeadT2FNorm}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	src := memSource{n: 10, c: 3, s: 16, x: make([]float32, 10*3*16*16)}
	for i := range src.x {
		src.x[i] = float32(r.NormFloat64())
	}
	c, _, _, err := Network{Model: m}.StageShape(0)
	if err != nil {
		t.Fatal(err)
	}
	mds := &features.MDSStats{Dim: c, Classes: 5, Means: make([]float64, 5*c), Precision: make([]float64, c*c)}
	for i := range mds.Means {
		mds.Means[i] = r.NormFloat64() * 0.1
	}
	for i := range c {
		mds.Precision[i*c+i] = 1
	}
	spec := features.ExtraSpec{Methods: []string{features.ExtraODIN, features.ExtraIODIN, features.ExtraAdaScaleA, features.ExtraMDSEns},
		InputStd: []float64{0.25, 0.25, 0.25}, MDS: mds}
	opts := features.Options{BatchSize: 8}
	whole, err := features.ComputeExtra(context.Background(), Network{Model: m}, src, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := features.ComputeExtra(context.Background(), chunked{Network{Model: m}, 3}, src, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range whole.Columns {
		w, p := whole.Values[col.Name], parts.Values[col.Name]
		if len(w) != src.n*col.Width || !slices.EqualFunc(w, p, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%s: chunks of 3 give %v, whole batches %v", col.Name, p, w)
		}
	}
	r50, err := nn.New(cpu.New(1), nn.Config{Arch: nn.ArchResNet50, Classes: 1000}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if gb := (Network{Model: r50}).GradBatch(); gb < 8 || gb > 64 {
		t.Errorf("ResNet-50 224×224: GradBatch %d, want a few dozen images (about 1 GiB)", gb)
	}
	r18, err := nn.New(cpu.New(1), nn.Config{Arch: nn.ArchResNet18_32, Classes: 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if gb := (Network{Model: r18}).GradBatch(); gb < 200 {
		t.Errorf("ResNet18_32x32: GradBatch %d, want a whole batch of 200 (OpenOOD's)", gb)
	}
	t.Logf("GradBatch: ResNet-50 224×224 %d, ResNet18_32x32 %d", Network{Model: r50}.GradBatch(), Network{Model: r18}.GradBatch())
}
