//go:build noasm || !amd64

package kernels

func firstMax3(dst, a, b, c []float32) { firstMax3Go(dst, a, b, c) }

func firstMax3Level(_ int, dst, a, b, c []float32) { firstMax3Go(dst, a, b, c) }
