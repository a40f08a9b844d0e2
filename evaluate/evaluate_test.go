package evaluate

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/features"
)

func baseConfig(methods ...string) Config {
	return Config{ID: "cif", Near: []string{"n1", "n2"}, Far: []string{"f1"}, Methods: methods}
}

func scoresOf(t *testing.T, m MethodResult, run int, dataset string) []float64 {
	t.Helper()
	for _, s := range m.Scores {
		if s.Run == run && s.Dataset == dataset {
			return s.Values
		}
	}
	t.Fatalf("%s: no scores for run %d dataset %s", m.Method, run, dataset)
	return nil
}

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func accuracyRef(preds, labels []int32) float64 {
	c := 0
	for i := range preds {
		if preds[i] == labels[i] {
			c++
		}
	}
	return float64(c) / float64(len(preds))
}

func wantValues(t *testing.T, id, ood []float64, acc, ece float64) Values {
	t.Helper()
	m, err := metrics.Evaluate(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	return Values{FPR95: m.FPR95, AUROC: m.AUROC, AUPRIn: m.AUPRIn, AUPROut: m.AUPROut, ACC: acc, FPR95ID: m.FPR95ID, ECE: ece}
}

// eceRef is the 15-bin ECE of the tables' plain-forward logits; the max
// softmax is torch's float32 one: exp(0)·(1/Σ_c fl32(exp(z_c − max))).
func eceRef(tables ...*features.Table) float64 {
	var conf, hit [15]float64
	var cnt [15]int
	n := 0
	for _, t := range tables {
		C := t.NumClasses
		for i := 0; i < t.Len(); i++ {
			z := t.Logits[i*C : (i+1)*C]
			mx := slices.Max(z)
			var s float32
			for _, v := range z {
				s += float32(math.Exp(float64(v - mx)))
			}
			p := float64(1 / s)
			b := min(int(p*15), 14)
			conf[b] += p
			cnt[b]++
			if t.Preds[i] == t.Labels[i] {
				hit[b]++
			}
			n++
		}
	}
	var e float64
	for b := range cnt {
		if cnt[b] > 0 {
			k := float64(cnt[b])
			e += k / float64(n) * math.Abs(conf[b]/k-hit[b]/k)
		}
	}
	return e
}

func valuesClose(a, b Values) bool {
	x, y := a.percent(), b.percent()
	for i := range x {
		if !closeTo(x[i], y[i], 1e-9) {
			return false
		}
	}
	return true
}

func mean(vs ...Values) Values {
	var m Values
	n := float64(len(vs))
	for _, v := range vs {
		m.FPR95 += v.FPR95 / n
		m.AUROC += v.AUROC / n
		m.AUPRIn += v.AUPRIn / n
		m.AUPROut += v.AUPROut / n
		m.ACC += v.ACC / n
		m.FPR95ID += v.FPR95ID / n
		m.ECE += v.ECE / n
	}
	return m
}

// msp scores the training forward, t2fnorm the OOD forward (logits_ood); the
// table rows are per-set metrics of all ID test scores vs the set, the
// near/far rows their plain means, ACC the plain-forward ID accuracy.
func TestViewsAndOpenOODAggregation(t *testing.T) {
	g := newGen(1, "t2fnorm")
	run := g.run("r1")
	res, err := Evaluate(context.Background(), baseConfig("msp", "t2fnorm", "gradnorm"), []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Failed(); err != nil {
		t.Fatal(err)
	}
	idT := run.split("cif", "test")
	acc := accuracyRef(idT.Preds, idT.Labels)
	ece := eceRef(idT)
	for _, m := range res.Methods {
		// Scores against independent formulas.
		for _, ds := range []string{"cif", "n1", "n2", "f1"} {
			tb := run.split(ds, "test")
			got := scoresOf(t, m, 0, ds)
			for i := range got {
				var want float64
				switch m.Method {
				case "msp":
					want = mspRef(tb.Logits, g.C, i)
				case "t2fnorm":
					want = mspRef(tb.LogitsOOD, g.C, i)
				case "gradnorm": // (Σ_c |C·p_c − 1|)·Σ_j |f_j/τ| on the scoring view
					var a, l1 float64
					row := tb.LogitsOOD[i*g.C : (i+1)*g.C]
					mx := math.Inf(-1)
					for _, z := range row {
						mx = math.Max(mx, float64(z))
					}
					var se float64
					for _, z := range row {
						se += math.Exp(float64(z) - mx)
					}
					for _, z := range row {
						a += math.Abs(float64(g.C)*math.Exp(float64(z)-mx)/se - 1)
					}
					for _, f := range tb.Feature[i*g.D : (i+1)*g.D] {
						l1 += math.Abs(float64(f / float32(g.tau)))
					}
					want = a * l1
				}
				if !closeTo(got[i], want, 1e-5) {
					t.Fatalf("%s on %s row %d: score %v, want %v", m.Method, ds, i, got[i], want)
				}
			}
		}
		id := scoresOf(t, m, 0, "cif")
		n1 := wantValues(t, id, scoresOf(t, m, 0, "n1"), acc, ece)
		n2 := wantValues(t, id, scoresOf(t, m, 0, "n2"), acc, ece)
		f1 := wantValues(t, id, scoresOf(t, m, 0, "f1"), acc, ece)
		want := []struct {
			name, kind string
			v          Values
		}{{"n1", KindNear, n1}, {"n2", KindNear, n2}, {"nearood", KindNearOOD, mean(n1, n2)}, {"f1", KindFar, f1}, {"farood", KindFarOOD, f1}}
		if len(m.Rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", m.Method, len(m.Rows), len(want))
		}
		for i, w := range want {
			r := m.Rows[i]
			if r.Dataset != w.name || r.Kind != w.kind || !valuesClose(r.Mean, w.v) || r.Std != (Values{}) {
				t.Errorf("%s row %d: %s %s %+v std %+v, want %s %s %+v", m.Method, i, r.Dataset, r.Kind, r.Mean, r.Std, w.name, w.kind, w.v)
			}
		}
		if m.FSOOD != nil {
			t.Errorf("%s: FSOOD table without CSID sets", m.Method)
		}
	}
	// The two MSPs must differ on a T2FNorm model (different forwards).
	if a, b := res.Methods[0].Rows[0].Mean.AUROC, res.Methods[1].Rows[0].Mean.AUROC; a == b {
		t.Errorf("msp and t2fnorm AUROC equal (%v): views not distinct", a)
	}
	if res.Runs[0].ScoringDivisor != float64(float32(0.1)) {
		t.Errorf("scoring divisor %v, want τ", res.Runs[0].ScoringDivisor)
	}
}

// Several runs: every cell is the mean and population std of the per-run
// tables; each run evaluated alone gives its own column.
func TestRunsMeanAndPopulationStd(t *testing.T) {
	var runs []Run
	for s := range uint64(3) {
		runs = append(runs, newGen(10+s, "t2fnorm").run("seed"+string(rune('0'+s))))
	}
	cfg := baseConfig("t2fnorm", "mls")
	res, err := Evaluate(context.Background(), cfg, runs)
	if err != nil {
		t.Fatal(err)
	}
	for mi, m := range res.Methods {
		for ri, row := range m.Rows {
			var per []Values
			for r := range runs {
				alone, err := Evaluate(context.Background(), cfg, runs[r:r+1])
				if err != nil {
					t.Fatal(err)
				}
				per = append(per, alone.Methods[mi].Rows[ri].Mean)
			}
			mu := mean(per...)
			if !valuesClose(row.Mean, mu) {
				t.Errorf("%s %s: mean %+v, want %+v", m.Method, row.Dataset, row.Mean, mu)
			}
			// Population std of AUROC and FPR95 by hand.
			for _, c := range []struct {
				name string
				get  func(Values) float64
			}{{"AUROC", func(v Values) float64 { return v.AUROC }}, {"FPR95", func(v Values) float64 { return v.FPR95 }}} {
				var ss float64
				for _, v := range per {
					ss += (c.get(v) - c.get(mu)) * (c.get(v) - c.get(mu))
				}
				if want := math.Sqrt(ss / 3); !closeTo(c.get(row.Std), want, 1e-9) {
					t.Errorf("%s %s: std %s %v, want %v", m.Method, row.Dataset, c.name, c.get(row.Std), want)
				}
			}
			if len(row.Runs) != 3 {
				t.Errorf("%d per-run values", len(row.Runs))
			}
		}
	}
}

// FSOOD: ID = ID test ∪ CSID with labels kept, ACC over both.
func TestFullSpectrum(t *testing.T) {
	g := newGen(3, "linear")
	run := g.run("r")
	cfg := baseConfig("msp", "ebo")
	cfg.CSID = []string{"cc"}
	res, err := Evaluate(context.Background(), cfg, []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	idT, cc := run.split("cif", "test"), run.split("cc", "test")
	fsAcc := accuracyRef(append(append([]int32{}, idT.Preds...), cc.Preds...), append(append([]int32{}, idT.Labels...), cc.Labels...))
	acc := accuracyRef(idT.Preds, idT.Labels)
	for _, m := range res.Methods {
		if m.FSOOD == nil {
			t.Fatalf("%s: no FSOOD table", m.Method)
		}
		id := append(append([]float64{}, scoresOf(t, m, 0, "cif")...), scoresOf(t, m, 0, "cc")...)
		want := wantValues(t, id, scoresOf(t, m, 0, "f1"), fsAcc, eceRef(idT, cc))
		if got := m.FSOOD[3].Mean; m.FSOOD[3].Dataset != "f1" || !valuesClose(got, want) {
			t.Errorf("%s FSOOD f1 %+v, want %+v", m.Method, got, want)
		}
		if m.Rows[3].Mean.ACC != acc || m.FSOOD[0].Mean.ACC != fsAcc {
			t.Errorf("%s ACC %v / FSOOD %v, want %v / %v", m.Method, m.Rows[3].Mean.ACC, m.FSOOD[0].Mean.ACC, acc, fsAcc)
		}
		if m.Rows[3].Mean.AUROC == m.FSOOD[3].Mean.AUROC {
			t.Errorf("%s: FSOOD AUROC equals the plain one", m.Method)
		}
	}
}

// The search runs on ID val ∪ OOD val and records its choice; without
// --ood-val the defaults are used.
func TestSearchUsesOODVal(t *testing.T) {
	run := newGen(4, "t2fnorm").run("r")
	cfg := baseConfig("ebo", "react")
	cfg.OODVal = "tin"
	res, err := Evaluate(context.Background(), cfg, []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Failed(); err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Methods {
		if !m.Searched[0] || m.Settings[0] == "" {
			t.Errorf("%s: searched %v setting %q", m.Method, m.Searched, m.Settings)
		}
	}
	cfg.OODVal = ""
	res, err = Evaluate(context.Background(), cfg, []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Methods[1]; m.Searched[0] || m.Settings[0] != "percentile=90" {
		t.Errorf("react without OOD val: searched %v setting %q, want the default percentile=90", m.Searched, m.Settings)
	}
}

func TestResolveRefs(t *testing.T) {
	run := newGen(5, "linear").run("r")
	cfg := baseConfig("msp")
	cfg.Near = []string{"tin"} // has val and test: test is taken
	cfg.OODVal = "tin"         // val is taken
	p, err := resolve(&run, cfg, needs{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ood[0].Table.Meta.Split != "test" || p.oodVal.Table.Meta.Split != "val" {
		t.Errorf("near %s, ood val %s", p.ood[0].Table.Meta.Split, p.oodVal.Table.Meta.Split)
	}
	cfg.Near = []string{"tin:val"}
	cfg.OODVal = ""
	if p, err = resolve(&run, cfg, needs{}); err != nil || p.ood[0].Table.Meta.Split != "val" {
		t.Errorf("tin:val resolved to %v, %v", p, err)
	}
	cfg.Near = []string{"tin:train"}
	if _, err := resolve(&run, cfg, needs{}); err == nil || !strings.Contains(err.Error(), `has no split "train"`) || !strings.Contains(err.Error(), "val (r/tin_val.parquet)") {
		t.Errorf("missing split error: %v", err)
	}
	cfg.Near = []string{"nope"}
	if _, err := resolve(&run, cfg, needs{}); err == nil || !strings.Contains(err.Error(), `no feature file with dataset "nope"`) {
		t.Errorf("missing dataset error: %v", err)
	}
}

func TestQuantileLikeNumpy(t *testing.T) {
	v := []float64{1, 2, 3, 4}
	// numpy.quantile([1,2,3,4], q) with the default linear method.
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.05, 1.15}, {0.25, 1.75}, {0.5, 2.5}, {0.95, 3.85}, {1, 4}} {
		if got := quantile(v, c.q); !closeTo(got, c.want, 1e-12) {
			t.Errorf("quantile %v = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestNormStats(t *testing.T) {
	run := newGen(6, "t2fnorm").run("r")
	res, err := Evaluate(context.Background(), baseConfig("msp"), []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	var idMean float64
	for _, n := range res.Norms {
		if n.Role == RoleID {
			idMean = n.Mean
		}
	}
	if len(res.Norms) != 4 { // ID test, n1, n2, f1 (msp needs no train/val)
		t.Fatalf("%d norm rows: %+v", len(res.Norms), res.Norms)
	}
	for _, n := range res.Norms {
		v := run.split(n.Dataset, n.Split).FeatureNorm
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		if !closeTo(n.Mean, s/float64(len(v)), 1e-12) || n.Count != len(v) || !closeTo(n.RatioToID, n.Mean/idMean, 1e-12) {
			t.Errorf("%s: %+v", n.Dataset, n)
		}
		if !(n.Min <= n.Q05 && n.Q05 <= n.Q50 && n.Q50 <= n.Q95 && n.Q95 <= n.Max) {
			t.Errorf("%s quantiles out of order: %+v", n.Dataset, n)
		}
	}
}
