//go:build noasm || !amd64

package kernels

// packSame32 has no fast path without assembly.
func packSame32(*SamePacker, []float32, int, int, int, int) bool { return false }

const packSame32Fast = false

func packSameT32(*SameTPacker, []float32, int, int, int, int) bool { return false }

func packSame32Pairs(*SamePacker, []uint32, int, int, int, int) bool { return false }
