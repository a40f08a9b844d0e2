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

// TestRowView: a row view shares the tensor's storage, has the rows'
// shape, and refuses ranges outside the leading dimension.
func TestRowView(t *testing.T) {
	be := New(1)
	x := be.Alloc(4, 2, 3)
	v := be.RowView(x, 1, 3)
	if !v.Shape().Equal(backend.Shape{2, 2, 3}) {
		t.Fatalf("view shape %v, want [2 2 3]", v.Shape())
	}
	Data(v)[0] = 7
	if Data(x)[6] != 7 || len(Data(v)) != 12 || cap(Data(v)) != 12 {
		t.Fatalf("view is not rows 1..3 of x: x %v, view len %d cap %d", Data(x), len(Data(v)), cap(Data(v)))
	}
	if e := be.RowView(x, 4, 4); e.Shape()[0] != 0 {
		t.Fatalf("empty view shape %v", e.Shape())
	}
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RowView(%d, %d) of %v: no panic", r[0], r[1], x.Shape())
				}
			}()
			be.RowView(x, r[0], r[1])
		}()
	}
}
