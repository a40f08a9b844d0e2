package cpu

import (
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
)

func TestConformance(t *testing.T) {
	for _, prec := range backend.Precisions {
		for _, threads := range []int{1, 2, 3} {
			t.Run(string(prec)+"/"+map[int]string{1: "1thread", 2: "2threads", 3: "3threads"}[threads], func(t *testing.T) {
				backendtest.Run(t, func() backend.Backend {
					b, err := NewPrecision(threads, prec)
					if err != nil {
						t.Fatal(err)
					}
					return b
				})
			})
		}
	}
}

func TestNewPrecision(t *testing.T) {
	if _, err := NewPrecision(1, "fp16"); err == nil {
		t.Fatal("NewPrecision(fp16): no error")
	}
	b, err := NewPrecision(2, backend.BF16)
	if err != nil {
		t.Fatal(err)
	}
	if b.Precision() != backend.BF16 {
		t.Errorf("Precision() = %v, want bf16", b.Precision())
	}
	t.Logf("bf16 kernel: %s", b.Kernel())
	if New(1).Precision() != backend.FP32 {
		t.Errorf("New: precision %v, want fp32", New(1).Precision())
	}
}
