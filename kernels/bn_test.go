package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sameFloat reports whether a and b have the same bits, or are both NaN
// (which NaN payload an addition of two NaNs keeps is the CPU's choice).
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestPlaneReductions checks Sum, SqDev and GradStats: the pure-Go twins
// against float64 sums of the documented terms (within float32 summation
// error; Sum, which accumulates in float64, within float64 error), and every
// level bit for bit against the twins, on lengths around
// the 16- and 32-lane block sizes.
func TestPlaneReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for n := 0; n <= 100; n++ {
		x := make([]float32, n)
		dy := make([]float32, n)
		y := make([]float32, n)
		for i := range x {
			x[i] = (rng.Float32() - 0.3) * 4
			dy[i] = rng.Float32() - 0.5
			y[i] = rng.Float32() - 0.5
		}
		if n > 3 {
			y[1] = float32(math.NaN())
			y[2] = float32(math.Copysign(0, -1))
		}
		m := float32(0.4)
		var s, sq, gs, gd, gsm, gdm, abs float64
		for i := range x {
			d := float64(x[i] - m)
			s += float64(x[i])
			sq += d * d
			gs += float64(dy[i])
			gd += float64(float32(x[i]-m) * dy[i])
			if y[i] > 0 || y[i] != y[i] {
				gsm += float64(dy[i])
				gdm += float64(float32(x[i]-m) * dy[i])
			}
			abs += math.Abs(float64(x[i]))*4 + 4
		}
		tol := 1e-6 * abs
		near := func(name string, got float32, want float64) {
			t.Helper()
			if math.Abs(float64(got)-want) > tol {
				t.Fatalf("n %d: %s = %v, want %v (tolerance %g)", n, name, got, want, tol)
			}
		}
		if got := sumGo(x); math.Abs(got-s) > 1e-12*abs {
			t.Fatalf("n %d: sumGo = %v, want %v", n, got, s)
		}
		if got := sqDevGo(x, m); math.Abs(got-sq) > 1e-12*abs*abs {
			t.Fatalf("n %d: sqDevGo = %v, want %v", n, got, sq)
		}
		a, b := gradStatsGo(x, dy, nil, m)
		near("gradStatsGo sum", a, gs)
		near("gradStatsGo dot", b, gd)
		a, b = gradStatsGo(x, dy, y, m)
		near("gradStatsGo masked sum", a, gsm)
		near("gradStatsGo masked dot", b, gdm)
		for _, level := range vecLevels() {
			same := func(name string, got, want float32) {
				t.Helper()
				if !sameFloat(got, want) {
					t.Fatalf("level %d n %d: %s = %v (%#x), twin %v (%#x)", level, n, name, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
			if got, want := sumLevel(level, x), sumGo(x); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("level %d n %d: Sum = %v, twin %v", level, n, got, want)
			}
			if got, want := sqDevLevel(level, x, m), sqDevGo(x, m); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("level %d n %d: SqDev = %v, twin %v", level, n, got, want)
			}
			for _, mask := range [][]float32{nil, y} {
				a, b := gradStatsLevel(level, x, dy, mask, m)
				wa, wb := gradStatsGo(x, dy, mask, m)
				same("GradStats sum", a, wa)
				same("GradStats dot", b, wb)
			}
		}
	}
}

// TestBNGrad checks BNGrad at every level against its doc comment's loop,
// bit for bit, with special values, a NaN guard after dx, and in place.
func TestBNGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, level := range vecLevels() {
		for n := 0; n <= 40; n++ {
			x, y, dy := specialValues(rng, n), specialValues(rng, n), specialValues(rng, n)
			w, a, c := (rng.Float32()-0.5)*3, (rng.Float32()-0.5)*3, (rng.Float32()-0.5)*3
			for _, mask := range [][]float32{nil, y} {
				want := make([]float32, n+guardLen)
				buf := make([]float32, n+guardLen)
				for i := range buf {
					buf[i], want[i] = guard, guard
				}
				for i := range n {
					g := dy[i]
					if mask != nil && !(y[i] > 0 || y[i] != y[i]) {
						g = 0
					}
					want[i] = float32(g*w) + (float32(x[i]*a) + c)
				}
				bnGradLevel(level, buf[:n], dy, mask, x, w, a, c)
				for i := range buf {
					if !sameFloat(buf[i], want[i]) || (i >= n && math.Float32bits(buf[i]) != math.Float32bits(guard)) {
						t.Fatalf("level %d n %d masked %v: dx[%d] = %v, want %v", level, n, mask != nil, i, buf[i], want[i])
					}
				}
				inPlace := append([]float32(nil), dy...)
				bnGradLevel(level, inPlace, inPlace, mask, x, w, a, c)
				for i := range n {
					if !sameFloat(inPlace[i], want[i]) {
						t.Fatalf("level %d n %d in place: dx[%d] = %v, want %v", level, n, i, inPlace[i], want[i])
					}
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("BNGrad with different lengths did not panic")
		}
	}()
	BNGrad(make([]float32, 3), make([]float32, 3), nil, make([]float32, 4), 1, 1, 1)
}

func BenchmarkPlane(b *testing.B) {
	x := make([]float32, 784)
	dy := make([]float32, 784)
	for i := range x {
		x[i] = float32(i%7) - 3
		dy[i] = float32(i%5) - 2
	}
	b.Run("Sum", func(b *testing.B) {
		b.SetBytes(4 * 784)
		for b.Loop() {
			Sum(x)
		}
	})
	b.Run("GradStats/relu", func(b *testing.B) {
		b.SetBytes(12 * 784)
		for b.Loop() {
			GradStats(x, dy, x, 0.5)
		}
	})
	b.Run("BNGrad/relu", func(b *testing.B) {
		dx := make([]float32, 784)
		b.SetBytes(16 * 784)
		for b.Loop() {
			BNGrad(dx, dy, x, x, 0.5, 0.25, 0.1)
		}
	})
}

// TestPlaneAhead checks that SumPlane and GradStatsPlane return exactly Sum
// and GradStats of the plane, whatever the prefetch distance (inside,
// past the end, negative).
func TestPlaneAhead(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	x, dy, y := randSlice(rng, 700), randSlice(rng, 700), randSlice(rng, 700)
	for _, off := range []int{0, 13, 300} {
		for _, n := range []int{1, 49, 196} {
			for _, ahead := range []int{0, 196, 250, 600, -5} {
				if got, want := SumPlane(x, off, n, ahead), Sum(x[off:off+n]); got != want {
					t.Fatalf("SumPlane(%d, %d, %d) = %v, want %v", off, n, ahead, got, want)
				}
				for _, mask := range [][]float32{nil, y} {
					var ym []float32
					if mask != nil {
						ym = mask[off : off+n]
					}
					s, d := GradStatsPlane(x, dy, mask, off, n, ahead, 0.3)
					ws, wd := GradStats(x[off:off+n], dy[off:off+n], ym, 0.3)
					if !sameFloat(s, ws) || !sameFloat(d, wd) {
						t.Fatalf("GradStatsPlane(%d, %d, %d) = %v, %v, want %v, %v", off, n, ahead, s, d, ws, wd)
					}
				}
			}
		}
	}
}
