package cpu

import "math"

// posMask is 0xFFFFFFFF when v > 0 or v is NaN (so ReLU propagates NaN, as
// PyTorch's does) and 0 otherwise (including −0). It is branch-free: ReLU
// masks on random signs would mispredict half of the branches.
func posMask(v float32) uint32 {
	b := math.Float32bits(v)
	x := int32(b)
	pos := (-x >> 31) &^ (x >> 31)                  // x > 0
	nan := (0x7f800000 - int32(b&0x7fffffff)) >> 31 // |bits| above +Inf
	return uint32(pos | nan)
}

// relu32 is max(v, 0) without a branch.
func relu32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) & posMask(v)) }

// keepIf returns d where y > 0, else 0.
func keepIf(d, y float32) float32 { return math.Float32frombits(math.Float32bits(d) & posMask(y)) }
