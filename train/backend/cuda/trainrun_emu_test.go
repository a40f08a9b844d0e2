//go:build cudaemu && !cuda

package cuda

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// memSet is an in-memory augment.Dataset of side×side grey images.
type memSet struct {
	img    [][]uint8
	labels []int32
}

func (m *memSet) Len() int            { return len(m.img) }
func (m *memSet) Image(i int) []uint8 { return m.img[i] }
func (m *memSet) Label(i int) int32   { return m.labels[i] }
func newMemSet(r *rand.Rand, n, side int) *memSet {
	m := &memSet{}
	for i := range n {
		l := int32(i % 3)
		im := make([]uint8, side*side)
		for p := range im { // a class-dependent band plus noise
			v := r.IntN(60)
			if (p/side)*3/side == int(l) {
				v += 150
			}
			im[p] = uint8(v)
		}
		m.img, m.labels = append(m.img, im), append(m.labels, l)
	}
	return m
}

// The trainer (train.Run: augmentation loader, uploads through the pinned
// staging buffers, a partial last batch and the validation batch size, which
// reallocate the activations, checkpoints downloaded at every epoch) on the
// emulated device follows the CPU backend.
func TestEmuTrainRunMatchesCPU(t *testing.T) {
	for _, tc := range []struct {
		model string
		side  int
	}{{"lenet", 28}, {"small_resnet", 10}} {
		t.Run(tc.model, func(t *testing.T) { checkTrainRun(t, tc.model, tc.side) })
	}
}

// checkTrainRun: two epochs on both backends; the validation feature norm
// may differ by 3e-3 relative (eval-mode BatchNorm with small running
// variances amplifies the rounding differences of 12 momentum steps).
func checkTrainRun(t *testing.T, model string, side int) {
	r := rand.New(rand.NewPCG(1, 1))
	shape := augment.Shape{H: side, W: side, C: 1}
	trainSet := train.Split{Name: "mem-train", Dataset: "mnist", Data: newMemSet(r, 44, side), Shape: shape, Classes: 3}
	valSet := train.Split{Name: "mem-val", Dataset: "mnist", Data: newMemSet(r, 13, side), Shape: shape, Classes: 3}
	cfg := train.Defaults()
	cfg.Model, cfg.Head, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Workers = model, "t2fnorm", 2, 8, 0.05, 2
	run := func(be backend.Backend, dir string) ([]train.EpochRecord, *safetensors.File) {
		t.Helper()
		var recs []train.EpochRecord
		if _, err := train.Run(context.Background(), cfg, trainSet, valSet, dir, train.Options{
			Backend: be, Hooks: train.Hooks{Epoch: func(e train.EpochRecord) { recs = append(recs, e) }},
		}); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Read(filepath.Join(dir, train.LastFile))
		if err != nil {
			t.Fatal(err)
		}
		return recs, f
	}
	wantRecs, wantCkpt := run(cpu.New(1), filepath.Join(t.TempDir(), "cpu"))
	gotRecs, gotCkpt := run(emuBackend(t, Options{GEMM: GEMMPTX}, 3, 0), filepath.Join(t.TempDir(), "emu"))
	if len(gotRecs) != len(wantRecs) {
		t.Fatalf("%d epochs, cpu %d", len(gotRecs), len(wantRecs))
	}
	for i := range wantRecs {
		g, w := gotRecs[i], wantRecs[i]
		if math.Abs(g.TrainLoss-w.TrainLoss) > 1e-4*math.Max(1, w.TrainLoss) || g.TrainAcc != w.TrainAcc || g.ValAcc != w.ValAcc ||
			math.Abs(g.ValFeatureNorm-w.ValFeatureNorm) > 3e-3*w.ValFeatureNorm {
			t.Fatalf("epoch %d: loss %v acc %v val %v ‖f‖ %v; cpu loss %v acc %v val %v ‖f‖ %v",
				i+1, g.TrainLoss, g.TrainAcc, g.ValAcc, g.ValFeatureNorm, w.TrainLoss, w.TrainAcc, w.ValAcc, w.ValFeatureNorm)
		}
	}
	if gotCkpt.Len() != wantCkpt.Len() || wantCkpt.Len() == 0 {
		t.Fatalf("checkpoint holds %d tensors, cpu %d", gotCkpt.Len(), wantCkpt.Len())
	}
	floats := 0
	for _, w := range wantCkpt.Tensors() {
		g, err := gotCkpt.Tensor(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if w.DType != "F32" {
			continue
		}
		wv, err := w.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		gv, err := g.Float32s()
		if err != nil || len(gv) != len(wv) {
			t.Fatalf("%s: %d values (%v), cpu %d", w.Name, len(gv), err, len(wv))
		}
		for j := range wv {
			if math.Abs(float64(gv[j]-wv[j])) > 1e-4+1e-3*math.Abs(float64(wv[j])) {
				t.Fatalf("%s[%d] = %v, cpu %v", w.Name, j, gv[j], wv[j])
			}
		}
		floats++
	}
	if floats < 10 {
		t.Fatalf("only %d float32 tensors compared", floats)
	}
}
