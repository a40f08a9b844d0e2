package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPackB checks each kernel's packB (assembly fast paths included)
// against the plain loops of packB's doc comment, on blocks with partial
// slivers and depths that are not multiples of 16.
func TestPackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, kern := range availableKernels() {
		for _, s := range [][2]int{{1, 1}, {17, 33}, {40, 64}, {256, 100}, {33, 3072}} {
			kc, nc := s[0], s[1]
			for _, transB := range []bool{false, true} {
				ldb := nc + 3
				if transB {
					ldb = kc + 5
				}
				rows := kc + 2
				if transB {
					rows = nc + 2
				}
				b := make([]float32, rows*ldb)
				for i := range b {
					b[i] = rng.Float32()
				}
				pc, jc := 1, 2%max(ldb-nc, 1)
				if transB {
					pc, jc = 2, 1
				}
				nr := kern.nr
				panels := (nc + nr - 1) / nr
				got := make([]float32, panels*nr*kc+7)
				want := slices.Clone(got)
				for i := range got {
					got[i], want[i] = guard, guard
				}
				for q := range panels {
					for p := range kc {
						for j := range nr {
							var v float32
							if col := q*nr + j; col < nc {
								if transB {
									v = b[(jc+col)*ldb+pc+p]
								} else {
									v = b[(pc+p)*ldb+jc+col]
								}
							}
							want[q*nr*kc+p*nr+j] = v
						}
					}
				}
				for _, edge := range [][]float32{nil, make([]float32, kern.nr*kc)} {
					for i := range got {
						got[i] = guard
					}
					packB(kern, got, edge, transB, b, ldb, pc, jc, kc, nc)
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("%s kc=%d nc=%d transB=%v edge=%v: packed[%d] = %v, want %v", kern.name, kc, nc, transB, edge != nil, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkPackB measures packing the B operand of the reference conv
// shape (576×8192), plain and transposed.
func BenchmarkPackB(b *testing.B) {
	k, n := 576, 8192
	kern := bestKernel()
	src := make([]float32, k*n)
	dst := make([]float32, (blockNC+kern.nr)*blockKC)
	for _, transB := range []bool{false, true} {
		name, ldb := "N", n
		if transB {
			name, ldb = "T", k
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(4 * k * n))
			b.ReportAllocs()
			for b.Loop() {
				for pc := 0; pc < k; pc += blockKC {
					for jc := 0; jc < n; jc += blockNC {
						packB(kern, dst, nil, transB, src, ldb, pc, jc, min(blockKC, k-pc), min(blockNC, n-jc))
					}
				}
			}
		})
	}
}

// TestPackA checks each kernel's packA (assembly transposes included)
// against the plain loops of packA's doc comment.
func TestPackA(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, kern := range availableKernels() {
		for _, s := range [][2]int{{1, 1}, {9, 17}, {16, 40}, {144, 256}, {13, 33}} {
			mc, kc := s[0], s[1]
			for _, transA := range []bool{false, true} {
				ic, pc := 3, 2
				rows, cols := ic+mc+1, pc+kc+4 // stored A holds op(A)(i, p) at [i][p]
				if transA {
					rows, cols = cols, rows
				}
				lda := cols + 2
				a := make([]float32, rows*lda)
				for i := range a {
					a[i] = rng.Float32()
				}
				mr := kern.mr
				panels := (mc + mr - 1) / mr
				got := make([]float32, panels*mr*kc+5)
				want := slices.Clone(got)
				for i := range got {
					got[i], want[i] = guard, guard
				}
				for q := range panels {
					for p := range kc {
						for r := range mr {
							var v float32
							if i := q*mr + r; i < mc {
								if transA {
									v = a[(pc+p)*lda+ic+i]
								} else {
									v = a[(ic+i)*lda+pc+p]
								}
							}
							want[q*mr*kc+p*mr+r] = v
						}
					}
				}
				for _, edge := range [][]float32{nil, make([]float32, kern.mr*kc)} {
					for i := range got {
						got[i] = guard
					}
					packA(kern, got, edge, transA, a, lda, ic, pc, mc, kc)
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("%s mc=%d kc=%d transA=%v edge=%v: packed[%d] = %v, want %v", kern.name, mc, kc, transA, edge != nil, i, got[i], want[i])
					}
				}
			}
		}
	}
}
