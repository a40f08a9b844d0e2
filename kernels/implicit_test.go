package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var sameGeoms = []ConvGeom{
	{C: 3, H: 5, W: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{C: 2, H: 28, W: 28, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{C: 1, H: 1, W: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{C: 2, H: 6, W: 6, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
	{C: 3, H: 4, W: 9, KH: 1, KW: 3, StrideH: 1, StrideW: 1, PadH: 0, PadW: 1},
	{C: 2, H: 1, W: 4, KH: 7, KW: 7, StrideH: 1, StrideW: 1, PadH: 3, PadW: 3},
	{C: 3, H: 60, W: 60, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // two column blocks
	{C: 2, H: 7, W: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{C: 3, H: 14, W: 14, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	{C: 5, H: 4, W: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // 16-pixel maps: slivers of two whole images
	{C: 2, H: 4, W: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // 24 pixels
}

// lowered returns the reference lowered matrix of images consecutive
// images: Im2colRef of each, side by side (row stride images·H·W).
func lowered(g ConvGeom, x []float32, images int) []float32 {
	p, k, img := g.H*g.W, g.C*g.KH*g.KW, g.C*g.H*g.W
	col := make([]float32, k*images*p)
	one := make([]float32, k*p)
	for j := range images {
		Im2colRef(g, x[j*img:(j+1)*img], one)
		for r := range k {
			copy(col[r*images*p+j*p:], one[r*p:(r+1)*p])
		}
	}
	return col
}

// packerImages lists the image counts SamePacker takes for g (one, and
// five when slivers span at most two images).
func packerImages(g ConvGeom) []int {
	if SamePackable(g, 5) {
		return []int{1, 5}
	}
	return []int{1}
}

// TestSamePacker checks the implicit packing against the ordinary packing
// of the reference lowered matrix (Im2colRef), sliver for sliver, for the
// pure-Go path at several sliver widths and for PackB at 32 (AVX-512 when
// the CPU has it), on whole and partial blocks.
func TestSamePacker(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, g := range sameGeoms {
		if !SameConv(g) {
			t.Fatalf("%+v: not a same convolution", g)
		}
		for _, images := range packerImages(g) {
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			x := randSlice(rng, images*g.C*g.H*g.W)
			col := lowered(g, x, images)
			var s SamePacker
			s.Reset(g, images)
			s.SetImages(x)
			for _, nr := range []int{4, 16, 32} {
				kern := &microKernel{name: "test", mr: 4, nr: nr}
				// Blocks: everything, and a block starting inside (pc, jc > 0).
				for _, blk := range [][4]int{{0, 0, k, p}, {k / 2, nr * (p / (2 * nr)), k - k/2, p - nr*(p/(2*nr))}} {
					pc, jc, kc, nc := blk[0], blk[1], blk[2], blk[3]
					if kc == 0 || nc == 0 {
						continue
					}
					size := (nc + nr - 1) / nr * nr * kc
					want := make([]float32, size)
					packB(kern, want, nil, false, col, p, pc, jc, kc, nc)
					got := make([]float32, size)
					for i := range got {
						got[i] = guard
					}
					s.packGo(got, pc, jc, kc, nc, nr)
					checkSame(t, fmt.Sprintf("%+v images %d packGo nr %d block %v", g, images, nr, blk), got, want)
					for i := range got {
						got[i] = guard
					}
					s.PackB(got, pc, jc, kc, nc, nr)
					checkSame(t, fmt.Sprintf("%+v images %d PackB nr %d block %v", g, images, nr, blk), got, want)
				}
			}
		}
	}
	g5 := ConvGeom{C: 1, H: 5, W: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	// 25-pixel maps: columns 96–127 span images 3, 4 and 5.
	if !SamePackable(g5, 5) || SamePackable(g5, 6) {
		t.Error("5×5 maps: five images refused or six (a sliver over three images) accepted")
	}
}

// TestSamePackerPairs: PackBPairs (the bfloat16 rounding fused into the
// implicit packing) writes exactly what packPairs makes of PackB's block,
// from the images as they are and from the images rounded beforehand
// (SetImagesBF16),
// with odd and even depths, blocks starting inside the matrix, NaN,
// infinities, ties and subnormals among the pixels.
func TestSamePackerPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), math.Float32frombits(0x00000001), math.Float32frombits(0x807fffff), -0}
	ran := false
	for _, g := range sameGeoms {
		for _, images := range packerImages(g) {
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			x := randSlice(rng, images*g.C*g.H*g.W)
			for i := range x {
				if rng.IntN(7) == 0 {
					x[i] = specials[rng.IntN(len(specials))]
				}
			}
			xr := make([]float32, len(x))
			RoundBF16To(xr, x)
			var s, sr SamePacker
			s.Reset(g, images)
			s.SetImages(x)
			sr.Reset(g, images)
			sr.SetImagesBF16(xr)
			const nr = 32
			for _, blk := range [][4]int{{0, 0, k, p}, {k / 2, nr * (p / (2 * nr)), k - k/2, p - nr*(p/(2*nr))}, {1, 0, max(1, k-2), p}, {0, 0, 1, p}} {
				pc, jc, kc, nc := blk[0], blk[1], blk[2], blk[3]
				if kc <= 0 || nc <= 0 || pc+kc > k {
					continue
				}
				sb, kc2 := (nc+nr-1)/nr, (kc+1)/2
				f := make([]float32, sb*nr*kc)
				s.PackB(f, pc, jc, kc, nc, nr)
				want := make([]uint32, sb*nr*kc2)
				packPairs(want, f, nr, kc, sb)
				got := make([]uint32, len(want))
				for i := range got {
					got[i] = 0xdeadbeef
				}
				if !s.PackBPairs(got, pc, jc, kc, nc, nr) {
					continue // no fast path on this CPU or build
				}
				ran = true
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%+v images %d block %v: pair %d = %#x, want %#x", g, images, blk, i, got[i], want[i])
					}
				}
				// The same pairs from the images rounded beforehand.
				for i := range got {
					got[i] = 0xdeadbeef
				}
				if !sr.PackBPairs(got, pc, jc, kc, nc, nr) {
					t.Fatal("PackBPairs ran on unrounded images but not on rounded ones")
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%+v images %d block %v, rounded images: pair %d = %#x, want %#x", g, images, blk, i, got[i], want[i])
					}
				}
			}
		}
	}
	if !ran && packSame32Fast {
		t.Fatal("PackBPairs never ran although the fast packing is available")
	}
}

// TestSgemmPacked checks that a product with the implicit operand equals,
// bit for bit, the ordinary product with the reference lowered matrix (the
// packed data are the same) on every micro-kernel, with beta 0 and 1.
func TestSgemmPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, kern := range availableKernels() {
		gm := newGemmKernel(1, kern)
		for _, g := range sameGeoms {
			images := packerImages(g)[len(packerImages(g))-1]
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			m := 5 + rng.IntN(12)
			x := randSlice(rng, images*g.C*g.H*g.W)
			a := randSlice(rng, m*k)
			col := lowered(g, x, images)
			var s SamePacker
			s.Reset(g, images)
			s.SetImages(x)
			for _, beta := range []float32{0, 1} {
				c0 := randSlice(rng, m*p)
				want := append([]float32(nil), c0...)
				gm.Sgemm(false, false, m, p, k, 0.5, a, k, col, p, beta, want, p)
				got := append([]float32(nil), c0...)
				gm.SgemmPacked(false, m, p, k, 0.5, a, k, &s, beta, got, p)
				checkSame(t, fmt.Sprintf("%s %+v beta %v", kern.name, g, beta), got, want)
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32() - 0.5
	}
	return s
}

// TestSamePackerReuse cycles one packer through every geometry twice (the
// second round takes the cached tables) and checks each packing against a
// fresh packer's.
func TestSamePackerReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	var s SamePacker
	for round := range 2 {
		for _, g := range sameGeoms {
			images := packerImages(g)[len(packerImages(g))-1]
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			x := randSlice(rng, images*g.C*g.H*g.W)
			var fresh SamePacker
			fresh.Reset(g, images)
			fresh.SetImages(x)
			s.Reset(g, images)
			s.SetImages(x)
			size := (p + 31) / 32 * 32 * k
			want, got := make([]float32, size), make([]float32, size)
			fresh.PackB(want, 0, 0, k, p, 32)
			s.PackB(got, 0, 0, k, p, 32)
			checkSame(t, fmt.Sprintf("round %d %+v", round, g), got, want)
		}
	}
}

// TestSameTPacker checks the transposed implicit packing (the weight
// gradient's B = colᵀ) against the ordinary packing of the reference
// lowered matrix read transposed, sliver for sliver: pure-Go path at NR
// 4/16/32 and PackB at 32 (AVX-512 when present), one and three images,
// whole and inner blocks (pixel runs that start mid-image, cross images
// and end in partial 16-pixel blocks; partial slivers of lowered rows).
func TestSameTPacker(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for _, g := range sameGeoms {
		for _, images := range packerImages(g) {
			p, k := images*g.H*g.W, g.C*g.KH*g.KW
			x := randSlice(rng, images*g.C*g.H*g.W)
			col := lowered(g, x, images)
			var s SameTPacker
			s.Reset(g, images)
			s.SetImages(x)
			for _, nr := range []int{4, 16, 32} {
				kern := &microKernel{name: "test", mr: 4, nr: nr}
				for _, blk := range [][4]int{{0, 0, p, k}, {p / 3, nr * (k / (2 * nr)), p - p/3 - p/5, k - nr*(k/(2*nr))}, {5, 0, min(p-5, 37), min(k, 3)}} {
					pc, jc, kc, nc := blk[0], blk[1], blk[2], blk[3]
					if kc <= 0 || nc <= 0 {
						continue
					}
					size := (nc + nr - 1) / nr * nr * kc
					want := make([]float32, size)
					packB(kern, want, nil, true, col, p, pc, jc, kc, nc)
					got := make([]float32, size)
					for i := range got {
						got[i] = guard
					}
					s.PackB(got, pc, jc, kc, nc, nr)
					checkSame(t, fmt.Sprintf("%+v images %d nr %d block %v", g, images, nr, blk), got, want)
				}
			}
		}
	}
}

// TestSamePackerMisuse checks the programmer-error panics: a geometry that
// is not a stride-1 same convolution, too many images for small maps, and
// images shorter than the geometry.
func TestSamePackerMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	var s SamePacker
	mustPanic("stride 2", func() {
		s.Reset(ConvGeom{C: 1, H: 8, W: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, 1)
	})
	mustPanic("valid convolution", func() { s.Reset(ConvGeom{C: 1, H: 8, W: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1}, 1) })
	mustPanic("2×2 maps, 4 images", func() {
		s.Reset(ConvGeom{C: 1, H: 2, W: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 4)
	})
	s.Reset(ConvGeom{C: 2, H: 8, W: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 2)
	mustPanic("short images", func() { s.SetImages(make([]float32, 2*2*64-1)) })
	var u SamePacker
	mustPanic("no Reset", func() { u.SetImages(make([]float32, 10)) })
	mustPanic("GradStats lengths", func() { GradStats(make([]float32, 3), make([]float32, 2), nil, 0) })
}
