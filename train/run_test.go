package train

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// toyData is a two-class 28×28 grey dataset: class 0 is bright in the top
// half, class 1 in the bottom half, both with seeded noise.
type toyData struct {
	images [][]uint8
	labels []int32
}

func newToyData(n int, seed uint64) *toyData {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &toyData{}
	for i := range n {
		img := make([]uint8, 28*28)
		c := int32(i % 2)
		for p := range img {
			v := rng.IntN(80)
			if (p < 28*14) == (c == 0) {
				v += 150
			}
			img[p] = uint8(v)
		}
		d.images = append(d.images, img)
		d.labels = append(d.labels, c)
	}
	return d
}

func (d *toyData) Len() int            { return len(d.images) }
func (d *toyData) Image(i int) []uint8 { return d.images[i] }
func (d *toyData) Label(i int) int32   { return d.labels[i] }
func split(name string, d *toyData) Split {
	return Split{Name: name, Data: d, Shape: augment.Shape{H: 28, W: 28, C: 1}, Classes: 2}
}

func toyConfig() Config {
	c := Defaults()
	c.Model, c.Head, c.Normalization = "lenet", "t2fnorm", "mnist"
	c.Epochs, c.BatchSize, c.LR = 3, 16, 0.05
	c.Workers, c.Threads = 2, 1
	return c
}

func runToy(t *testing.T, cfg Config, dir string, resume bool, stopAt int) (Summary, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooks := Hooks{Step: func(p Progress) {
		if p.Step == stopAt {
			cancel()
		}
	}}
	return Run(ctx, cfg, split("toy-train", newToyData(96, 1)), split("toy-val", newToyData(40, 2)), dir,
		Options{Backend: toyBackend(t, cfg), Resume: resume, Hooks: hooks})
}

// tensorsOf reads a checkpoint's tensors by name.
func tensorsOf(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, n := range f.Names() {
		tt, _ := f.Tensor(n)
		m[n] = tt.Data
	}
	return m
}

func sameTensors(t *testing.T, a, b string) {
	t.Helper()
	ta, tb := tensorsOf(t, a), tensorsOf(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%s has %d tensors, %s has %d", a, len(ta), b, len(tb))
	}
	for n, v := range ta {
		if !bytes.Equal(v, tb[n]) {
			t.Errorf("tensor %s differs between %s and %s", n, a, b)
		}
	}
}

func TestInterruptAndResumeEqualsUninterrupted(t *testing.T) {
	cfg := toyConfig()
	whole := t.TempDir()
	sum, err := runToy(t, cfg, whole, false, -1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 3 || sum.Steps != 18 {
		t.Fatalf("summary %+v, want 3 epochs of 6 steps", sum)
	}
	if sum.LastValAcc < 0.9 {
		t.Errorf("validation accuracy %.3f on a separable toy set, want ≥ 0.9", sum.LastValAcc)
	}

	parts := t.TempDir()
	// Stop mid-epoch 1, then mid-epoch 3 (after a finished epoch), then finish.
	for i, stop := range []int{4, 15, -1} {
		_, err := runToy(t, cfg, parts, i > 0, stop)
		if stop > 0 {
			if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("run stopped at step %d: error %v, want ErrInterrupted wrapping context.Canceled", stop, err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	sameTensors(t, filepath.Join(whole, LastFile), filepath.Join(parts, LastFile))
	sameTensors(t, filepath.Join(whole, BestFile), filepath.Join(parts, BestFile))
	sameTensors(t, filepath.Join(whole, StateFile), filepath.Join(parts, StateFile))
	la, _ := readEpochLog(filepath.Join(whole, EpochsFile))
	lb, _ := readEpochLog(filepath.Join(parts, EpochsFile))
	if len(la) != 3 || len(lb) != 3 {
		t.Fatalf("epoch logs have %d and %d rows, want 3", len(la), len(lb))
	}
	for i := range la {
		if la[i].TrainLoss != lb[i].TrainLoss || la[i].ValAcc != lb[i].ValAcc || la[i].Step != lb[i].Step || la[i].LR != lb[i].LR {
			t.Errorf("epoch %d: uninterrupted %+v, resumed %+v", i+1, la[i], lb[i])
		}
	}
	if lb[0].ResumedAtBatch != 4 || lb[2].ResumedAtBatch != 3 {
		t.Errorf("resumed_at_batch %d, %d; want 4, 3", lb[0].ResumedAtBatch, lb[2].ResumedAtBatch)
	}
	noTempFiles(t, parts)
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestWorkerCountDoesNotChangeWeights(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 1
	a, b := t.TempDir(), t.TempDir()
	cfg.Workers = 1
	if _, err := runToy(t, cfg, a, false, -1); err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 3
	if _, err := runToy(t, cfg, b, false, -1); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, filepath.Join(a, LastFile), filepath.Join(b, LastFile))
}

func TestCosineSchedule(t *testing.T) {
	c := Defaults()
	if got := c.StepLR(0, 100, 0); got != 0.1 {
		t.Errorf("lr(0) = %v, want lr0 = 0.1", got)
	}
	if got := c.StepLR(50, 100, 0); abs(got-(1e-6+(0.1-1e-6)*0.5)) > 1e-15 {
		t.Errorf("lr(S/2) = %v, want the midpoint", got)
	}
	if got := c.StepLR(100, 100, 0); abs(got-1e-6) > 1e-18 {
		t.Errorf("lr(S) = %v, want min_lr 1e-6", got)
	}
	if got := c.StepLR(4, 100, 10); abs(got-0.05) > 1e-15 {
		t.Errorf("warm-up lr(4 of 10) = %v, want 0.05", got)
	}
}

func abs(v float64) float64 { return max(v, -v) }

func TestRefusesBadRunsAndData(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 1
	done := t.TempDir()
	if _, err := runToy(t, cfg, done, false, -1); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LR = 0.2
	bad := toyData{images: [][]uint8{make([]uint8, 784), make([]uint8, 784)}, labels: []int32{0, 5}}
	cases := []struct {
		name       string
		run        func() error
		wantSubstr string
	}{
		{"existing run without resume", func() error { _, err := runToy(t, cfg, done, false, -1); return err }, "already holds a run"},
		{"resume with other settings", func() error { _, err := runToy(t, other, done, true, -1); return err }, "different run"},
		{"resume of nothing", func() error { _, err := runToy(t, cfg, t.TempDir(), true, -1); return err }, "no run to resume"},
		{"label outside classes", func() error {
			_, err := Run(context.Background(), cfg, split("bad", &bad), split("val", newToyData(4, 1)), t.TempDir(), Options{Backend: cpu.New(1)})
			return err
		}, "split bad row 1 has label 5"},
		{"empty split", func() error {
			_, err := Run(context.Background(), cfg, split("empty", &toyData{}), split("val", newToyData(4, 1)), t.TempDir(), Options{Backend: cpu.New(1)})
			return err
		}, "split empty is empty"},
		{"image size vs model", func() error {
			s := split("big", newToyData(4, 1))
			s.Shape = augment.Shape{H: 14, W: 56, C: 1}
			_, err := Run(context.Background(), cfg, s, s, t.TempDir(), Options{Backend: cpu.New(1)})
			return err
		}, "square"},
		{"lenet on 32×32", func() error {
			d := &toyData{images: [][]uint8{make([]uint8, 1024), make([]uint8, 1024)}, labels: []int32{0, 1}}
			s := Split{Name: "cifar-like", Data: d, Shape: augment.Shape{H: 32, W: 32, C: 1}, Classes: 2}
			_, err := Run(context.Background(), cfg, s, s, t.TempDir(), Options{Backend: cpu.New(1)})
			return err
		}, "28×28"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.wantSubstr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantSubstr)
			}
		})
	}
}

func TestDivergenceStopsWithoutSavingBadWeights(t *testing.T) {
	cfg := toyConfig()
	cfg.LR, cfg.MinLR = 1e30, 0
	dir := t.TempDir()
	_, err := runToy(t, cfg, dir, false, -1)
	if err == nil || !strings.Contains(err.Error(), "training stopped") {
		t.Fatalf("error %v, want a divergence error naming the step", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, LastFile)); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("last.safetensors written by a diverged run (stat error %v)", statErr)
	}
	if !errors.Is(err, nn.ErrDiverged) {
		t.Errorf("error %v does not wrap nn.ErrDiverged", err)
	}
	d, ok, rerr := ReadDivergence(dir)
	if rerr != nil || !ok {
		t.Fatalf("ReadDivergence = %v, %v; want the run's %s", ok, rerr, DivergedFile)
	}
	if d.Epoch != 1 || d.Step < 1 || d.LastGoodStep != 0 || !strings.Contains(d.Error, "diverged") {
		t.Errorf("divergence %+v; want epoch 1, a step, no good step and the error", d)
	}
}

// A run that stops for any other reason leaves no DivergedFile, and one
// that resumes removes a stale one.
func TestDivergedFileOnlyForDivergence(t *testing.T) {
	dir := t.TempDir()
	if _, err := runToy(t, toyConfig(), dir, false, 2); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %v, want an interruption", err)
	}
	if _, ok, err := ReadDivergence(dir); ok || err != nil {
		t.Fatalf("interrupted run: ReadDivergence = %v, %v; want no divergence", ok, err)
	}
	stale := []byte(`{"epoch": 1, "step": 3, "last_good_step": 0, "error": "old"}`)
	if err := os.WriteFile(filepath.Join(dir, DivergedFile), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runToy(t, toyConfig(), dir, true, -1); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ReadDivergence(dir); ok || err != nil {
		t.Fatalf("resumed run: ReadDivergence = %v, %v; want the stale file gone", ok, err)
	}
}

func TestReadDivergenceRefusesBadFiles(t *testing.T) {
	for name, content := range map[string]string{
		"not json":       "{epoch",
		"no step":        `{"epoch": 1, "step": 0, "last_good_step": 0}`,
		"good after bad": `{"epoch": 2, "step": 5, "last_good_step": 9}`,
		"too large":      `{"error": "` + strings.Repeat("x", maxDivergedBytes) + `"}`,
		"negative epoch": `{"epoch": -1, "step": 5, "last_good_step": 0}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, DivergedFile), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, ok, err := ReadDivergence(dir)
			if ok || err == nil || !strings.Contains(err.Error(), DivergedFile) {
				t.Fatalf("ReadDivergence = %v, %v; want an error naming %s", ok, err, DivergedFile)
			}
		})
	}
}

func TestConfigFileRejectsUnknownKeys(t *testing.T) {
	if _, err := ParseConfig([]byte("epochs: 3\nlearning_rate: 0.1\n"), "c.yaml"); err == nil || !strings.Contains(err.Error(), "learning_rate") {
		t.Fatalf("error %v, want one naming the unknown key", err)
	}
	c, err := ParseConfig([]byte("epochs: 3\nhead: linear\n"), "c.yaml")
	if err != nil || c.Epochs != 3 || c.Head != "linear" || c.LR != 0.1 {
		t.Fatalf("ParseConfig = %+v, %v; want epochs 3, head linear, default lr", c, err)
	}
}
