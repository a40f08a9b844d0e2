package features

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gramWork.features is OpenOOD's G_p: the row sums of the C×C Gram matrix
// of x^p (computed here as the matrix itself), then sign·|·|^(1/p).
func TestGramFeaturesAreGramRowSums(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	tap := Tap{Name: "t", C: 5, H: 3, W: 4}
	hw := tap.H * tap.W
	m := make([]float32, tap.C*hw)
	for i := range m {
		m[i] = float32(r.NormFloat64())
	}
	st := &GramStats{Taps: []Tap{tap}, Powers: GramPowers, Classes: 1}
	w := newGramWork(st, 1)
	f := make([]float64, len(GramPowers)*tap.C)
	w.features(&w.scratch[0], m, tap, f)
	for pi, p := range GramPowers {
		for i := range tap.C {
			var row float64
			for j := range tap.C {
				var g float64
				for k := range hw {
					g += math.Pow(float64(m[i*hw+k]), float64(p)) * math.Pow(float64(m[j*hw+k]), float64(p))
				}
				row += g
			}
			want := math.Copysign(math.Pow(math.Abs(row), 1/float64(p)), row)
			if got := f[pi*tap.C+i]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("p=%d channel %d: %v, want %v", p, i, got, want)
			}
		}
	}
}

// GramHoldout draws int(0.1·L) distinct sorted positions per class,
// reproducibly, and different ones for another seed.
func TestGramHoldout(t *testing.T) {
	counts := []int{9, 10, 30, 70, 1000}
	a, b := GramHoldout(counts, 1), GramHoldout(counts, 1)
	for c, l := range counts {
		if len(a[c]) != l/10 || !slices.IsSorted(a[c]) || !slices.Equal(a[c], b[c]) {
			t.Errorf("class %d of %d images: %v (again %v), want %d sorted positions, the same twice", c, l, a[c], b[c], l/10)
		}
		if len(slices.Compact(slices.Clone(a[c]))) != len(a[c]) || (len(a[c]) > 0 && a[c][len(a[c])-1] >= l) {
			t.Errorf("class %d: positions %v not distinct or out of [0, %d)", c, a[c], l)
		}
	}
	if other := GramHoldout(counts, 2); slices.Equal(other[4], a[4]) {
		t.Error("seed 2 draws the same 100 positions as seed 1")
	}
}

// tapNet is an ExtraNetwork whose one tap is the input itself (C channels
// of H×W), with logits favouring class 0.
type tapNet struct {
	ExtraNetwork
	c, h, k int
}

func (n tapNet) InputShape() (c, h, w int) { return n.c, n.h, n.h }
func (n tapNet) NumClasses() int           { return n.k }
func (n tapNet) Dim() int                  { return 1 }
func (n tapNet) Taps() []Tap               { return []Tap{{Name: "x", C: n.c, H: n.h, W: n.h}} }
func (n tapNet) TapMaps(x []float32, k int, lo []float32, visit func(int, []float32) error) error {
	for i := range lo {
		lo[i] = 0
		if i%n.k == 0 {
			lo[i] = 1
		}
	}
	return visit(0, x)
}

type sliceSource struct {
	x      []float32
	c, h   int
	labels []int32
}

func (s sliceSource) Len() int             { return len(s.labels) }
func (s sliceSource) Shape() (c, h, w int) { return s.c, s.h, s.h }
func (s sliceSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	per := s.c * s.h * s.h
	copy(x, s.x[start*per:])
	for i := range ids {
		ids[i], labels[i] = int64(start+i), s.labels[start+i]
	}
	return nil
}

// TrainGramStats: the ranges come from the images not held out, the
// normalisation from the held-out ones, and bad inputs are errors naming
// the problem. Checked by hand on a one-channel, one-pixel tap: the Gram
// row sum of x^p is x^(2p) ≥ 0, so G_p(x) = x² for every p.
func TestTrainGramStats(t *testing.T) {
	vals := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20}
	labels := make([]int32, len(vals))
	src := sliceSource{x: vals, c: 1, h: 1, labels: labels}
	net := tapNet{c: 1, h: 1, k: 1}
	st, err := TrainGramStats(context.Background(), net, src, GramOptions{Holdout: [][]int{{10}}}, Options{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	for pi := range GramPowers {
		if st.Min[pi] != 1 || st.Max[pi] != 100 {
			t.Errorf("power %d: range [%v, %v], want [1, 100] (squares of 1..10)", GramPowers[pi], st.Min[pi], st.Max[pi])
		}
	}
	// The held-out 20 gives 400: (400 − 100)/|100 + 1e-6| per power.
	if want := 5 * 300 / (100 + 1e-6); math.Abs(st.Norm[0]-want) > 1e-9 {
		t.Errorf("normalisation %v, want %v", st.Norm[0], want)
	}
	spec := ExtraSpec{Methods: []string{ExtraGram}, Gram: st}
	test := sliceSource{x: []float32{5, 0.5}, c: 1, h: 1, labels: []int32{-1, -1}}
	tab, err := ComputeExtra(context.Background(), net, test, spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, float32(5 * (1 - 0.25) / (1 + 1e-6) / st.Norm[0])}
	if got := tab.Values[ColGramDeviation]; math.Abs(float64(got[0]-want[0])) > 1e-7 || math.Abs(float64(got[1]-want[1])) > 1e-6 {
		t.Errorf("deviations %v, want %v", got, want)
	}

	for _, c := range []struct {
		name    string
		classes int
		labels  []int32
		holdout [][]int
		want    string
	}{
		{"label out of range", 2, []int32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, nil, "row 10 has label 2"},
		{"empty class", 2, make([]int32, 11), nil, "class 1 has no ID-train image"},
		{"nothing held out", 2, []int32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}, nil, "no ID-train image is held out"},
		{"position out of range", 1, make([]int32, 11), [][]int{{11}}, "held-out position 11 of class 0"},
		{"all held out", 1, make([]int32, 2), [][]int{{0, 1}}, "every image of class 0 is held out"},
		{"held out inside the ranges", 1, make([]int32, 11), [][]int{{3}}, "no held-out image leaves its class's ranges"},
	} {
		s := sliceSource{x: vals[:len(c.labels)], c: 1, h: 1, labels: c.labels}
		_, err := TrainGramStats(context.Background(), tapNet{c: 1, h: 1, k: c.classes}, s, GramOptions{Holdout: c.holdout}, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
