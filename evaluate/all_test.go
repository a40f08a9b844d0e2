package evaluate

import (
	"context"
	"testing"

	"github.com/t2f/t2f/evaluate/posthoc"
)

// Every registered method runs through the orchestration (views with and
// without features, train/val/OOD-val inputs, the search) without panicking;
// those that cannot run on this tiny D = 12 model fail with an error.
func TestAllMethods(t *testing.T) {
	run := newGen(50, "t2fnorm").run("r")
	cfg := baseConfig(posthoc.Names()...)
	cfg.OODVal = "tin"
	cfg.CSID = []string{"cc"}
	res, err := Evaluate(context.Background(), cfg, []Run{run})
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, m := range res.Methods {
		if m.Err != nil {
			t.Logf("%s: %v", m.Method, m.Err)
			continue
		}
		ok[m.Method] = true
		if len(m.Rows) != 5 || len(m.FSOOD) != 5 {
			t.Errorf("%s: %d rows, %d FSOOD rows", m.Method, len(m.Rows), len(m.FSOOD))
		}
		for _, r := range m.Rows {
			if !(r.Mean.AUROC >= 0 && r.Mean.AUROC <= 1) {
				t.Errorf("%s %s: AUROC %v", m.Method, r.Dataset, r.Mean.AUROC)
			}
		}
	}
	for _, m := range []string{"msp", "t2fnorm", "mls", "ebo", "react", "knn", "mds", "rmds", "gen", "klm", "temp_scaling", "gradnorm", "she", "dice", "fdbd", "nnguide", "ash", "scale"} {
		if !ok[m] {
			t.Errorf("%s did not run", m)
		}
	}
}
