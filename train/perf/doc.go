// Package perf measures the engine's throughput: training steps (forward,
// cross-entropy, backward, SGD) and eval-mode forward passes per second on
// synthetic input, in images/s. `t2f bench train` and this package's
// `go test -bench` benchmarks run the same Step functions, so their figures
// are comparable.
//
// Synthetic input: N(0,1) pixels and uniform labels from a seeded generator,
// uploaded once; the measured loop is pure compute (no data loading).
package perf
