package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// fixture is one case of testdata/cases.json, written by
// scripts/gen_metric_fixtures.py with scikit-learn.
type fixture struct {
	Name     string    `json:"name"`
	Scores   []float64 `json:"scores"`
	Labels   []int32   `json:"labels"`
	Preds    []int32   `json:"preds"`
	FPR95    float64   `json:"fpr95"`
	FPR95ID  float64   `json:"fpr95_id"`
	AUROC    float64   `json:"auroc"`
	AUPRIn   float64   `json:"aupr_in"`
	AUPROut  float64   `json:"aupr_out"`
	Acc      *float64  `json:"acc"`
	ROCFPR   []float64 `json:"roc_fpr"`
	ROCTPR   []float64 `json:"roc_tpr"`
	Sklearn  string    `json:"-"`
	Generate string    `json:"-"`
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	raw, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []fixture `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 50 {
		t.Fatalf("only %d fixture cases", len(file.Cases))
	}
	return file.Cases
}

const tol = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

func TestComputeMatchesSklearn(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			got, err := Compute(f.Scores, f.Labels)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"FPR95", got.FPR95, f.FPR95},
				{"FPR95ID", got.FPR95ID, f.FPR95ID},
				{"AUROC", got.AUROC, f.AUROC},
				{"AUPRIn", got.AUPRIn, f.AUPRIn},
				{"AUPROut", got.AUPROut, f.AUPROut},
			} {
				if !near(c.got, c.want) {
					t.Errorf("%s = %.15g, sklearn %.15g", c.name, c.got, c.want)
				}
			}
			nOOD := 0
			for _, l := range f.Labels {
				if l == -1 {
					nOOD++
				}
			}
			if got.NumOOD != nOOD || got.NumID != len(f.Labels)-nOOD {
				t.Errorf("counts ID %d OOD %d, want %d %d", got.NumID, got.NumOOD, len(f.Labels)-nOOD, nOOD)
			}
			if f.Acc != nil {
				acc, err := Accuracy(f.Preds, f.Labels)
				if err != nil {
					t.Fatal(err)
				}
				if !near(acc, *f.Acc) {
					t.Errorf("Accuracy = %v, OpenOOD acc() %v", acc, *f.Acc)
				}
			}
		})
	}
}

func split(scores []float64, labels []int32) (id, ood []float64) {
	for i, s := range scores {
		if labels[i] == -1 {
			ood = append(ood, s)
		} else {
			id = append(id, s)
		}
	}
	return id, ood
}

func TestROCMatchesSklearn(t *testing.T) {
	n := 0
	for _, f := range loadFixtures(t) {
		if f.ROCFPR == nil {
			continue
		}
		n++
		id, ood := split(f.Scores, f.Labels)
		fpr, tpr, err := ROC(id, ood)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if len(fpr) != len(f.ROCFPR) || len(tpr) != len(f.ROCTPR) {
			t.Errorf("%s: %d ROC points, sklearn %d", f.Name, len(fpr), len(f.ROCFPR))
			continue
		}
		for i := range fpr {
			if !near(fpr[i], f.ROCFPR[i]) || !near(tpr[i], f.ROCTPR[i]) {
				t.Errorf("%s: point %d = (%v, %v), sklearn (%v, %v)", f.Name, i, fpr[i], tpr[i], f.ROCFPR[i], f.ROCTPR[i])
				break
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d cases with ROC points", n)
	}
}

// Evaluate on split inputs must equal Compute on the concatenation, and the
// result must not depend on the input order.
func TestEvaluateEqualsComputeAndIsOrderFree(t *testing.T) {
	for _, f := range loadFixtures(t) {
		want, err := Compute(f.Scores, f.Labels)
		if err != nil {
			t.Fatal(err)
		}
		id, ood := split(f.Scores, f.Labels)
		rng := rand.New(rand.NewPCG(1, uint64(len(f.Scores))))
		rng.Shuffle(len(id), func(i, j int) { id[i], id[j] = id[j], id[i] })
		rng.Shuffle(len(ood), func(i, j int) { ood[i], ood[j] = ood[j], ood[i] })
		got, err := Evaluate(id, ood)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: Evaluate %+v, Compute %+v", f.Name, got, want)
		}
	}
}

// The exact AUROC must equal the Mann–Whitney count computed pairwise.
func TestAUROCIsPairwiseProbability(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	id := make([]float64, 300)
	ood := make([]float64, 200)
	for i := range id {
		id[i] = float64(rng.IntN(20))
	}
	for i := range ood {
		ood[i] = float64(rng.IntN(15)) - 2
	}
	var wins float64
	for _, a := range id {
		for _, b := range ood {
			switch {
			case a > b:
				wins++
			case a == b:
				wins += 0.5
			}
		}
	}
	got, err := Evaluate(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	if want := wins / float64(len(id)*len(ood)); !near(got.AUROC, want) {
		t.Errorf("AUROC %v, pairwise %v", got.AUROC, want)
	}
}

func TestRadixSortMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 100, 5000} {
		for _, gen := range []func() float64{
			rng.NormFloat64,
			func() float64 { return float64(rng.IntN(5)) - 2 },
			func() float64 { return -rng.ExpFloat64() * 1e300 },
			func() float64 { return 1 },
		} {
			keys := make([]uint64, n)
			want := make([]float64, n)
			for i := range keys {
				want[i] = gen()
				keys[i], _ = key(want[i])
			}
			got := radixSort(keys, make([]uint64, n))
			slices.Sort(want)
			for i := range got {
				if got[i] != mustKey(want[i]) {
					t.Fatalf("n=%d: position %d differs", n, i)
				}
			}
		}
	}
}

func mustKey(s float64) uint64 {
	k, ok := key(s)
	if !ok {
		panic("bad score")
	}
	return k
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		scores []float64
		labels []int32
		want   string
	}{
		{"length", []float64{1, 2}, []int32{0}, "2 scores but 1 labels"},
		{"no OOD", []float64{1, 2}, []int32{0, 3}, "got 2 ID and 0 OOD"},
		{"no ID", []float64{1, 2}, []int32{-1, -1}, "got 0 ID and 2 OOD"},
		{"empty", nil, nil, "got 0 ID and 0 OOD"},
		{"NaN", []float64{1, math.NaN()}, []int32{0, -1}, "score 1 is NaN"},
		{"Inf", []float64{math.Inf(1), 1}, []int32{0, -1}, "score 0 is +Inf"},
		{"bad label", []float64{1, 2}, []int32{0, -2}, "label -2 at index 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compute(c.scores, c.labels)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "metrics: ") {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Evaluate([]float64{1}, []float64{math.Inf(-1)}); err == nil || !strings.Contains(err.Error(), "OOD score 0 is -Inf") {
		t.Errorf("Evaluate error %v", err)
	}
	if _, err := Accuracy([]int32{1}, []int32{-1}); err == nil {
		t.Error("Accuracy without ID rows: no error")
	}
	if _, err := Accuracy([]int32{1, 2}, []int32{1}); err == nil {
		t.Error("Accuracy length mismatch: no error")
	}
}

func TestECE(t *testing.T) {
	// bins of width 1/15: 0.95 and 1.0 share the last bin; 0.5 is alone.
	conf := []float64{1, 0.95, 0.5, 0.7}
	preds := []int32{1, 0, 2, 0}
	labels := []int32{1, 1, 2, -1} // the OOD row is ignored
	got, err := ECE(conf, preds, labels)
	if err != nil {
		t.Fatal(err)
	}
	// last bin: mean conf 0.975, accuracy 0.5, weight 2/3; 0.5's bin: |0.5 − 1|, weight 1/3.
	want := 2.0/3*math.Abs(0.975-0.5) + 1.0/3*0.5
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("ECE = %v, want %v", got, want)
	}
	if _, err := ECE([]float64{1.5}, []int32{0}, []int32{0}); err == nil {
		t.Error("confidence 1.5 accepted")
	}
	if _, err := ECE([]float64{0.5}, []int32{0}, []int32{-1}); err == nil {
		t.Error("no ID row accepted")
	}
}
