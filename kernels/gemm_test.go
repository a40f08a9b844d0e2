package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// guard is the NaN written around and between the rows of every output, so
// an out-of-range write (or a read that feeds the result) is detected.
var guard = math.Float32frombits(0x7fc0dead)

const guardLen = 37

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra elements per row beyond the width (lda, ldb, ldc)
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_m%d_n%d_k%d_a%g_b%g_pad%d", t(tc.transA), t(tc.transB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// randMatrix returns a rows×cols matrix with leading dimension ld; the gaps
// between rows hold NaN so reading them poisons the result.
func randMatrix(rng *rand.Rand, rows, cols, ld int) []float32 {
	x := make([]float32, max(rows*ld, 1))
	for i := range x {
		x[i] = guard
	}
	for i := range rows {
		for j := range cols {
			x[i*ld+j] = rng.Float32()*2 - 1
		}
	}
	return x
}

// runGemmCase checks one product of g against SgemmRef, with NaN guards.
func runGemmCase(t *testing.T, g *Gemm, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	ar, ac := stored(tc.transA, tc.m, tc.k)
	br, bc := stored(tc.transB, tc.k, tc.n)
	lda, ldb, ldc := max(ac+tc.pad, 1), max(bc+tc.pad, 1), max(tc.n+tc.pad, 1)
	a := randMatrix(rng, ar, ac, lda)
	b := randMatrix(rng, br, bc, ldb)
	c0 := randMatrix(rng, tc.m, tc.n, ldc)
	if tc.beta == 0 {
		// beta == 0 must not read C: NaNs there must not reach the result.
		for i := range c0 {
			c0[i] = guard
		}
	}
	// The output lives between two guard bands.
	buf := make([]float32, guardLen+len(c0)+guardLen)
	for i := range buf {
		buf[i] = guard
	}
	c := buf[guardLen : guardLen+len(c0)]
	copy(c, c0)

	want := append([]float32(nil), c0...)
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	// bound: the same product on absolute values, for a rounding tolerance.
	abs := func(x []float32) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
		}
		return y
	}
	bound := abs(c0)
	if tc.beta == 0 {
		clear(bound)
	}
	SgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, float32(math.Abs(float64(tc.alpha))), abs(a), lda, abs(b), ldb, float32(math.Abs(float64(tc.beta))), bound, ldc)

	g.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	const eps = 1.0 / (1 << 23)
	tol := float64(2*tc.k+4) * eps
	bad := 0
	for i := range buf {
		idx := i - guardLen
		row, col := -1, -1
		if idx >= 0 && idx < len(c) {
			row, col = idx/ldc, idx%ldc
		}
		inside := row >= 0 && row < tc.m && col < tc.n
		got := buf[i]
		if !inside {
			if math.Float32bits(got) != math.Float32bits(guard) {
				t.Errorf("%v: wrote outside C at buffer offset %d (C index %d): %v", tc, i, idx, got)
				bad++
			}
		} else {
			w := want[idx]
			if d := math.Abs(float64(got - w)); !(d <= tol*float64(bound[idx])+1e-30) {
				t.Errorf("%v: C[%d,%d] = %v, want %v (|diff| %g > %g)", tc, row, col, got, w, d, tol*float64(bound[idx]))
				bad++
			}
		}
		if bad > 5 {
			t.FailNow()
		}
	}
}

// gemmTestShapes covers edges of every kernel (1, MR±1, NR±1), the cache
// blocks (k > blockKC, m > blockMC, n > blockNC) and conv-like products.
func gemmTestShapes() [][3]int {
	return [][3]int{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {1, 33, 5}, {9, 1, 4},
		{3, 5, 2}, {4, 4, 4}, {5, 7, 3}, {6, 16, 8}, {7, 15, 9}, {8, 32, 16},
		{9, 33, 17}, {13, 31, 5}, {16, 17, 100}, {17, 64, 31}, {6, 100, 25},
		{31, 47, 63}, {33, 65, 257}, {64, 96, 513}, {150, 40, 30}, {145, 70, 260},
		{2, 3100, 3}, {20, 3137, 7},
	}
}

// testGemm runs every shape with every transpose, a few alpha/beta pairs and
// padded leading dimensions on one Gemm (so its scratch is reused across sizes).
func testGemm(t *testing.T, g *Gemm) {
	rng := rand.New(rand.NewPCG(1, 2))
	ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.3}, {0, 0.7}, {2, 0}}
	for si, s := range gemmTestShapes() {
		for tr := range 4 {
			for pi, pad := range []int{0, 3} {
				p := ab[(si+tr+pi)%len(ab)]
				runGemmCase(t, g, rng, gemmCase{tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], p[0], p[1], pad})
			}
		}
	}
}

// TestSgemm checks every micro-kernel this machine can run (pure Go, AVX2,
// AVX-512) on one and two goroutines against SgemmRef.
func TestSgemm(t *testing.T) {
	for _, kern := range availableKernels() {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads%d", kern.name, threads), func(t *testing.T) {
				testGemm(t, newGemmKernel(threads, kern))
			})
		}
	}
}

// TestSgemmParallel checks products large enough to be split, along N and
// along M, with every transpose.
func TestSgemmParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range availableKernels() {
		g := newGemmKernel(2, kern)
		for _, s := range [][3]int{{64, 300, 60}, {600, 40, 64}, {33, 1025, 40}, {1000, 9, 130}} {
			if s[0]*s[1]*s[2] < parallelMinWork {
				t.Fatalf("shape %v too small to be split", s)
			}
			for tr := range 4 {
				runGemmCase(t, g, rng, gemmCase{tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1, 0.5, 1})
			}
		}
	}
}

// TestSgemmZeroSizes checks that empty products leave C alone or scale it.
func TestSgemmZeroSizes(t *testing.T) {
	for _, kern := range availableKernels() {
		g := newGemmKernel(1, kern)
		rng := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{3, 4, 0}, {0, 4, 3}, {3, 0, 3}} {
			for _, beta := range []float32{0, 1, 0.5} {
				runGemmCase(t, g, rng, gemmCase{false, false, s[0], s[1], s[2], 1, beta, 2})
			}
		}
	}
}

// TestSgemmKernels makes sure the assembly kernels are really exercised on
// machines that have them (so a passing suite is not a pure-Go pass).
func TestSgemmKernels(t *testing.T) {
	ks := availableKernels()
	names := ""
	for _, k := range ks {
		names += k.name + " "
	}
	t.Logf("kernels: %s(default %s)", names, NewGemm(1).Kernel())
	if NewGemm(1).Kernel() != ks[len(ks)-1].name {
		t.Errorf("NewGemm uses %s, want the fastest available %s", NewGemm(1).Kernel(), ks[len(ks)-1].name)
	}
}

func TestSgemmPanics(t *testing.T) {
	g := NewGemm(1)
	x := make([]float32, 12)
	cases := map[string]func(){
		"lda":    func() { g.Sgemm(false, false, 3, 4, 4, 1, x, 3, x, 4, 0, x, 4) },
		"ldb":    func() { g.Sgemm(false, true, 3, 4, 4, 1, x, 4, x, 3, 0, x, 4) },
		"ldc":    func() { g.Sgemm(false, false, 2, 4, 2, 1, x, 2, x, 4, 0, x, 3) },
		"shortA": func() { g.Sgemm(false, false, 4, 2, 4, 1, x, 4, x, 2, 0, x, 2) },
		"shortC": func() { g.Sgemm(false, false, 3, 5, 2, 1, x, 2, x, 5, 0, x, 5) },
		"neg":    func() { g.Sgemm(false, false, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		})
	}
}

// TestSgemmNoAllocs checks that a warmed Gemm does not allocate, on the
// calling goroutine alone and with a helper (the product is large enough to split).
func TestSgemmNoAllocs(t *testing.T) {
	for _, threads := range []int{1, 2} {
		g := NewGemm(threads)
		m, n, k := 70, 90, 300
		if m*n*k < parallelMinWork {
			t.Fatal("product too small to be split")
		}
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		g.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
		allocs := testing.AllocsPerRun(5, func() {
			g.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			g.Sgemm(true, false, m, n, k, 1, a, m, b, n, 1, c, n)
		})
		if allocs != 0 {
			t.Errorf("threads %d: Sgemm allocates %v times per call pair, want 0", threads, allocs)
		}
		g.Close()
	}
}

// TestGemmClose checks that a closed Gemm's helpers stop and that the Gemm
// still computes (on the calling goroutine).
func TestGemmClose(t *testing.T) {
	g := NewGemm(2)
	rng := rand.New(rand.NewPCG(7, 8))
	tc := gemmCase{false, false, 64, 300, 60, 1, 0, 0}
	runGemmCase(t, g, rng, tc)
	if len(g.helpers) != 1 {
		t.Fatalf("%d helpers after a split product, want 1", len(g.helpers))
	}
	h := g.helpers[0]
	g.Close()
	runGemmCase(t, g, rng, tc)
	// The helper goroutine exits: it no longer answers submitted work.
	deadline := time.Now().Add(5 * time.Second)
	for !h.exited.Load() {
		if time.Now().After(deadline) {
			t.Fatal("helper still running 5 s after Close")
		}
		time.Sleep(time.Millisecond)
	}
}

// FuzzSgemm compares the default Gemm with SgemmRef on fuzzed small shapes,
// transposes, strides and scalars (the seed corpus runs with go test).
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(0), float32(1), float32(0), uint64(1))
	f.Add(uint8(9), uint8(33), uint8(17), uint8(3), uint8(2), float32(-2), float32(0.5), uint64(2))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(1), uint8(1), float32(1), float32(1), uint64(3))
	g := NewGemm(2)
	f.Fuzz(func(t *testing.T, m, n, k, trans, pad uint8, alpha, beta float32, seed uint64) {
		// Keep the scalars finite and moderate (the tolerance model's domain).
		bound := func(x float32) float32 {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return 1
			}
			return float32(math.Remainder(float64(x), 1000))
		}
		alpha, beta = bound(alpha), bound(beta)
		rng := rand.New(rand.NewPCG(seed, 0))
		runGemmCase(t, g, rng, gemmCase{trans&1 != 0, trans&2 != 0, int(m % 70), int(n % 70), int(k) + int(k)/2, alpha, beta, int(pad % 5)})
	})
}
