// Command parity prints the bf16-vs-fp32 accuracy-parity table of
// docs/benchmarks.md from finished training runs: for every run directory
// (config.yaml, features/ with the ID test split), the test accuracy and the
// mean feature norm ‖f‖ of the ID test images, then per seed the bf16 − fp32
// differences against the bounds (accuracy within 0.3 points, mean
// norm within 5%).
//
//	go run ./scripts/parity runs/parity/fp32-s0 runs/parity/bf16-s0 ...
//
// go tool task parity:bf16 trains the runs and calls it. It exits 1 when a
// pair is out of bounds.
//
// Nothing imports it; it imports features and train to read the runs.
package main
