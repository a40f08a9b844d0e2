package train

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// toyOutliers is n 28×28 grey noise images labelled −1.
func toyOutliers(n int, seed uint64) *toyData {
	rng := rand.New(rand.NewPCG(seed, 2))
	d := &toyData{}
	for range n {
		img := make([]uint8, 28*28)
		for p := range img {
			img[p] = uint8(rng.IntN(256))
		}
		d.images = append(d.images, img)
		d.labels = append(d.labels, nn.LabelOutlier)
	}
	return d
}

func methodConfig(t *testing.T, method string) Config {
	t.Helper()
	c := toyConfig()
	if err := c.SetMethod(method); err != nil {
		t.Fatal(err)
	}
	if c.Loss == LossLogitNorm {
		// LogitNorm's gradient grows as 1/(‖z‖·τ): LeNet (no BatchNorm)
		// starting from near-zero logits needs a gentler start.
		c.LR, c.WarmupEpochs = 0.01, 1
	}
	if c.Loss == LossOE {
		// 20 outliers in batches of 8: passes of 3 batches (the last of 4),
		// two passes per 6-batch training epoch.
		c.Outliers, c.OutlierBatchSize = "toy-outliers", 8
	}
	return c
}

func runMethodToy(t *testing.T, cfg Config, dir string, resume bool, stopAt int) (Summary, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooks := Hooks{Step: func(p Progress) {
		if p.Step == stopAt {
			cancel()
		}
	}}
	out := split("toy-outliers", toyOutliers(20, 3))
	out.Classes = 0
	return Run(ctx, cfg, split("toy-train", newToyData(96, 1)), split("toy-val", newToyData(40, 2)), dir,
		Options{Backend: cpu.New(cfg.Threads), Resume: resume, Hooks: hooks, Outliers: &out})
}

// TestMethodsResumeBitIdentical interrupts every method mid-epoch, at an
// outlier pass boundary and after a finished epoch, and checks the resumed
// run ends with exactly the weights, optimiser state and log of an
// uninterrupted one; the checkpoints name the method.
func TestMethodsResumeBitIdentical(t *testing.T) {
	for _, method := range []string{MethodLogitNorm, MethodOE, MethodT2FNormOE} {
		t.Run(method, func(t *testing.T) {
			cfg := methodConfig(t, method)
			whole := t.TempDir()
			sum, err := runMethodToy(t, cfg, whole, false, -1)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Steps != 18 || sum.LastValAcc < 0.9 {
				t.Errorf("summary %+v, want 18 steps and ≥ 90%% validation accuracy on the separable toy set", sum)
			}
			parts := t.TempDir()
			// Epoch 1 batch 4 (outlier pass 1, batch 1), epoch 2 batch 3
			// (pass 1 at its start), epoch 3 batch 2 (pass 0, batch 2).
			for i, stop := range []int{4, 9, 14, -1} {
				_, err := runMethodToy(t, cfg, parts, i > 0, stop)
				if stop > 0 && !errors.Is(err, ErrInterrupted) {
					t.Fatalf("run stopped at step %d: error %v, want ErrInterrupted", stop, err)
				} else if stop < 0 && err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{LastFile, BestFile, StateFile} {
				sameTensors(t, filepath.Join(whole, f), filepath.Join(parts, f))
			}
			la, _ := readEpochLog(filepath.Join(whole, EpochsFile))
			lb, _ := readEpochLog(filepath.Join(parts, EpochsFile))
			for i := range la {
				if la[i].TrainLoss != lb[i].TrainLoss || la[i].ValAcc != lb[i].ValAcc {
					t.Errorf("epoch %d: uninterrupted %+v, resumed %+v", i+1, la[i], lb[i])
				}
			}
			f, err := safetensors.Read(filepath.Join(whole, BestFile))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Metadata[MetaMethod]; got != method {
				t.Errorf("best.safetensors metadata %s = %q, want %q", MetaMethod, got, method)
			}
		})
	}
}

// TestMethodsTrainDifferently checks that each loss is really used: from
// the same seed and learning rate, CE, LogitNorm and OE end with different
// weights.
func TestMethodsTrainDifferently(t *testing.T) {
	last := map[string]map[string][]byte{}
	for _, method := range []string{MethodCE, MethodLogitNorm, MethodOE} {
		cfg := methodConfig(t, method)
		cfg.Epochs, cfg.WarmupEpochs, cfg.LR = 1, 0, 0.01
		dir := t.TempDir()
		if _, err := runMethodToy(t, cfg, dir, false, -1); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		last[method] = tensorsOf(t, filepath.Join(dir, LastFile))
	}
	for _, pair := range [][2]string{{MethodCE, MethodLogitNorm}, {MethodCE, MethodOE}, {MethodLogitNorm, MethodOE}} {
		if slices.Equal(last[pair[0]]["fc.weight"], last[pair[1]]["fc.weight"]) {
			t.Errorf("%s and %s trained the same fc.weight", pair[0], pair[1])
		}
	}
}

// TestOutlierStreamIsPositional checks the outlier batch of every training
// position: each pass visits every outlier once, passes are shuffled
// differently, and a stream started at any position delivers the batches
// of the uninterrupted stream from there on.
func TestOutlierStreamIsPositional(t *testing.T) {
	cfg := toyConfig()
	cfg.OutlierBatchSize = 8
	shape := augment.Shape{H: 28, W: 28, C: 1}
	norm, _ := augment.Preset("mnist")
	tf := augment.CropTransform(0, norm)
	const batches = 7 // three passes of 3 batches per epoch, the last cut short
	newStream := func() *outlierStream {
		s, err := newOutlierStream(split("out", toyOutliers(20, 3)), shape, tf, cfg, batches)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	type drawn struct {
		index []int
		data  []float32
	}
	draw := func(s *outlierStream) drawn {
		b, err := s.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.release(b)
		return drawn{slices.Clone(b.Index), slices.Clone(b.Data)}
	}
	s := newStream()
	var all [][]drawn // [epoch][batch]
	for e := range 2 {
		if err := s.start(ctx, e, 0); err != nil {
			t.Fatal(err)
		}
		var ep []drawn
		for range batches {
			ep = append(ep, draw(s))
		}
		all = append(all, ep)
	}
	_ = s.close()
	if s.passes != 3 || s.per != 3 {
		t.Fatalf("stream of %d passes of %d batches, want 3 of 3", s.passes, s.per)
	}
	for e, ep := range all {
		for p := 0; p+2 < len(ep); p += 3 {
			var rows []int
			for _, d := range ep[p : p+3] {
				rows = append(rows, d.index...)
			}
			slices.Sort(rows)
			if len(rows) != 20 || rows[0] != 0 || rows[19] != 19 || len(slices.Compact(rows)) != 20 {
				t.Errorf("epoch %d pass %d visits rows %v, want each of the 20 once", e, p/3, rows)
			}
		}
	}
	if slices.Equal(all[0][0].index, all[0][3].index) || slices.Equal(all[0][0].index, all[1][0].index) {
		t.Errorf("passes repeat their order: %v, %v, %v", all[0][0].index, all[0][3].index, all[1][0].index)
	}
	for _, pos := range [][2]int{{0, 4}, {1, 3}, {1, 6}} {
		s := newStream()
		if err := s.start(ctx, pos[0], pos[1]); err != nil {
			t.Fatal(err)
		}
		for b := pos[1]; b < batches; b++ {
			got := draw(s)
			if want := all[pos[0]][b]; !slices.Equal(got.index, want.index) || !slices.Equal(got.data, want.data) {
				t.Fatalf("started at epoch %d batch %d: batch %d differs from the uninterrupted stream", pos[0], pos[1], b)
			}
		}
		_ = s.close()
	}
}

func TestMethodConfig(t *testing.T) {
	for _, m := range Methods {
		c := Defaults()
		if err := c.SetMethod(m); err != nil {
			t.Fatal(err)
		}
		if got := c.Method(); got != m {
			t.Errorf("SetMethod(%q).Method() = %q", m, got)
		}
	}
	c := Defaults()
	if err := c.SetMethod("mixup"); err == nil || !strings.Contains(err.Error(), "logitnorm") {
		t.Errorf("SetMethod(mixup): %v, want an error listing the methods", err)
	}
	if d := Defaults(); d.LogitNormTau != 0.04 || d.LambdaOE != 0.5 || d.Loss != LossCE || d.Method() != MethodT2FNorm {
		t.Errorf("defaults %+v, want OpenOOD's τ 0.04, λ 0.5 and T2FNorm", d)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Loss = "focal" }, "loss"},
		{func(c *Config) { _ = c.SetMethod(MethodLogitNorm); c.Head = nn.HeadT2FNorm }, "head"},
		{func(c *Config) { _ = c.SetMethod(MethodLogitNorm); c.LogitNormTau = 0 }, "logitnorm_tau"},
		{func(c *Config) { _ = c.SetMethod(MethodOE); c.Outliers = "o"; c.LambdaOE = -1 }, "lambda_oe"},
		{func(c *Config) { _ = c.SetMethod(MethodOE) }, "outliers"},
		{func(c *Config) { c.OutlierBatchSize = -2 }, "outlier_batch_size"},
	} {
		c := Defaults()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error naming %s", err, tc.want)
		}
	}
	// A config.yaml written before the methods existed reads as T2FNorm or CE.
	old, err := ParseConfig([]byte("head: linear\nepochs: 3\n"), "old.yaml")
	if err != nil || old.Method() != MethodCE {
		t.Errorf("old config: %+v, %v; want method ce", old, err)
	}
}

func TestOEOutlierSplitChecks(t *testing.T) {
	cfg := methodConfig(t, MethodOE)
	labelled := split("labelled", newToyData(10, 4))
	big := split("big", toyOutliers(4, 1))
	big.Shape = augment.Shape{H: 14, W: 56, C: 1}
	for _, tc := range []struct {
		name string
		out  *Split
		want string
	}{
		{"none", nil, "needs an outlier split"},
		{"labelled rows", &labelled, "row 0 has label 0"},
		{"other shape", &big, "holds 14×56×1 images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Run(context.Background(), cfg, split("toy-train", newToyData(32, 1)), split("toy-val", newToyData(8, 2)), dir,
				Options{Backend: cpu.New(1), Outliers: tc.out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if _, err := ReadConfig(filepath.Join(dir, ConfigFile)); err == nil {
				t.Errorf("a refused run left %s behind", ConfigFile)
			}
		})
	}
}
