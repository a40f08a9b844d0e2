package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// guarded returns a slice of n random values between NaN guards: the
// slice itself is buf[pad:pad+n] of a buffer with pad guards on each side.
func guarded(rng *rand.Rand, n, pad int) (buf, s []float32) {
	buf = make([]float32, n+2*pad)
	for i := range buf {
		buf[i] = guard
	}
	s = buf[pad : pad+n]
	for i := range s {
		s[i] = rng.Float32() - 0.5
	}
	return buf, s
}

// checkSame fails unless got and want hold the same bits (or both NaN).
func checkSame(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if !sameFloat(got[i], want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestShiftRows checks every level against the doc comment's loop
// (shiftRowsGo, itself checked against the formula), bit for bit, for
// widths around the 16-lane chunks and the column blocks, every shift that
// keeps a source column, contiguous and gapped rows, two planes, with the
// source rows at the very ends of their slice and guards around dst.
func TestShiftRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, w := range []int{1, 3, 7, 14, 16, 17, 28, 33, 56, 300} {
		for _, dx := range []int{-w + 1, -3, -1, 0, 1, 2, w - 1} {
			if dx <= -w || dx >= w {
				continue
			}
			for _, ds := range []int{w, w + 5} {
				planes, rows, ss := 2, 3, w+2
				dp, sp := rows*ds+3, rows*ss+1
				lo, hi := max(0, -dx), min(w, w-dx)
				so := -(lo + dx) // the first and last read columns are the source's ends
				_, src := guarded(rng, so+(planes-1)*sp+(rows-1)*ss+hi+dx, 0)
				buf, dst := guarded(rng, (planes-1)*dp+(rows-1)*ds+w, guardLen)
				want := append([]float32(nil), buf...)
				shiftRowsGo(want[guardLen:guardLen+len(dst)], 0, ds, dp, src, so, ss, sp, planes, rows, w, dx)
				for l := range planes {
					for r := range rows {
						for x := range w {
							v := float32(0)
							if x+dx >= 0 && x+dx < w {
								v = src[so+l*sp+r*ss+x+dx]
							}
							if !sameFloat(want[guardLen+l*dp+r*ds+x], v) {
								t.Fatalf("shiftRowsGo w %d dx %d: plane %d row %d col %d", w, dx, l, r, x)
							}
						}
					}
				}
				for _, level := range vecLevels() {
					got := append([]float32(nil), buf...)
					shiftRowsLevel(level, got[guardLen:guardLen+len(dst)], 0, ds, dp, src, so, ss, sp, planes, rows, w, dx)
					checkSame(t, fmt.Sprintf("ShiftRows w %d dx %d ds %d level %d", w, dx, ds, level), got, want)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ShiftRows past the source did not panic")
		}
	}()
	ShiftRows(make([]float32, 8), 0, 4, 0, make([]float32, 7), 0, 4, 0, 1, 2, 4, 0)
}

// TestStride2Rows checks both stride-2 kernels at every level against their
// doc loops, bit for bit, for start columns in the padding and widths that
// end on either parity, two planes, with the touched source/destination at
// the slice ends and guards around the written slice.
func TestStride2Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, w := range []int{1, 2, 7, 14, 28, 33, 64, 70, 600} {
		for _, x0 := range []int{-2, -1, 0, 1, 2} {
			for _, n := range []int{1, (w + 1) / 2, w/2 + 1, 17, 40, 300} {
				first, last := s2Span(n, x0, w)
				if first > last {
					continue
				}
				planes, rows, ds, ss := 2, 3, n+3, w+4
				dp, sp := rows*ds+2, rows*ss+5
				// Gather: the source rows begin at so; its first and last read
				// columns are the slice ends.
				so := -first
				_, src := guarded(rng, so+(planes-1)*sp+(rows-1)*ss+last+1, 0)
				buf, dst := guarded(rng, (planes-1)*dp+(rows-1)*ds+n, guardLen)
				want := append([]float32(nil), buf...)
				stride2RowsGo(want[guardLen:guardLen+len(dst)], 0, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
				for l := range planes {
					for r := range rows {
						for i := range n {
							v := float32(0)
							if x := x0 + 2*i; x >= 0 && x < w {
								v = src[so+l*sp+r*ss+x]
							}
							if !sameFloat(want[guardLen+l*dp+r*ds+i], v) {
								t.Fatalf("stride2RowsGo w %d x0 %d n %d: plane %d row %d col %d", w, x0, n, l, r, i)
							}
						}
					}
				}
				for _, level := range vecLevels() {
					got := append([]float32(nil), buf...)
					stride2RowsLevel(level, got[guardLen:guardLen+len(dst)], 0, ds, dp, src, so, ss, sp, planes, rows, n, x0, w)
					checkSame(t, "Stride2Rows", got, want)
				}
				// Adjoint: accumulate (planes, rows, n) blocks back into planes.
				_, col := guarded(rng, (planes-1)*dp+(rows-1)*ds+n, 0)
				pbuf, plane := guarded(rng, so+(planes-1)*sp+(rows-1)*ss+last+1, guardLen)
				pwant := append([]float32(nil), pbuf...)
				stride2AddRowsGo(pwant[guardLen:guardLen+len(plane)], so, ss, sp, col, 0, ds, dp, planes, rows, n, x0, w)
				for l := range planes {
					for r := range rows {
						for i := range n {
							if x := x0 + 2*i; x >= 0 && x < w {
								o := guardLen + so + l*sp + r*ss + x
								if !sameFloat(pwant[o], pbuf[o]+col[l*dp+r*ds+i]) {
									t.Fatalf("stride2AddRowsGo w %d x0 %d n %d: plane %d row %d col %d", w, x0, n, l, r, i)
								}
							}
						}
					}
				}
				for _, level := range vecLevels() {
					got := append([]float32(nil), pbuf...)
					stride2AddRowsLevel(level, got[guardLen:guardLen+len(plane)], so, ss, sp, col, 0, ds, dp, planes, rows, n, x0, w)
					checkSame(t, "Stride2AddRows", got, pwant)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Stride2Rows past the source did not panic")
		}
	}()
	Stride2Rows(make([]float32, 8), 0, 4, 0, make([]float32, 7), 0, 4, 0, 1, 2, 4, 0, 8)
}

func BenchmarkShiftRows(b *testing.B) {
	src := make([]float32, 28*28)
	dst := make([]float32, 28*28)
	for _, level := range vecLevels() {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.SetBytes(4 * 28 * 28)
			for b.Loop() {
				shiftRowsLevel(level, dst, 0, 28, 0, src, 28, 28, 0, 1, 27, 28, 1)
			}
		})
	}
}
