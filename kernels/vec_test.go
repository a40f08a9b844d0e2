package kernels

import (
	"math"
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

// specialValues mixes random values with the cases ReLU and rounding care
// about: ±0, ±Inf, NaN, subnormals, the float32 extremes.
func specialValues(rng *rand.Rand, n int) []float32 {
	sp := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32, 1, -1}
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(3) == 0 {
			x[i] = sp[rng.IntN(len(sp))]
		} else {
			x[i] = (rng.Float32() - 0.5) * 4
		}
	}
	return x
}

// reluRef is the documented ReLU: keep v when v > 0 or v is NaN, else +0.
func reluRef(v float32) float32 {
	if v > 0 || math.IsNaN(float64(v)) {
		return v
	}
	return 0
}

// TestElementwise checks Affine, AddVec and ReLUMask at every level against
// the loops of their doc comments, bit for bit (NaN payloads included), on
// lengths around the vector width, with a NaN guard after dst.
func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, level := range vecLevels() {
		for n := 0; n <= 40; n++ {
			x, y, dy := specialValues(rng, n), specialValues(rng, n), specialValues(rng, n)
			a, c := (rng.Float32()-0.5)*3, (rng.Float32()-0.5)*3
			for _, relu := range []bool{false, true} {
				check := func(name string, run func(dst []float32), want func(i int) float32) {
					t.Helper()
					buf := make([]float32, n+guardLen)
					for i := range buf {
						buf[i] = guard
					}
					run(buf[:n])
					for i := range buf {
						w := guard
						if i < n {
							w = want(i)
						}
						if math.Float32bits(buf[i]) != math.Float32bits(w) {
							t.Fatalf("%s level %d n %d relu %v: dst[%d] = %v (%#x), want %v (%#x)", name, level, n, relu, i, buf[i], math.Float32bits(buf[i]), w, math.Float32bits(w))
						}
					}
				}
				maybe := func(v float32) float32 {
					if relu {
						return reluRef(v)
					}
					return v
				}
				check("Affine", func(d []float32) { affineLevel(level, d, x, a, c, relu) },
					func(i int) float32 { p := float32(x[i] * a); return maybe(p + c) })
				check("AddVec", func(d []float32) { addVecLevel(level, d, x, y, relu) },
					func(i int) float32 { return maybe(x[i] + y[i]) })
				check("ReLUMask", func(d []float32) { reluMaskLevel(level, d, dy, y) },
					func(i int) float32 {
						if y[i] > 0 || math.IsNaN(float64(y[i])) {
							return dy[i]
						}
						return 0
					})
			}
			// In place: dst aliasing the input.
			got := append([]float32(nil), x...)
			affineLevel(level, got, got, a, c, true)
			for i := range got {
				if w := reluRef(float32(x[i]*a) + c); math.Float32bits(got[i]) != math.Float32bits(w) {
					t.Fatalf("Affine in place level %d: dst[%d] = %v, want %v", level, i, got[i], w)
				}
			}
		}
	}
}

func BenchmarkAffine(b *testing.B) {
	x := make([]float32, 64*1024)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	b.Run("asm", func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			Affine(x, x, 0.5, 0.1, true)
		}
	})
	b.Run("go", func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			affineGo(x, x, 0.5, 0.1, true)
		}
	})
}
