package evaluate

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeResult builds a Result of one method per entry of aurocs: for each
// run r, the near row has AUROC near[r] and the far row far[r] (fractions);
// FPR@95 is 1 − AUROC, ACC acc[r]. Norms: ID mean idNorm[r], the OOD set
// oodNorm[r].
func fakeResult(head string, methods []string, near, far, acc, idNorm, oodNorm []float64) *Result {
	res := &Result{Config: Config{ID: "mnist", Near: []string{"letters"}, Far: []string{"noise"}, Methods: methods}}
	for r := range near {
		res.Runs = append(res.Runs, RunInfo{Name: "run" + string(rune('0'+r)), Model: "lenet", Head: head, Tau: 0.1, CheckpointSHA256: "ab", Dim: 84, NumClasses: 10})
		res.Norms = append(res.Norms,
			NormStats{Run: r, Dataset: "mnist", Split: "test", Role: RoleID, Count: 10, Mean: idNorm[r], RatioToID: 1},
			NormStats{Run: r, Dataset: "letters", Split: "test", Role: RoleNear, Count: 10, Mean: oodNorm[r], RatioToID: oodNorm[r] / idNorm[r]})
	}
	for _, m := range methods {
		mr := MethodResult{Method: m}
		for _, k := range []struct {
			ds, kind string
			v        []float64
		}{{"letters", KindNear, near}, {"nearood", KindNearOOD, near}, {"noise", KindFar, far}, {"farood", KindFarOOD, far}} {
			row := Row{Dataset: k.ds, Kind: k.kind}
			for r, a := range k.v {
				row.Runs = append(row.Runs, Values{AUROC: a, FPR95: 1 - a, AUPRIn: a, AUPROut: a, ACC: acc[r], FPR95ID: 1 - a})
			}
			row.Mean = row.Runs[0]
			mr.Rows = append(mr.Rows, row)
		}
		res.Methods = append(res.Methods, mr)
	}
	return res
}

// roundTrip writes res with WriteJSON (the format t2f score writes) and
// reads it back with ReadResults.
func roundTrip(t *testing.T, res *Result, name string) *Results {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadResults(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadResults(t *testing.T) {
	res := fakeResult("linear", []string{"msp"}, []float64{0.9, 0.8}, []float64{0.95, 0.85}, []float64{0.99, 0.98}, []float64{10, 12}, []float64{8, 9})
	r := roundTrip(t, res, "results.json")
	if r.ID != "mnist" || len(r.Runs) != 2 || r.Runs[1].Head != "linear" || len(r.Methods) != 1 || len(r.Norms) != 4 {
		t.Fatalf("read back %+v", r)
	}
	row := r.Methods[0].Rows[2]
	if row.Dataset != "noise" || row.Kind != KindFar || len(row.Runs) != 2 || math.Abs(row.Runs[1].AUROC-85) > 1e-9 || math.Abs(row.Runs[0].ACC-99) > 1e-9 {
		t.Errorf("far row %+v, want noise with AUROC 85 in run 2 (percent)", row)
	}
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte(`{"methods": []}`), 0o644)
	if _, err := ReadResults(bad); err == nil || !strings.Contains(err.Error(), "x.json") {
		t.Errorf("error %v, want one naming x.json", err)
	}
}

func TestCompareVerdict(t *testing.T) {
	acc := []float64{0.99, 0.99, 0.99}
	idN := []float64{10, 10, 10}
	base := roundTrip(t, fakeResult("linear", []string{"msp", "t2fnorm", "knn"},
		[]float64{0.90, 0.92, 0.94}, []float64{0.80, 0.80, 0.80}, acc, idN, []float64{12, 12, 12}), "base.json")
	for _, tc := range []struct {
		name      string
		near, far []float64
		want      string
		near0     Outcome
		far0      Outcome
	}{
		// near: base 92 ± 1.633; +3 points with the same spread: threshold 2·sqrt(2·1.633²/3) = 2.667 < 3.
		{"both better", []float64{0.93, 0.95, 0.97}, []float64{0.90, 0.90, 0.90}, "yes", Better, Better},
		// +2 points near is inside that threshold.
		{"far only", []float64{0.92, 0.94, 0.96}, []float64{0.90, 0.90, 0.90}, "partly", Same, Better},
		{"mixed", []float64{0.80, 0.80, 0.80}, []float64{0.90, 0.90, 0.90}, "mixed", Worse, Better},
		{"worse", []float64{0.92, 0.92, 0.92}, []float64{0.70, 0.70, 0.70}, "no", Same, Worse},
		// far: +0.4 points, below the 0.5-point minimum effect.
		{"same", []float64{0.92, 0.92, 0.92}, []float64{0.804, 0.804, 0.804}, "no", Same, Same},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t2f := roundTrip(t, fakeResult("t2fnorm", []string{"msp", "t2fnorm", "knn"}, tc.near, tc.far, acc, []float64{5, 5, 5}, []float64{4, 4, 4}), "t2f.json")
			c, err := Compare(base, t2f)
			if err != nil {
				t.Fatal(err)
			}
			v := c.Verdict
			if v.Answer != tc.want || v.Near != tc.near0 || v.Far != tc.far0 || v.Accuracy != Same {
				t.Errorf("verdict %q (near %v far %v acc %v), want %q (near %v far %v acc same): %s", v.Answer, v.Near, v.Far, v.Accuracy, tc.want, tc.near0, tc.far0, v.Summary)
			}
			if !strings.HasPrefix(strings.ToLower(v.Summary), tc.want) {
				t.Errorf("summary %q does not start with %q", v.Summary, tc.want)
			}
			near := c.Headline[1]
			wantDiff := (tc.near[0]+tc.near[1]+tc.near[2])/3*100 - 92
			if near.Dataset != "nearood" || math.Abs(near.AUROC.Diff-wantDiff) > 1e-9 || math.Abs(near.AUROC.Base.Std-math.Sqrt(8.0/3)) > 1e-9 {
				t.Errorf("nearood %+v, want Δ %.4f and baseline std %.4f", near.AUROC, wantDiff, math.Sqrt(8.0/3))
			}
			// FPR@95 is 100 − AUROC here: its outcome mirrors AUROC's except where the 1-point minimum swallows it.
			if len(c.Methods) != 3 || c.Methods[2].Method != "knn" {
				t.Errorf("methods %+v, want msp, t2fnorm, knn", c.Methods)
			}
			// Norms: ID 10 → 5, letters ratio 1.2 → 0.8.
			var got []string
			for _, n := range c.Norms {
				got = append(got, n.Dataset+"/"+n.Role)
			}
			if len(c.Norms) != 2 || c.Norms[0].Role != RoleID || math.Abs(c.Norms[1].Ratio.Base.Mean-1.2) > 1e-9 || math.Abs(c.Norms[1].Ratio.T2F.Mean-0.8) > 1e-9 || c.Norms[1].Ratio.Outcome != Better {
				t.Errorf("norms %v %+v", got, c.Norms)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	one := []float64{0.9}
	lin := roundTrip(t, fakeResult("linear", []string{"msp"}, one, one, one, one, one), "lin.json")
	t2f := roundTrip(t, fakeResult("t2fnorm", []string{"t2fnorm"}, one, one, one, one, one), "t2f.json")
	other := fakeResult("t2fnorm", []string{"t2fnorm"}, one, one, one, one, one)
	other.Config.Far = []string{"textures"}
	for _, tc := range []struct {
		name      string
		base, t2f *Results
		want      string
	}{
		{"swapped", t2f, lin, "want linear"},
		{"same kind", lin, lin, "want t2fnorm"},
		{"no msp", roundTrip(t, fakeResult("linear", []string{"knn"}, one, one, one, one, one), "k.json"), t2f, "no successful msp"},
		{"no t2fnorm scorer", lin, roundTrip(t, fakeResult("t2fnorm", []string{"msp"}, one, one, one, one, one), "m.json"), "no successful t2fnorm"},
		{"other sets", lin, roundTrip(t, other, "o.json"), "same sets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compare(tc.base, tc.t2f)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "evaluate: ") {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteComparison(t *testing.T) {
	one := []float64{0.9}
	base := roundTrip(t, fakeResult("linear", []string{"msp", "knn"}, one, []float64{0.8}, one, []float64{10}, []float64{12}), "b.json")
	tr := fakeResult("t2fnorm", []string{"t2fnorm", "knn", "klm"}, one, []float64{0.9}, one, []float64{5}, []float64{4})
	tr.Methods[2].Err = errors.New("klm scored -Inf")
	t2f := roundTrip(t, tr, "t.json")
	c, err := Compare(base, t2f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plots, err := WriteComparisonPlots(dir, c)
	if err != nil || len(plots) != 1 {
		t.Fatalf("plots %v, %v", plots, err)
	}
	if st, err := os.Stat(plots[0]); err != nil || st.Size() < 1000 {
		t.Errorf("plot %s: %v", plots[0], err)
	}
	var b bytes.Buffer
	if err := WriteComparison(&b, c, ComparisonLinks{Plots: ".", Baseline: "score-ce", T2FNorm: "score-t2f"}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"**Partly: T2FNorm improved far-OOD AUROC +10.00 on mnist",
		"| **farood** | 20.00 | 10.00 | -10.00 ✓ | 80.00 | 90.00 | +10.00 ✓ |",
		"| **nearood** | 10.00 | 10.00 | +0.00 | 90.00 | 90.00 | +0.00 |",
		"| knn | 90.00 | 90.00 | +0.00 | 10.00 | 10.00 | 80.00 | 90.00 | +10.00 ✓ |",
		"| letters | test | near | 12 | 4 | 1.200 | 0.800 |",
		"![OOD/ID norm ratio, both models](norm_ratio.png)",
		"![letters, baseline](score-ce/norm_letters.png) ![letters, T2FNorm](score-t2f/norm_letters.png)",
		"![t2fnorm on T2FNorm](score-t2f/roc_t2fnorm.png)",
		"- klm failed on T2FNorm and is left out: klm scored -Inf",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
