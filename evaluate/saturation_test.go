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
	if !got.Saturated() {
		t.Errorf("%.1f%% of ID tied: want saturated", got.IDPct)
	}
	// Distinct scores: one ID sample at the top of 30 is 3.3% < 5%.
	var distinct []float64
	for i := range 30 {
		distinct = append(distinct, float64(i))
	}
	if d := topTie([]Scores{{Role: RoleID, Values: distinct}}, 1); d.Saturated() || math.Abs(d.IDPct-100.0/30) > 1e-12 {
		t.Errorf("distinct scores: %+v, want 3.33%% and not saturated", d)
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
}
