package posthoc

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

// Needs must be exact: a FitInput holding only what Needs declares is enough,
// and dropping any declared input makes Fit (or Score) fail with an error.
func TestNeedsAreExact(t *testing.T) {
	fx := loadFixture(t)
	for _, name := range Names() {
		if networkMethods[name] {
			continue // oracle: the network fixture (network_test.go)
		}
		t.Run(name, func(t *testing.T) {
			s, _ := New(name)
			nd := s.Needs()
			in := FitInput{}
			if nd.Train {
				in.Train = fx.train
			}
			if nd.Val {
				in.Val = fx.val
			}
			if nd.Head {
				in.Head = fx.in.Head
			}
			d := &Data{N: fx.tst.N, D: fx.tst.D, C: fx.tst.C}
			if nd.Feature {
				d.Feature = fx.tst.Feature
			}
			if nd.Logits {
				d.Logits = fx.tst.Logits
			}
			if nd.Members {
				d.Members = [][]float32{fx.tst.Logits, fx.tst.Logits}
			}
			if name == "vim" {
				mustSet(t, s, 8)
			}
			if err := s.Fit(in); err != nil {
				t.Fatalf("Fit with exactly the declared inputs: %v", err)
			}
			if _, err := s.Score(d); err != nil {
				t.Fatalf("Score with exactly the declared inputs: %v", err)
			}
			drop := map[string]func(FitInput, *Data) (FitInput, *Data){}
			if nd.Train {
				drop["train"] = func(in FitInput, d *Data) (FitInput, *Data) { in.Train = nil; return in, d }
			}
			if nd.Val {
				drop["val"] = func(in FitInput, d *Data) (FitInput, *Data) { in.Val = nil; return in, d }
			}
			if nd.Head {
				drop["head"] = func(in FitInput, d *Data) (FitInput, *Data) { in.Head = nil; return in, d }
			}
			if nd.Feature {
				drop["feature"] = func(in FitInput, d *Data) (FitInput, *Data) { c := *d; c.Feature = nil; return in, &c }
			}
			if nd.Logits {
				drop["logits"] = func(in FitInput, d *Data) (FitInput, *Data) { c := *d; c.Logits = nil; return in, &c }
			}
			if nd.Members {
				drop["members"] = func(in FitInput, d *Data) (FitInput, *Data) { c := *d; c.Members = nil; return in, &c }
			}
			if nd.TrainLabels {
				drop["train labels"] = func(in FitInput, d *Data) (FitInput, *Data) {
					c := *in.Train
					c.Labels = nil
					in.Train = &c
					return in, d
				}
			}
			if nd.ValLabels {
				drop["val labels"] = func(in FitInput, d *Data) (FitInput, *Data) {
					c := *in.Val
					c.Labels = nil
					in.Val = &c
					return in, d
				}
			}
			for what, f := range drop {
				s, _ := New(name)
				if name == "vim" {
					mustSet(t, s, 8)
				}
				in2, d2 := f(in, d)
				err := s.Fit(in2)
				if err == nil {
					_, err = s.Score(d2)
				}
				if err == nil {
					t.Errorf("without %s: no error", what)
				} else if !strings.HasPrefix(err.Error(), "posthoc: "+name+":") {
					t.Errorf("without %s: error %q does not start with %q", what, err, "posthoc: "+name+":")
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	fx := loadFixture(t)
	nanFeat := append([]float32(nil), fx.tst.Feature...)
	nanFeat[3*fx.D+2] = float32(math.NaN())
	cases := []struct {
		name, method string
		in           FitInput
		score        *Data
		want         string
	}{
		{"unknown method", "nope", FitInput{}, nil, `unknown method "nope"`},
		{"missing train", "knn", FitInput{}, nil, "ID train is missing"},
		{"short features", "knn", FitInput{Train: &Data{N: 3, D: 4, Feature: make([]float32, 11)}}, nil, "have 11 values, want N×D = 3×4"},
		{"NaN in scored features", "knn", fx.in, &Data{N: fx.tst.N, D: fx.D, C: fx.C, Feature: nanFeat}, "feature of sample 3 (dimension 2) is NaN"},
		{"dimension mismatch", "mds", fx.in, &Data{N: 1, D: 3, Feature: make([]float32, 3)}, "feature dimension 3, fitted on 16"},
		{"class missing in train", "mds", FitInput{Train: &Data{N: 2, D: 1, C: 3, Feature: []float32{1, 2}, Labels: []int32{0, 1}}}, nil, "no sample of class 2"},
		{"label out of range", "she", FitInput{Train: &Data{N: 1, D: 1, C: 2, Feature: []float32{1}, Logits: []float32{1, 0}, Labels: []int32{5}}}, nil, "label of sample 0 is 5"},
		{"head shape", "react", FitInput{Val: fx.val, Head: linear{W: make([]float32, 7), B: make([]float32, 5)}}, nil, "want C×D = 5×16"},
		{"zero feature vector", "knn", FitInput{Train: &Data{N: 2, D: 2, Feature: []float32{1, 0, 0, 0}}}, nil, "sample 1 has an all-zero feature vector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.method)
			if err == nil {
				err = s.Fit(c.in)
			}
			if err == nil && c.score != nil {
				_, err = s.Score(c.score)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestScoreBeforeFit(t *testing.T) {
	fx := loadFixture(t)
	for _, name := range Names() {
		s, _ := New(name)
		nd := s.Needs()
		if !nd.Train && !nd.Val && !nd.Head {
			continue // nothing to fit
		}
		if _, err := s.Score(fx.tst); err == nil || !strings.Contains(err.Error(), "before Fit") {
			t.Errorf("%s: Score before Fit: got %v", name, err)
		}
	}
}

func TestKNNNotApplicable(t *testing.T) {
	fx := loadFixture(t)
	s := newKNN(Options{})
	if err := s.Fit(fx.in); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, float64(fx.train.N+1))
	if _, err := s.Score(fx.tst); !errors.Is(err, ErrNotApplicable) {
		t.Fatalf("K > N: got %v, want ErrNotApplicable", err)
	}
}

func TestGridOrder(t *testing.T) {
	// OpenOOD's recursive_generator: the first list varies fastest.
	g, err := Grid(newGEN())
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 42 {
		t.Fatalf("%d combinations, want 42", len(g))
	}
	want := [][]float64{{0.01, 10}, {0.1, 10}, {0.5, 10}}
	for i, w := range want {
		if g[i][0] != w[0] || g[i][1] != w[1] {
			t.Errorf("combination %d = %v, want %v", i, g[i], w)
		}
	}
	if last := g[41]; last[0] != 10 || last[1] != 1000 {
		t.Errorf("last combination %v, want [10 1000]", last)
	}
}

// Search keeps the first of equal AUROCs (strict >) and starts from 0.
func TestSearchFirstMaximumWins(t *testing.T) {
	fx := loadFixture(t)
	calls := 0
	// AUROC by trial index: 0.7, 0.9, 0.9, 0.8 for react's 4 percentiles.
	fake := func([]float64, []int32) float64 {
		calls++
		return []float64{0.7, 0.9, 0.9, 0.8}[calls-1]
	}
	set, err := Search(newReAct(), fx.in, fx.val, fx.oodval, fake)
	if err != nil {
		t.Fatal(err)
	}
	if set[0].Value != 90 {
		t.Fatalf("chose %v, want percentile=90 (first of two maxima)", set)
	}
	calls = 0
	zero := func([]float64, []int32) float64 { return 0 }
	if _, err := Search(newReAct(), fx.in, fx.val, fx.oodval, zero); err == nil {
		t.Fatal("all AUROCs 0: got no error (OpenOOD fails too)")
	}
}

// t2fnorm is MSP on whatever logits it is given; the fixture's t2fnorm
// expectation was computed from fc(f/τ) in torch.
func TestT2FNormIsMSPOnGivenLogits(t *testing.T) {
	fx := loadFixture(t)
	d := &Data{N: fx.tst.N, C: fx.C, Logits: fx.logitsOOD}
	a, _ := New("t2fnorm")
	b, _ := New("msp")
	sa, err := a.Score(d)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := b.Score(d)
	compareScores(t, "t2fnorm vs msp", sa, sb, 0, 0)
	compareScores(t, "t2fnorm vs torch fc(f/τ)", sa, fx.Methods["t2fnorm"].Test, 1e-9, 1e-12)
}

// After Fit, Score only reads the Scorer: concurrent calls agree with a
// serial one (run with -race to check for data races).
func TestConcurrentScore(t *testing.T) {
	fx := loadFixture(t)
	for _, name := range Names() {
		if networkMethods[name] {
			continue // oracle: the network fixture (network_test.go)
		}
		s, _ := New(name)
		if name == "vim" {
			mustSet(t, s, 8)
		}
		if err := s.Fit(fx.in); err != nil {
			t.Fatal(err)
		}
		tst := *fx.tst
		tst.Members = [][]float32{fx.tst.Logits, fx.tst.Logits}
		fx.tst = &tst
		want, err := s.Score(fx.tst)
		if err != nil {
			t.Fatal(err)
		}
		got := make([][]float64, 3)
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for g := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[g], errs[g] = s.Score(fx.tst)
			}()
		}
		wg.Wait()
		for g := range got {
			if errs[g] != nil {
				t.Fatalf("%s: %v", name, errs[g])
			}
			compareScores(t, name+" concurrent", got[g], want, 0, 0)
		}
	}
}
