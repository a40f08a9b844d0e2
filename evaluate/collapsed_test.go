package evaluate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run whose network collapsed in training (every feature 0, logits the
// bias alone) is scored like any other, with a note naming it; its norm
// ratios are 0/0, which results.json holds as null and reads back as NaN.
func TestCollapsedRunIsScoredAndNamed(t *testing.T) {
	g := newGen(31, "linear")
	runs := []Run{newGen(30, "linear").run("ok"), g.run("dead")}
	for _, s := range runs[1].Splits {
		tb := s.Table
		clear(tb.Feature)
		clear(tb.FeatureNormalized)
		clear(tb.FeatureNorm)
		for i := range tb.IDs {
			copy(tb.Logits[i*tb.NumClasses:(i+1)*tb.NumClasses], g.B)
			copy(tb.LogitsOOD[i*tb.NumClasses:(i+1)*tb.NumClasses], g.B)
		}
	}
	res, err := Evaluate(context.Background(), baseConfig("msp", "mls"), runs)
	if err != nil {
		t.Fatal(err)
	}
	var noted bool
	for _, n := range res.Notes {
		noted = noted || strings.Contains(n, "run dead: every ID test feature is 0") && strings.Contains(n, "collapsed")
		if strings.Contains(n, "run ok:") && strings.Contains(n, "collapsed") {
			t.Errorf("healthy run named collapsed: %s", n)
		}
	}
	if !noted {
		t.Errorf("no collapse note for run dead in %q", res.Notes)
	}
	dir := t.TempDir()
	if _, err := WriteOutputs(dir, res); err != nil {
		t.Fatalf("WriteOutputs with a collapsed run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ResultsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ratio_to_id": null`) {
		t.Errorf("%s has no null ratio_to_id", ResultsFileName)
	}
	back, err := ReadResults(filepath.Join(dir, ResultsFileName))
	if err != nil {
		t.Fatal(err)
	}
	var finite, nan int
	for _, n := range back.Norms {
		switch {
		case n.Run == 1 && math.IsNaN(n.RatioToID):
			nan++
		case n.Run == 0 && !math.IsNaN(n.RatioToID) && n.RatioToID > 0:
			finite++
		default:
			t.Errorf("run %d %s:%s ratio_to_id %v read back", n.Run, n.Dataset, n.Split, n.RatioToID)
		}
	}
	if nan == 0 || finite == 0 {
		t.Errorf("read back %d NaN (collapsed run) and %d finite (healthy run) ratios", nan, finite)
	}
	for _, m := range back.Methods {
		if m.Error != "" {
			t.Errorf("method %s failed on a collapsed run: %s", m.Method, m.Error)
		}
	}
}
