package kernels

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestAddTo checks every element-wise level against the loop in AddTo's doc
// comment (bit for bit: one addition per element), on lengths around the
// vector widths, with a NaN guard after dst.
func TestAddTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, level := range vecLevels() {
		for n := 0; n <= 70; n++ {
			src := make([]float32, n)
			buf := make([]float32, n+guardLen)
			for i := range buf {
				buf[i] = guard
			}
			for i := range n {
				src[i] = rng.Float32() - 0.5
				buf[i] = rng.Float32() - 0.5
			}
			want := make([]float32, len(buf))
			copy(want, buf)
			for i := range n {
				want[i] += src[i]
			}
			addToLevel(level, buf[:n], src)
			if i := sameBits(buf, want); i >= 0 {
				t.Fatalf("level %d n %d: dst[%d] = %v, want %v", level, n, i, buf[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("AddTo with different lengths did not panic")
		}
	}()
	AddTo(make([]float32, 3), make([]float32, 4))
}

func BenchmarkAddTo(b *testing.B) {
	for _, n := range []int{16, 1024} {
		dst, src := make([]float32, n), make([]float32, n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				AddTo(dst, src)
			}
		})
	}
}
