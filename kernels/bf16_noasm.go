//go:build noasm || !amd64

package kernels

// hasDotBF16 is false: this build has no assembly.
const hasDotBF16 = false

// bf16Kernel returns the exact pure-Go emulation of the BF16 products with
// the tile and packers of k.
func bf16Kernel(k *microKernel) *microKernel { return emulatedBF16(k) }

// dotBF16x16 is not available without assembly.
func dotBF16x16(acc, a, b *uint32) { panic("kernels: dotBF16x16 needs the assembly build") }

// packPairsFast is nil: packPairs converts in Go.
var packPairsFast func(dst []uint32, src []float32, w, kq int)

// roundBF16Fast is nil: RoundBF16To rounds in Go.
var roundBF16Fast func(dst, src []float32)

// packPairsRowsFast is nil: packPairsRows pairs in Go.
var packPairsRowsFast func(dst []uint32, src []float32, kq, lds int)
