package cpu

import (
	"math"
	"testing"
)

func TestPosMask(t *testing.T) {
	nan := float32(math.NaN())
	negNaN := math.Float32frombits(0xFFC00000) // the NaN x86 produces for 0·Inf
	for _, tc := range []struct {
		v    float32
		keep bool
	}{
		{1, true}, {1e-45, true}, {float32(math.Inf(1)), true}, {nan, true}, {negNaN, true},
		{0, false}, {float32(math.Copysign(0, -1)), false}, {-1e-45, false}, {-3, false}, {float32(math.Inf(-1)), false},
	} {
		if got := posMask(tc.v) == 0xFFFFFFFF; got != tc.keep || (posMask(tc.v) != 0 && posMask(tc.v) != 0xFFFFFFFF) {
			t.Errorf("posMask(%v) = %#x, want keep=%v", tc.v, posMask(tc.v), tc.keep)
		}
		r := relu32(tc.v)
		want := max(tc.v, 0) // Go's max propagates NaN, like PyTorch's relu
		if tc.v == 0 {
			want = 0
		}
		if math.Float32bits(r) != math.Float32bits(want) && !(r != r && want != want) {
			t.Errorf("relu32(%v) = %v, want %v", tc.v, r, want)
		}
	}
}
