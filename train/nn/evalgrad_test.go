package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func upload(be backend.Backend, v []float32, shape ...int) *backend.Tensor {
	d := be.Alloc(shape...)
	be.Upload(d, v)
	return d
}

func randVals(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestGradForwardMatchesInputGradient: GradForward's outputs and every
// gradient of GradInput and GradStageInput are bit-identical to Forward(x,
// false)'s with InputGradient and StageInputGradient, on the fused and the
// unfused path, at 1 and 2 threads; a second gradient of the same forward,
// with an Infer and an eval Forward of other images run in between, too. InferStages and
// InferFrom match StageOutput and ForwardFrom.
func TestGradForwardMatchesInputGradient(t *testing.T) {
	for _, cfg := range inferConfigs {
		for _, threads := range []int{1, 2} {
			for _, fused := range []bool{true, false} {
				var b backend.Backend = cpu.New(threads)
				if !fused {
					b = unfused{b}
				}
				m, err := New(b, cfg, 3)
				if err != nil {
					t.Fatal(err)
				}
				const n = 3
				x := testInput(m, n)
				settle(t, m, x)
				r := rand.New(rand.NewPCG(1, 2))
				dood := [2][]float32{randVals(r, n*cfg.Classes), randVals(r, n*cfg.Classes)}
				name := cfg.Arch + map[bool]string{true: " fused", false: " unfused"}[fused]
				// the reference: an eval Forward and InputGradient per gradient
				var want [2][]float32
				var wantLogits []float32
				for j := range want {
					out, err := m.ForwardHost(x, false)
					if err != nil {
						t.Fatal(err)
					}
					wantLogits = host(b, out.OODLogits)
					dx, err := m.InputGradient(upload(b, dood[j], n, cfg.Classes))
					if err != nil {
						t.Fatal(err)
					}
					want[j] = host(b, dx)
				}
				out, err := m.GradForwardHost(x, -1)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, name+" grad forward OOD logits", host(b, out.OODLogits), wantLogits)
				for j := range want {
					dx, err := m.GradInput(upload(b, dood[j], n, cfg.Classes))
					if err != nil {
						t.Fatal(err)
					}
					sameBits(t, name+" grad input", host(b, dx), want[j])
					// other forwards in between leave the kept forward intact
					if _, err := m.InferHost(testInput(m, n+1)); err != nil {
						t.Fatal(err)
					}
					if _, err := m.ForwardHost(testInput(m, n+2), false); err != nil {
						t.Fatal(err)
					}
				}
				for s := 0; s <= m.Stages() && m.Stages() > 0; s++ {
					if _, err := m.ForwardHost(x, false); err != nil {
						t.Fatal(err)
					}
					y, err := m.StageOutput(s)
					if err != nil {
						t.Fatal(err)
					}
					wantY := host(b, y)
					dh := randVals(r, y.Numel())
					dx, err := m.StageInputGradient(s, upload(b, dh, y.Shape()...))
					if err != nil {
						t.Fatal(err)
					}
					wantDx := host(b, dx)
					var wantFrom []float32
					if s > 0 {
						o, err := m.ForwardFrom(s, upload(b, wantY, y.Shape()...))
						if err != nil {
							t.Fatal(err)
						}
						wantFrom = host(b, o.OODLogits)
					}

					in := upload(b, x, m.InputShape(n)...)
					if _, err := m.GradForward(in, s); err != nil {
						t.Fatal(err)
					}
					gy, err := m.GradStage()
					if err != nil {
						t.Fatal(err)
					}
					sameBits(t, name+" grad stage", host(b, gy), wantY)
					gdx, err := m.GradStageInput(upload(b, dh, y.Shape()...))
					if err != nil {
						t.Fatal(err)
					}
					sameBits(t, name+" grad stage input", host(b, gdx), wantDx)
					if _, err := m.GradInput(upload(b, dood[0], n, cfg.Classes)); err == nil {
						t.Fatalf("%s: GradInput after a GradForward to stage %d: no error", name, s)
					}

					visited := 0
					if err := m.InferStages(in, []int{s}, func(st int, yy *backend.Tensor) error {
						visited++
						sameBits(t, name+" infer stages", host(b, yy), wantY)
						return nil
					}); err != nil || visited != 1 {
						t.Fatalf("%s: InferStages(%d): %d visits, %v", name, s, visited, err)
					}
					if s > 0 {
						o, err := m.InferFrom(s, upload(b, wantY, y.Shape()...))
						if err != nil {
							t.Fatal(err)
						}
						sameBits(t, name+" infer from", host(b, o.OODLogits), wantFrom)
					}
				}
			}
		}
	}
}

// TestGradForwardMemoryBounded: a GradForward keeps less than half of what
// an eval Forward keeps for InputGradient (the fused outputs only: for
// ResNet-50 three maps per Bottleneck, where an eval Forward keeps about
// nine), the whole gradient allocates less than Forward and InputGradient
// do, and later calls of the same batch size allocate nothing.
func TestGradForwardMemoryBounded(t *testing.T) {
	for _, cfg := range inferConfigs[1:] { // LeNet runs the eval Forward
		const n = 4
		var forward, old int
		{
			be := &countingBackend{Backend: cpu.New(2)}
			m, err := New(be, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			e0 := be.elems
			if _, err := m.ForwardHost(testInput(m, n), false); err != nil {
				t.Fatal(err)
			}
			forward = be.elems - e0
			if _, err := m.InputGradient(upload(be, make([]float32, n*cfg.Classes), n, cfg.Classes)); err != nil {
				t.Fatal(err)
			}
			old = be.elems - e0
		}
		be := &countingBackend{Backend: cpu.New(2)}
		m, err := New(be, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := testInput(m, n)
		dood := upload(be, randVals(rand.New(rand.NewPCG(1, 1)), n*cfg.Classes), n, cfg.Classes)
		e1 := be.elems
		if _, err := m.GradForwardHost(x, -1); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GradInput(dood); err != nil {
			t.Fatal(err)
		}
		_, held := m.GradPeak()
		first := be.elems - e1
		if 2*held > forward || first >= old {
			t.Errorf("%s: grad forward keeps %d values, allocates %d with its gradient; eval Forward %d, with InputGradient %d", cfg.Arch, held, first, forward, old)
		}
		a1 := be.allocs
		for range 2 {
			if _, err := m.GradForwardHost(x, -1); err != nil {
				t.Fatal(err)
			}
			if _, err := m.GradInput(dood); err != nil {
				t.Fatal(err)
			}
		}
		if be.allocs != a1 {
			t.Errorf("%s: %d tensor allocations in repeated grad forwards, want 0", cfg.Arch, be.allocs-a1)
		}
		t.Logf("%s batch %d: grad forward keeps %d values, %d with its gradient; eval Forward %d, with InputGradient %d", cfg.Arch, n, held, first, forward, old)
	}
}
