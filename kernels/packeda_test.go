package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmPackedA: a product from a packed A is bit-identical to Sgemm's
// (and, with a BPacker, to SgemmPacked's) for every micro-kernel, float32
// and BF16, both layouts of A, partial slivers and several K and M blocks;
// one PackedA serves several products and two Gemms.
func TestSgemmPackedA(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	kerns := append(availableKernels(), bf16Kernels()...)
	shapes := [][3]int{{1, 1, 1}, {7, 33, 5}, {16, 64, 576}, {37, 100, 301}, {150, 40, 520}, {9, 3100, 19}, {20, 40, 1030}}
	for _, kern := range kerns {
		g1, g2 := newGemmKernel(1, kern), newGemmKernel(1, kern)
		var pa PackedA
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			if kern.dot != nil && kern.name != "avx512bf16" && m*n*k > 1<<20 {
				continue // the pure-Go BF16 emulation is slow; its blocking is the same
			}
			for _, transA := range []bool{false, true} {
				lda := k + 3
				if transA {
					lda = m + 2
				}
				rows, cols := m, k
				if transA {
					rows, cols = k, m
				}
				a := randMatrix(rng, rows, cols, lda)
				g1.PackA(&pa, transA, m, k, a, lda)
				if pa.M() != m || pa.K() != k {
					t.Fatalf("PackedA %d×%d, want %d×%d", pa.M(), pa.K(), m, k)
				}
				for i, g := range []*Gemm{g1, g2} {
					for _, beta := range []float32{0, 0.5} {
						b := randMatrix(rng, k, n, n+1)
						c0 := randMatrix(rng, m, n, n+2)
						want := append([]float32(nil), c0...)
						g.Sgemm(transA, false, m, n, k, 0.75, a, lda, b, n+1, beta, want, n+2)
						got := append([]float32(nil), c0...)
						g.SgemmPackedA(&pa, n, 0.75, b, n+1, nil, beta, got, n+2)
						name := fmt.Sprintf("%s m%d n%d k%d transA=%v gemm %d beta %v", kern.name, m, n, k, transA, i, beta)
						equalBits(t, name, got, want)
					}
				}
			}
		}
		// With a BPacker: the implicit convolution's weights packed once.
		for _, geo := range sameGeoms {
			images := packerImages(geo)[len(packerImages(geo))-1]
			p, k := images*geo.H*geo.W, geo.C*geo.KH*geo.KW
			m := 5 + rng.IntN(12)
			x := randSlice(rng, images*geo.C*geo.H*geo.W)
			a := randSlice(rng, m*k)
			var s SamePacker
			s.Reset(geo, images)
			s.SetImages(x)
			g1.PackA(&pa, false, m, k, a, k)
			want, got := make([]float32, m*p), make([]float32, m*p)
			g1.SgemmPacked(false, m, p, k, 1, a, k, &s, 0, want, p)
			g2.SgemmPackedA(&pa, p, 1, nil, 0, &s, 0, got, p)
			equalBits(t, fmt.Sprintf("%s %+v packer", kern.name, geo), got, want)
		}
	}
}

func equalBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func TestSgemmPackedAPanics(t *testing.T) {
	g := NewGemm(1)
	var pa PackedA
	a := make([]float32, 12)
	g.PackA(&pa, false, 3, 4, a, 4)
	for name, f := range map[string]func(){
		"A too short": func() { g.PackA(&pa, false, 4, 4, a, 4) },
		"lda":         func() { g.PackA(&pa, false, 3, 4, a, 3) },
		"C too short": func() { g.SgemmPackedA(&pa, 5, 1, make([]float32, 20), 5, nil, 0, make([]float32, 14), 5) },
		"B too short": func() { g.SgemmPackedA(&pa, 5, 1, make([]float32, 19), 5, nil, 0, make([]float32, 15), 5) },
		"other kernel": func() {
			NewGemmPrecision(1, BF16).SgemmPackedA(&pa, 5, 1, make([]float32, 20), 5, nil, 0, make([]float32, 15), 5)
		},
		"negative size": func() { g.SgemmPackedA(&pa, -1, 1, nil, 1, nil, 0, nil, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestPackABlocks: an operand packed by PackAInit and PackABlocks on two
// Gemms at once, its K blocks shared out, holds exactly what PackA packs,
// for every micro-kernel, float32 and BF16, both layouts of A, several K
// and M blocks.
func TestPackABlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	for _, kern := range append(availableKernels(), bf16Kernels()...) {
		for _, s := range [][2]int{{1, 1}, {7, 5}, {150, 520}, {300, 1030}, {37, 301}} {
			m, k := s[0], s[1]
			for _, transA := range []bool{false, true} {
				lda := k + 3
				rows, cols := m, k
				if transA {
					lda, rows, cols = m+2, k, m
				}
				a := randMatrix(rng, rows, cols, lda)
				var want, got PackedA
				newGemmKernel(1, kern).PackA(&want, transA, m, k, a, lda)
				g1, g2 := newGemmKernel(1, kern), newGemmKernel(1, kern)
				g1.PackAInit(&got, transA, m, k, a, lda)
				nb := got.Blocks()
				if want := (k + evenBlock(k, blockKC, 4) - 1) / evenBlock(k, blockKC, 4); nb != want {
					t.Fatalf("%s m%d k%d: %d blocks, want %d", kern.name, m, k, nb, want)
				}
				done := make(chan struct{})
				go func() {
					g2.PackABlocks(&got, 0, nb/2)
					close(done)
				}()
				g1.PackABlocks(&got, nb/2, nb)
				<-done
				name := fmt.Sprintf("%s m%d k%d transA=%v", kern.name, m, k, transA)
				if kern.dot == nil {
					equalBits(t, name, got.data[:got.mp*k], want.data[:want.mp*k])
					continue
				}
				n := want.mp * ((k + 1) / 2)
				for i := range n {
					if got.pairs[i] != want.pairs[i] {
						t.Fatalf("%s: pair %d = %#08x, want %#08x", name, i, got.pairs[i], want.pairs[i])
					}
				}
			}
		}
	}
}
