package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFirstMax3: every kernel level writes, bit for bit, what the pure-Go
// fold writes, on rows full of ±0 ties and NaNs of different payloads, at
// every length around the vector width, and nothing outside dst (NaN guard
// bands around it stay as they were).
func TestFirstMax3(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), math.Float32frombits(0xFFC00001), 2, -2, float32(math.Inf(-1))}
	const guard = 8
	for _, level := range vecLevels() {
		for n := 0; n <= 50; n++ {
			for rep := range 8 {
				rows := make([][]float32, 3)
				for k := range rows {
					rows[k] = make([]float32, n)
					for i := range rows[k] {
						if rep%2 == 0 || r.IntN(4) == 0 {
							rows[k][i] = specials[r.IntN(len(specials))]
						} else {
							rows[k][i] = float32(r.NormFloat64())
						}
					}
				}
				want := make([]float32, n)
				firstMax3Go(want, rows[0], rows[1], rows[2])
				buf := make([]float32, n+2*guard)
				for i := range buf {
					buf[i] = float32(math.NaN())
				}
				got := buf[guard : guard+n]
				firstMax3Level(level, got, rows[0], rows[1], rows[2])
				for i := range n {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("level %d n %d: [%d] = %v (%#x) of (%v, %v, %v), want %v (%#x)", level, n, i, got[i], math.Float32bits(got[i]), rows[0][i], rows[1][i], rows[2][i], want[i], math.Float32bits(want[i]))
					}
				}
				for i, v := range append(buf[:guard:guard], buf[guard+n:]...) {
					if v == v {
						t.Fatalf("level %d n %d: guard value %d overwritten with %v", level, n, i, v)
					}
				}
				// dst may be a.
				firstMax3Level(level, rows[0], rows[0], rows[1], rows[2])
				for i := range n {
					if math.Float32bits(rows[0][i]) != math.Float32bits(want[i]) {
						t.Fatalf("level %d n %d in place: [%d] = %v, want %v", level, n, i, rows[0][i], want[i])
					}
				}
			}
		}
	}
}

// TestFirstMaxFold: the fold keeps the first of tied values and the first
// NaN (the semantics a max-pool's row-major scan has).
func TestFirstMaxFold(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan1, nan2 := math.Float32frombits(0x7FC00001), math.Float32frombits(0x7FC00002)
	for _, tc := range []struct{ a, b, c, want float32 }{
		{1, 3, 2, 3},
		{negZero, 0, 0, negZero},
		{0, negZero, -1, 0},
		{1, nan1, nan2, nan1},
		{nan2, 5, nan1, nan2},
	} {
		got := []float32{0}
		FirstMax3(got, []float32{tc.a}, []float32{tc.b}, []float32{tc.c})
		if math.Float32bits(got[0]) != math.Float32bits(tc.want) {
			t.Errorf("FirstMax3(%v, %v, %v) = %v (%#x), want %v (%#x)", tc.a, tc.b, tc.c, got[0], math.Float32bits(got[0]), tc.want, math.Float32bits(tc.want))
		}
	}
}
