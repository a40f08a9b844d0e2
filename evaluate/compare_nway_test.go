package evaluate

import (
	"bytes"
	"strings"
	"testing"
)

// trained sets every run's training method, as feature files record it.
func trained(res *Result, method string) *Result {
	for i := range res.Runs {
		res.Runs[i].Method = method
	}
	return res
}

// TestCompareMethods compares three training methods with one baseline:
// each is judged by its own headline scorer (msp for LogitNorm and OE, the
// t2fnorm scorer for T2FNorm) against MSP on the baseline, with the
// significance rule of the two-way comparison.
func TestCompareMethods(t *testing.T) {
	acc := []float64{0.99, 0.99, 0.99}
	norms := []float64{5, 5, 5}
	base := roundTrip(t, fakeResult("linear", []string{"msp", "t2fnorm"}, []float64{0.80, 0.81, 0.79}, []float64{0.90, 0.91, 0.89}, acc, norms, norms), "ce.json")
	// T2FNorm: msp would be bad, its t2fnorm scorer is good on both groups.
	t2r := fakeResult("t2fnorm", []string{"msp", "t2fnorm"}, []float64{0.90, 0.91, 0.89}, []float64{0.97, 0.98, 0.96}, acc, norms, norms)
	t2r.Methods[0] = fakeResult("t2fnorm", []string{"msp"}, []float64{0.5, 0.5, 0.5}, []float64{0.5, 0.5, 0.5}, acc, norms, norms).Methods[0]
	t2f := roundTrip(t, trained(t2r, TrainT2FNorm), "t2f.json")
	// LogitNorm: msp better on near only, within the threshold on far; its
	// t2fnorm scorer (not its view) would be worse.
	lnr := fakeResult("linear", []string{"msp", "t2fnorm"}, []float64{0.85, 0.86, 0.84}, []float64{0.902, 0.912, 0.892}, []float64{0.97, 0.97, 0.97}, norms, norms)
	lnr.Methods[1] = fakeResult("linear", []string{"t2fnorm"}, []float64{0.1, 0.1, 0.1}, []float64{0.1, 0.1, 0.1}, acc, norms, norms).Methods[0]
	ln := roundTrip(t, trained(lnr, TrainLogitNorm), "ln.json")
	// OE: far better, near worse.
	oe := roundTrip(t, trained(fakeResult("linear", []string{"msp"}, []float64{0.70, 0.71, 0.69}, []float64{0.99, 0.99, 0.99}, acc, norms, norms), TrainOE), "oe.json")

	n, err := CompareMethods(base, []MethodResults{{TrainT2FNorm, t2f}, {TrainLogitNorm, ln}, {TrainOE, oe}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		method, scorer, answer string
		near, far, acc         Outcome
	}{
		{TrainT2FNorm, "t2fnorm", "yes", Better, Better, Same},
		{TrainLogitNorm, "msp", "partly", Better, Same, Worse},
		{TrainOE, "msp", "mixed", Worse, Better, Same},
	}
	if len(n.Methods) != len(want) {
		t.Fatalf("%d methods, want %d", len(n.Methods), len(want))
	}
	for i, w := range want {
		m := n.Methods[i]
		if m.Method != w.method || m.Scorer != w.scorer || m.Verdict.Answer != w.answer || m.Verdict.Near != w.near || m.Verdict.Far != w.far || m.Verdict.Accuracy != w.acc {
			t.Errorf("%s: scorer %s, verdict %s (near %s, far %s, acc %s); want %s, %s (%s, %s, %s)\n%s", m.Method, m.Scorer, m.Verdict.Answer,
				m.Verdict.Near, m.Verdict.Far, m.Verdict.Accuracy, w.scorer, w.answer, w.near, w.far, w.acc, m.Verdict.Summary)
		}
		if !strings.HasPrefix(m.Verdict.Summary, strings.ToUpper(w.answer[:1])+w.answer[1:]+":") || !strings.Contains(m.Verdict.Summary, m.Label) {
			t.Errorf("%s summary %q does not say %s for %s", m.Method, m.Verdict.Summary, w.answer, m.Label)
		}
	}
	if d := rowOf(n.Methods[1].Headline, KindNearOOD).AUROC; d.Base.Mean != 80 || d.T2F.Mean != 85 {
		t.Errorf("LogitNorm near AUROC %v → %v, want msp on both: 80 → 85", d.Base.Mean, d.T2F.Mean)
	}

	var b bytes.Buffer
	if err := WriteMethodsComparison(&b, n, true); err != nil {
		t.Fatal(err)
	}
	rep := b.String()
	for _, s := range []string{
		"# Training methods vs the cross-entropy baseline on mnist",
		"Made by t2f",
		"ln.json, /", "oe.json were all scored by an unstamped build",
		"## All training methods side by side on mnist",
		"| CE (baseline) | msp | 3 | 80.00 ± 0.82 | 90.00 ± 0.82 | 20.00 ± 0.82 | 10.00 ± 0.82 | 99.00 ± 0.00 | – |",
		"| T2FNorm | t2fnorm | 3 | 90.00 ± 0.82 | 97.00 ± 0.82 | 10.00 ± 0.82 | 3.00 ± 0.82 | 99.00 ± 0.00 | yes |",
		"| LogitNorm | msp | 3 | 85.00 ± 0.82 |",
		"| OE | msp | 3 | 70.00 ± 0.82 | 99.00 ± 0.00 |",
		"## OE vs the CE baseline: did OE help?",
		"| ID accuracy | | | | 99.00 ± 0.00 | 97.00 ± 0.00 | -2.00 ✗ |",
		"| **nearood** | 20.00 ± 0.82 | 30.00 ± 0.82 | +10.00 ✗ | 80.00 ± 0.82 | 70.00 ± 0.82 | -10.00 ✗ |",
	} {
		if !strings.Contains(rep, s) {
			t.Errorf("report lacks %q:\n%s", s, rep)
		}
	}
	b.Reset()
	if err := WriteMethodsComparison(&b, n, false); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, "# Training methods") || strings.Contains(s, "Made by") || strings.Contains(s, "Warning") || !strings.HasPrefix(s, "\n## All training methods") {
		t.Errorf("after a two-way report: want sections only, no title or provenance:\n%s", s)
	}
	// Results from different builds: named, and warned about, in both forms.
	oe.Code = "0123456789ab"
	if n, err = CompareMethods(base, []MethodResults{{TrainLogitNorm, ln}, {TrainOE, oe}}); err != nil {
		t.Fatal(err)
	}
	for _, standalone := range []bool{true, false} {
		b.Reset()
		if err := WriteMethodsComparison(&b, n, standalone); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"(baseline), t2f unknown (LogitNorm), t2f 0123456789ab (OE).", "**Warning:** ", "oe.json by t2f 0123456789ab.", "different code scored the results: "} {
			if !strings.Contains(b.String(), s) {
				t.Errorf("standalone %v: report lacks %q:\n%s", standalone, s, b.String())
			}
		}
	}
}

func TestCompareMethodsErrors(t *testing.T) {
	one := []float64{0.9}
	ce := roundTrip(t, fakeResult("linear", []string{"msp"}, one, one, one, one, one), "ce.json")
	ln := roundTrip(t, trained(fakeResult("linear", []string{"msp"}, one, one, one, one, one), TrainLogitNorm), "ln.json")
	lnNoMSP := roundTrip(t, trained(fakeResult("linear", []string{"knn"}, one, one, one, one, one), TrainLogitNorm), "lnk.json")
	other := trained(fakeResult("linear", []string{"msp"}, one, one, one, one, one), TrainOE)
	other.Config.Far = []string{"textures"}
	for _, tc := range []struct {
		name    string
		base    *Results
		methods []MethodResults
		want    string
	}{
		{"none", ce, nil, "no training method"},
		{"baseline not ce", ln, []MethodResults{{TrainLogitNorm, ln}}, "trained with logitnorm, want ce"},
		{"wrong method", ce, []MethodResults{{TrainOE, ln}}, "ln.json: run run0 was trained with logitnorm, given as oe"},
		{"no scorer", ce, []MethodResults{{TrainLogitNorm, lnNoMSP}}, "lnk.json (logitnorm) has no successful msp"},
		{"other sets", ce, []MethodResults{{TrainOE, roundTrip(t, other, "o.json")}}, "same sets"},
	} {
		if _, err := CompareMethods(tc.base, tc.methods); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
