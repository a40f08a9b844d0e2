package nn

import (
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// countingBackend counts tensor allocations.
type countingBackend struct {
	*cpu.Backend
	allocs, elems int
}

func (c *countingBackend) Alloc(shape ...int) *backend.Tensor {
	c.allocs++
	c.elems += backend.Shape(shape).Numel()
	return c.Backend.Alloc(shape...)
}

// TestSteadyStateAllocs: after the first training step no tensor is
// allocated, and gradient buffers are shared (the pool holds a few per
// shape, not one per layer).
func TestSteadyStateAllocs(t *testing.T) {
	be := &countingBackend{Backend: cpu.New(2)}
	m, err := New(be, Config{Arch: ArchResNet18_32, Width: 1.0 / 16, ImageSize: 16, Classes: 10, Head: HeadT2FNorm}, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := NewSGD(m, SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	x := make([]float32, m.InputShape(4).Numel())
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	labels := []int32{1, 2, 3, 4}
	step := func() {
		if _, err := m.ForwardHost(x, true); err != nil {
			t.Fatal(err)
		}
		_, dl, err := m.CrossEntropy(labels)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(dl); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(0.1); err != nil {
			t.Fatal(err)
		}
	}
	step()
	after1 := be.allocs
	step()
	step()
	if be.allocs != after1 {
		t.Fatalf("%d tensor allocations in steady-state steps, want 0", be.allocs-after1)
	}
	pooled := 0
	for k, l := range m.grads.free {
		if len(l) > 4 {
			t.Errorf("gradient pool holds %d buffers of shape %v, want at most 4", len(l), k)
		}
		pooled += len(l)
	}
	// 20 convolutions and 20 BatchNorms in ResNet-18: per-layer buffers would be ≥ 40.
	if pooled == 0 || pooled > 16 {
		t.Fatalf("gradient pool holds %d buffers, want 1..16", pooled)
	}
}
