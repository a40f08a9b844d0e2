package nn

import (
	"math"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// inferConfigs are small versions of every architecture.
var inferConfigs = []Config{
	{Arch: ArchLeNet, Classes: 10},
	{Arch: ArchSmallResNet, Classes: 10, Head: HeadT2FNorm},
	{Arch: ArchResNet18_32, Width: 1.0 / 8, Classes: 10, Head: HeadT2FNorm},
	{Arch: ArchResNet18_224, Width: 1.0 / 8, ImageSize: 32, Classes: 7},
	{Arch: ArchResNet50, Width: 1.0 / 16, ImageSize: 32, Classes: 1000, Head: HeadT2FNorm},
}

// settle gives every BatchNorm non-trivial running statistics (a few
// training forwards), so that the eval affine maps are not the identity.
func settle(t *testing.T, m *Model, x []float32) {
	t.Helper()
	for range 2 {
		if _, err := m.ForwardHost(x, true); err != nil {
			t.Fatal(err)
		}
	}
}

func testInput(m *Model, n int) []float32 {
	x := make([]float32, m.InputShape(n).Numel())
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) + 0.1
	}
	return x
}

// TestInferMatchesEvalForward: Infer's feature, logits and OOD logits are
// bit-identical to Forward(x, false)'s, on the fused and the unfused path,
// at 1 and 2 threads, and in bf16 (one network: the epilogues do not depend
// on the precision, and the bf16 emulation of the noasm build is slow).
func TestInferMatchesEvalForward(t *testing.T) {
	bf16Cfg := Config{Arch: ArchResNet18_32, Width: 1.0 / 16, ImageSize: 16, Classes: 10, Head: HeadT2FNorm}
	for _, cfg := range append(inferConfigs, bf16Cfg) {
		for _, prec := range backend.Precisions {
			if (prec == backend.BF16) != (cfg == bf16Cfg) {
				continue
			}
			for _, threads := range []int{1, 2} {
				be, err := cpu.NewPrecision(threads, prec)
				if err != nil {
					t.Fatal(err)
				}
				for _, fused := range []bool{true, false} {
					var b backend.Backend = be
					if !fused {
						b = unfused{be}
					}
					m, err := New(b, cfg, 3)
					if err != nil {
						t.Fatal(err)
					}
					x := testInput(m, 3)
					settle(t, m, x)
					want, err := m.ForwardHost(x, false)
					if err != nil {
						t.Fatal(err)
					}
					wf, wl, wo := host(b, want.Feature), host(b, want.Logits), host(b, want.OODLogits)
					for range 2 { // buffers reused on the second call
						got, err := m.InferHost(x)
						if err != nil {
							t.Fatal(err)
						}
						for _, c := range []struct {
							name      string
							got, want []float32
						}{{"feature", host(b, got.Feature), wf}, {"logits", host(b, got.Logits), wl}, {"ood logits", host(b, got.OODLogits), wo}} {
							for i := range c.want {
								if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
									t.Fatalf("%s %s %d threads fused=%v: %s[%d] = %v, eval Forward %v", cfg.Arch, prec, threads, fused, c.name, i, c.got[i], c.want[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestInferChunks: a batch that Infer runs through the backbone a few
// images at a time (a small chunk budget) gives, bit for bit, the feature,
// logits and OOD logits of eval Forward on the whole batch, including a
// last, partial chunk; later batches of other sizes reuse the buffers
// (views of their first rows) and allocate nothing.
func TestInferChunks(t *testing.T) {
	for _, cfg := range inferConfigs {
		for _, threads := range []int{1, 2} {
			be := &countingBackend{Backend: cpu.New(threads)}
			m, err := New(be, cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			settle(t, m, testInput(m, 3))
			m.inferBudget = 2 * m.inferImageFloats() // chunks of 2 images
			if got := m.inferChunk(); got != 2 {
				t.Fatalf("%s %d threads: chunk %d, want 2", cfg.Arch, threads, got)
			}
			var allocs int
			for i, n := range []int{5, 5, 2, 1, 7} {
				x := testInput(m, n)
				want, err := m.ForwardHost(x, false)
				if err != nil {
					t.Fatal(err)
				}
				wf, wl, wo := host(be, want.Feature), host(be, want.Logits), host(be, want.OODLogits)
				if i == 1 {
					allocs = be.allocs
				}
				got, err := m.InferHost(x)
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 && be.allocs != allocs {
					t.Errorf("%s: %d tensor allocations in a repeated chunked inference, want 0", cfg.Arch, be.allocs-allocs)
				}
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"feature", host(be, got.Feature), wf}, {"logits", host(be, got.Logits), wl}, {"ood logits", host(be, got.OODLogits), wo}} {
					if len(c.got) != len(c.want) {
						t.Fatalf("%s batch %d: %s has %d values, want %d", cfg.Arch, n, c.name, len(c.got), len(c.want))
					}
					for j := range c.want {
						if math.Float32bits(c.got[j]) != math.Float32bits(c.want[j]) {
							t.Fatalf("%s %d threads batch %d in chunks of 2: %s[%d] = %v, eval Forward %v", cfg.Arch, threads, n, c.name, j, c.got[j], c.want[j])
						}
					}
				}
			}
			peak, held := m.InferPeak()
			if per := m.inferImageFloats(); peak > 2*per || held > 2*per*3/2 {
				t.Errorf("%s: chunks of 2 images hold %d activation values at once, %d in all; want at most %d and %d", cfg.Arch, peak, held, 2*per, 3*per)
			}
		}
	}
}

// unfused hides the backend's fused Conv2dBatchNormEval.
type unfused struct{ backend.Backend }

func host(be backend.Backend, t *backend.Tensor) []float32 {
	h := make([]float32, t.Numel())
	be.Download(h, t)
	return h
}

// TestInferMemoryBounded: an inference forward holds at most four
// activations of the largest stage at once (a ResNet block's input, two
// main-path maps and the shortcut), allocates all of them on the first call
// and none afterwards; a forward kept for InputGradient holds one per layer.
// This is what lets `t2f features` run ResNet-50 at 224×224 in batches of
// 200 (4 × 200 × 256·56·56 floats ≈ 2.6 GB instead of ≈ 21 GB).
func TestInferMemoryBounded(t *testing.T) {
	for _, cfg := range inferConfigs {
		be := &countingBackend{Backend: cpu.New(2)}
		m, err := New(be, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		largest := 0
		for s := 0; s <= m.Stages(); s++ {
			if cfg.Arch == ArchLeNet {
				break
			}
			sh, err := m.StageShape(s)
			if err != nil {
				t.Fatal(err)
			}
			largest = max(largest, n*sh.Numel())
		}
		if cfg.Arch == ArchLeNet {
			largest = n * 6 * 28 * 28 // block1's conv output
		}
		x := testInput(m, n)
		e0 := be.elems
		if _, err := m.InferHost(x); err != nil {
			t.Fatal(err)
		}
		peak, held := m.InferPeak()
		if peak > 4*largest || held > 6*largest {
			t.Errorf("%s: inference holds %d activation values at once, %d in all; want at most 4× and 6× the largest activation (%d)", cfg.Arch, peak, held, largest)
		}
		first := be.elems - e0
		if first > held+2*m.InputShape(n).Numel()+n*(m.FeatureSize()*3+cfg.Classes*3+1) {
			t.Errorf("%s: first inference allocated %d values, pool holds %d", cfg.Arch, first, held)
		}
		a1 := be.allocs
		for range 2 {
			if _, err := m.InferHost(x); err != nil {
				t.Fatal(err)
			}
		}
		if be.allocs != a1 {
			t.Errorf("%s: %d tensor allocations in repeated inference, want 0", cfg.Arch, be.allocs-a1)
		}
		// The forward InputGradient can differentiate keeps every layer's output.
		e1 := be.elems
		if _, err := m.ForwardHost(x, false); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s batch %d: inference peak %d values (largest activation %d); eval Forward allocates %d", cfg.Arch, n, peak, largest, be.elems-e1)
	}
}

// TestInferThenGradient: after Infer, InputGradient and StageOutput refuse
// (nothing was kept); a following eval Forward makes them work again.
func TestInferThenGradient(t *testing.T) {
	m, err := New(cpu.New(1), Config{Arch: ArchResNet18_32, Width: 1.0 / 16, Classes: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := testInput(m, 2)
	if _, err := m.InferHost(x); err != nil {
		t.Fatal(err)
	}
	d := m.be.Alloc(2, 4)
	if _, err := m.InputGradient(d); err == nil {
		t.Error("InputGradient after Infer: no error")
	}
	if _, err := m.StageOutput(2); err == nil {
		t.Error("StageOutput after Infer: no error")
	}
	if _, err := m.ForwardHost(x, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InputGradient(d); err != nil {
		t.Errorf("InputGradient after eval Forward: %v", err)
	}
	if _, err := m.ForwardTaps(m.hostIn); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InferHost(x); err != nil {
		t.Fatal(err)
	}
	if err := m.VisitTaps(func(int, *backend.Tensor) error { return nil }); err == nil {
		t.Error("VisitTaps after Infer: no error")
	}
	if _, err := m.InferHost(x[:len(x)-1]); err == nil {
		t.Error("InferHost of a partial image: no error")
	}
}
