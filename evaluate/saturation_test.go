package evaluate

import (
	"math"
	"strings"
	"testing"
)

func TestTopTie(t *testing.T) {
	scores := []Scores{
		// run 0: top 1; ID 3 of 4 at it, OOD 1 of 4 (the val split is not counted)
		{Run: 0, Role: RoleID, Values: []float64{1, 1, 0.5, 1}},
		{Run: 0, Role: RoleNear, Values: []float64{1, 0.2}},
		{Run: 0, Role: RoleFar, Values: []float64{0.3, 0.9}},
		{Run: 0, Role: RoleIDVal, Values: []float64{2, 2, 2}},
		// run 1: top 0.9 only in OOD; ID 0 of 2, OOD 2 of 3
		{Run: 1, Role: RoleID, Values: []float64{0.8, 0.7}},
		{Run: 1, Role: RoleFar, Values: []float64{0.9, 0.9, 0.1}},
	}
	got := topTie(scores, 2)
	wantID, wantOOD := (75.0+0)/2, (25.0+200.0/3)/2
	if got.Value != 1 || got.Samples != 8 || math.Abs(got.IDPct-wantID) > 1e-12 || math.Abs(got.OODPct-wantOOD) > 1e-12 {
		t.Errorf("topTie = %+v, want value 1, 8 samples, ID %.4f%%, OOD %.4f%%", got, wantID, wantOOD)
	}
	if !got.Saturated() || math.Abs(got.TiedPairs()-wantID*wantOOD/1e4) > 1e-12 {
		t.Errorf("%+v: want saturated, %.4f of pairs tied", got, wantID*wantOOD/1e4)
	}
	// Many ID samples but hardly any OOD sample at the top: 20% × 4% = 0.8% of pairs.
	id := []float64{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	ood := make([]float64, 50)
	ood[0], ood[1] = 1, 1
	if d := topTie([]Scores{{Role: RoleID, Values: id}, {Role: RoleNear, Values: ood}}, 1); d.Saturated() || math.Abs(d.TiedPairs()-0.008) > 1e-12 {
		t.Errorf("20%% ID, 4%% OOD tied: %+v (pairs %.4f), want 0.008 and not saturated", d, d.TiedPairs())
	}
}

// TestSaturationSurfaces checks the tie reaches results.json, the Result's
// notes and the comparison's evidence.
func TestSaturationSurfaces(t *testing.T) {
	acc, n := []float64{0.99}, []float64{10}
	base := fakeResult("linear", []string{"msp"}, []float64{0.9}, []float64{0.9}, acc, n, n)
	t2f := fakeResult("t2fnorm", []string{"t2fnorm"}, []float64{0.6}, []float64{0.6}, acc, n, n)
	t2f.Methods[0].TopTie = TopTie{Value: 1, IDPct: 71.5, OODPct: 58.25, Samples: 100}
	c, err := Compare(roundTrip(t, base, "b.json"), roundTrip(t, t2f, "t.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found string
	for _, e := range c.Verdict.Evidence {
		if strings.Contains(e, "saturates") {
			found = e
		}
	}
	if !strings.Contains(found, "t2fnorm on T2FNorm") || !strings.Contains(found, "71.5%") || !strings.Contains(found, "58.2%") {
		t.Errorf("evidence %q, want the t2fnorm tie with 71.5%% and 58.2%%", c.Verdict.Evidence)
	}
	for _, e := range c.Verdict.Evidence {
		if strings.Contains(e, "msp on the baseline saturates") {
			t.Errorf("unsaturated baseline reported: %q", e)
		}
	}
	// The N-way verdict: LogitNorm's msp saturates, the baseline's does not.
	ln := fakeResult("linear", []string{"msp"}, []float64{0.6}, []float64{0.6}, acc, n, n)
	ln.Runs[0].Method = TrainLogitNorm
	ln.Methods[0].TopTie = TopTie{Value: 1, IDPct: 40, OODPct: 30, Samples: 100}
	nc, err := CompareMethods(roundTrip(t, base, "b.json"), []MethodResults{{TrainLogitNorm, roundTrip(t, ln, "l.json")}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := strings.Join(nc.Methods[0].Verdict.Evidence, "\n"); !strings.Contains(ev, "msp on LogitNorm saturates: 40.0%") || strings.Contains(ev, "on the baseline saturates") {
		t.Errorf("N-way evidence %q, want LogitNorm's msp tie only", ev)
	}
}
