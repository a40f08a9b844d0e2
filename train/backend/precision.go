package backend

import "fmt"

// Precision is the arithmetic of a backend's convolutions and linear layers
// (forward and backward). Every other op, the parameters, their gradients
// and the optimiser state stay float32 (float64 where the op says so)
// whatever the precision, as under PyTorch's CPU autocast.
type Precision string

const (
	// FP32: float32 operands and accumulation.
	FP32 Precision = "fp32"
	// BF16: both operands of every product rounded to bfloat16 (nearest
	// even, as PyTorch's c10::BFloat16), products summed in float32 (the
	// AVX512_BF16 instruction VDPBF16PS on the CPU, cuBLAS with fp32 compute
	// on a GPU); inputs and outputs of the ops are float32 tensors.
	BF16 Precision = "bf16"
)

// Precisions lists the precisions a backend may offer.
var Precisions = []Precision{FP32, BF16}

// ParsePrecision reads "fp32" or "bf16"; "" is fp32.
func ParsePrecision(s string) (Precision, error) {
	switch Precision(s) {
	case "", FP32:
		return FP32, nil
	case BF16:
		return BF16, nil
	}
	return "", fmt.Errorf("backend: precision %q: want fp32 or bf16", s)
}
