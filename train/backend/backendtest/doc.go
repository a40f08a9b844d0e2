// Package backendtest is the conformance suite every backend.Backend must
// pass. Run executes each operation on the backend under test and compares
// it with a readable float64 reference implemented in this package (ref.go);
// the reference's own gradients are checked by float64 central differences
// in this package's tests.
//
// Tolerances: forward results within 1e-5 absolute + 1e-4 relative of the
// reference (GEMM-based ops: 2e-4 relative, float32 accumulation over up to a
// few hundred terms), reductions computed in float64 by the reference.
package backendtest
