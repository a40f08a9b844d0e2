package augment

import (
	"math"
	"strings"
	"testing"
)

// chiSquare of observed counts against a uniform expectation.
func chiSquare(counts []int, total int) float64 {
	e := float64(total) / float64(len(counts))
	s := 0.0
	for _, c := range counts {
		d := float64(c) - e
		s += d * d / e
	}
	return s
}

func TestDrawCropUniform(t *testing.T) {
	a, err := NewAugmenter(CropTransform(0, mustPreset(t, "cifar10")), Shape{32, 32, 3})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	cells := make([]int, 81*2) // (top, left, flip)
	same := 0
	for i := range n {
		p := a.Draw(1, 0, i)
		if p.Top < 0 || p.Top > 8 || p.Left < 0 || p.Left > 8 {
			t.Fatalf("row %d: corner (%d, %d) outside [0, 8]²", i, p.Top, p.Left)
		}
		f := 0
		if p.Flip {
			f = 1
		}
		cells[(p.Top*9+p.Left)*2+f]++
		if a.Draw(1, 1, i) == p {
			same++
		}
	}
	// 161 degrees of freedom: mean 161, sd 18; 260 is beyond 5 sd.
	if x := chiSquare(cells, n); x > 260 {
		t.Errorf("χ² of (top, left, flip) = %.1f over 162 cells, not uniform", x)
	}
	// Epochs 0 and 1 agree by chance on 1/162 of rows (≈123 ± 11).
	if same > 200 {
		t.Errorf("%d of %d rows draw the same choices in epochs 0 and 1", same, n)
	}
	b := a.Clone()
	if b.Draw(1, 0, 5) != a.Draw(1, 0, 5) || a.Draw(2, 0, 5) == a.Draw(1, 0, 5) && a.Draw(2, 0, 6) == a.Draw(1, 0, 6) {
		t.Error("draws are not a function of (seed, epoch, row)")
	}
}

func TestNoFlipKeepsCrops(t *testing.T) {
	tr := CropTransform(28, mustPreset(t, "mnist"))
	a, _ := NewAugmenter(tr, Shape{28, 28, 1})
	tr.NoFlip = true
	b, _ := NewAugmenter(tr, Shape{28, 28, 1})
	flips := 0
	for i := range 1000 {
		p, q := a.Draw(3, 2, i), b.Draw(3, 2, i)
		if q.Flip || p.Top != q.Top || p.Left != q.Left {
			t.Fatalf("row %d: flip-on %+v, flip-off %+v", i, p, q)
		}
		if p.Flip {
			flips++
		}
	}
	if flips < 400 || flips > 600 {
		t.Errorf("%d of 1000 flipped with flipping on", flips)
	}
}

func TestDrawResizedCrop(t *testing.T) {
	tr := ResizedCropTransform(224, mustPreset(t, "imagenet"))
	a, err := NewAugmenter(tr, Shape{256, 256, 3}) // square, so wide and tall boxes are equally likely
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var sumLogRatio, sumScale float64
	flips := 0
	for i := range n {
		p := a.Draw(9, 3, i)
		if p.Height <= 0 || p.Width <= 0 || p.Top < 0 || p.Left < 0 || p.Top+p.Height > 256 || p.Left+p.Width > 256 {
			t.Fatalf("row %d: box %+v outside 256×256", i, p)
		}
		scale := float64(p.Height*p.Width) / (256 * 256)
		ratio := float64(p.Width) / float64(p.Height)
		// Rounding the sides to integers moves area and ratio a little.
		if scale < 0.07 || scale > 1 || ratio < 0.7 || ratio > 1.43 {
			t.Fatalf("row %d: box %+v has area fraction %.3f, ratio %.3f", i, p, scale, ratio)
		}
		sumLogRatio += math.Log(ratio)
		sumScale += scale
		if p.Flip {
			flips++
		}
	}
	// log-ratio is uniform on ±0.288 (sd 0.166), symmetric: mean 0 ± 0.0012.
	if m := sumLogRatio / n; math.Abs(m) > 0.01 {
		t.Errorf("mean log aspect ratio %.4f, want ≈ 0", m)
	}
	// Area fraction: uniform on [0.08, 1] except rejected boxes, so the mean
	// sits a little below 0.54.
	if m := sumScale / n; m < 0.45 || m > 0.56 {
		t.Errorf("mean area fraction %.3f, want ≈ 0.5", m)
	}
	if flips < 9700 || flips > 10300 {
		t.Errorf("%d of %d flipped", flips, n)
	}
}

func TestPermutation(t *testing.T) {
	const n, trials = 10, 20000
	pos := make([]int, n) // where element 0 lands
	perm := make([]int, n)
	for s := range trials {
		permutation(perm, uint64(s), 0)
		seen := make([]bool, n)
		for i, v := range perm {
			if seen[v] {
				t.Fatalf("seed %d: %v is not a permutation", s, perm)
			}
			seen[v] = true
			if v == 0 {
				pos[i]++
			}
		}
	}
	if x := chiSquare(pos, trials); x > 35 { // 9 dof
		t.Errorf("position of element 0: χ² %.1f, counts %v", x, pos)
	}
	a, b := make([]int, 50), make([]int, 50)
	permutation(a, 1, 0)
	permutation(b, 1, 1)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 5 {
		t.Errorf("epochs 0 and 1 share %d of 50 positions", same)
	}
}

func TestIntnUnbiased(t *testing.T) {
	r := rng{5}
	counts := make([]int, 7)
	for range 70000 {
		counts[r.intn(7)]++
	}
	if x := chiSquare(counts, 70000); x > 25 { // 6 dof
		t.Errorf("intn(7): χ² %.1f, counts %v", x, counts)
	}
}

func TestApplyErrors(t *testing.T) {
	a, _ := NewAugmenter(CropTransform(0, mustPreset(t, "cifar10")), Shape{32, 32, 3})
	img := make([]uint8, 32*32*3)
	dst := make([]float32, 3*32*32)
	r, _ := NewAugmenter(ResizedCropTransform(16, mustPreset(t, "cifar10")), Shape{32, 32, 3})
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"short image", a.Apply(dst, img[1:], Params{}), "3071 bytes"},
		{"short dst", a.Apply(dst[1:], img, Params{}), "3071 values"},
		{"corner", a.Apply(dst, img, Params{Top: 9}), "outside [0, 8]"},
		{"box", r.Apply(make([]float32, 3*16*16), img, Params{Top: 20, Height: 13, Width: 4}), "outside the 32×32×3"},
		{"empty box", r.Apply(make([]float32, 3*16*16), img, Params{}), "outside"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestPresets(t *testing.T) {
	for _, name := range []string{"cifar10", "cifar100", "imagenet", "imagenet200", "mnist", "CIFAR10"} {
		if _, err := Preset(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Preset("svhn"); err == nil || !strings.Contains(err.Error(), "svhn") {
		t.Errorf("unknown preset: %v", err)
	}
	n, _ := Preset("imagenet")
	tab, err := n.Table(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Byte 0 after normalisation is −mean/std.
	if got, want := tab[0], float32(-0.456)/float32(0.224); got != want {
		t.Errorf("imagenet green table[0] %v, want %v", got, want)
	}
}
