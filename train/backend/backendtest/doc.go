// Package backendtest is the conformance suite every backend.Backend must
// pass, and its float64 reference.
//
// Run executes each operation on the backend under test and compares it
// with the readable float64 reference functions of ref.go (RefConv,
// RefBatchNormTrain, …); the reference's own gradients are checked by
// float64 central differences in this package's tests.
//
// NewReference is a complete backend.Backend built from those functions, with
// []float64 storage (Float64s exposes it to tests). It is slow; networks run
// on it unchanged, which lets the nn package check its gradients by float64
// central differences.
//
// Tolerances of the suite: forward results within 1e-5 absolute + 2e-4
// relative of the reference for GEMM-based ops (float32 accumulation over
// up to a few hundred terms), tighter for elementwise ops (exact for ReLU,
// add, pooling).
package backendtest
