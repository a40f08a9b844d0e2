package posthoc

import (
	"math"
	"testing"
)

// numpy.percentile([1, 2, 3, 4], p) (linear): 1, 2.5, 3.7, 4; and
// [10, 20] at 25 → 12.5.
func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		x    []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4}, 90, 3.7},
		{[]float64{1, 2, 3, 4}, 100, 4},
		{[]float64{10, 20}, 25, 12.5},
		{[]float64{7}, 90, 7},
	} {
		if got := percentileSorted(c.x, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.x, c.p, got, c.want)
		}
	}
}

// OpenOOD's NNGuide setup loop: batches of 200 until b·200 > int(N·α).
func TestNNGuideBankSize(t *testing.T) {
	for _, c := range []struct {
		n, batch int
		alpha    float64
		want     int
	}{
		{50000, 200, 0.01, 600}, // CIFAR-10: int(500) → 3 batches
		{1200, 200, 0.01, 200},  // int(12) → 1 batch
		{100, 200, 0.01, 100},   // one partial batch
		{60000, 128, 0.01, 640}, // int(600) → 5 batches of 128
		{40000, 200, 0.01, 600}, // int(400): 2·200 is not > 400 → 3 batches
	} {
		if got := nnguideBankSize(c.n, c.batch, c.alpha); got != c.want {
			t.Errorf("N=%d batch=%d α=%v: bank %d, want %d", c.n, c.batch, c.alpha, got, c.want)
		}
	}
}

// ASH k = n − round(n·p/100) with numpy's half-to-even rounding.
func TestASHK(t *testing.T) {
	for _, c := range []struct {
		n    int
		p    float64
		want int
	}{
		{512, 90, 51}, {512, 65, 179}, {16, 65, 6}, {16, 85, 2}, {10, 25, 8}, {10, 35, 6},
	} { // 10·25/100 = 2.5 → 2; 10·35/100 = 3.5 → 4
		if got := ashK(c.n, c.p); got != c.want {
			t.Errorf("ashK(%d, %v) = %d, want %d", c.n, c.p, got, c.want)
		}
	}
}

// ASH on a vector with tied values at the k-th position keeps the lower
// index (documented choice; torch leaves it unspecified). f = (0, 3, 0, 0),
// p = 50 → k = 2: entries 1 and 0 (the lower of the tied zeros) get s1/k =
// 1.5. With W = I and b = 0 the logits are (1.5, 1.5, 0, 0).
func TestASHTies(t *testing.T) {
	const D = 4
	w := make([]float32, D*D)
	for i := 0; i < D; i++ {
		w[i*D+i] = 1
	}
	a := newASH()
	if err := a.Fit(FitInput{Head: linear{W: w, B: make([]float32, D)}}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, a, 50)
	got, err := a.Score(&Data{N: 1, D: D, C: D, Feature: []float32{0, 3, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	want := math.Log(2*math.Exp(1.5) + 2)
	if math.Abs(got[0]-want) > 1e-12 {
		t.Fatalf("score %v, want %v", got[0], want)
	}
}

// A rejected Set leaves the previous values in place.
func TestSetRejectsAndKeeps(t *testing.T) {
	for _, c := range []struct {
		name string
		bad  []float64
	}{
		{"ebo", []float64{0}}, {"react", []float64{101}}, {"ash", []float64{-1}}, {"knn", []float64{2.5}},
		{"gen", []float64{0.1, 0}}, {"vim", []float64{-3}}, {"fdbd", []float64{0.5}}, {"nnguide", []float64{100, 2}},
		{"dice", []float64{90, 1}}, {"residual", []float64{1.5}},
	} {
		s, _ := New(c.name)
		tu := s.(Tunable)
		before := tu.Setting().String()
		if err := tu.Set(c.bad...); err == nil {
			t.Errorf("%s: Set(%v) accepted", c.name, c.bad)
		}
		if after := tu.Setting().String(); after != before {
			t.Errorf("%s: rejected Set changed %q to %q", c.name, before, after)
		}
	}
}
