package evaluate

import (
	"slices"
	"testing"

	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
)

// posthoc cannot import features, so the extra names a scorer asks for are
// spelled on both sides; this keeps them one name: every --extra a scorer
// needs is one `t2f features --extra` accepts, and every extra features
// computes has a scorer of that name.
func TestScorerExtrasAreFeatureExtras(t *testing.T) {
	names := posthoc.Names()
	needing := 0
	for _, m := range names {
		if len(posthoc.ExtraOf(m)) > 0 {
			needing++
		}
		for _, x := range posthoc.ExtraOf(m) {
			if !slices.Contains(features.ExtraNames, x) {
				t.Errorf("posthoc %s needs --extra %q, which features.ExtraNames %v lacks", m, x, features.ExtraNames)
			}
		}
	}
	if needing < len(features.ExtraNames)-1 { // dropout needs no column
		t.Errorf("only %d scorers need an --extra; features has %d", needing, len(features.ExtraNames))
	}
	for _, x := range features.ExtraNames {
		if !slices.Contains(names, x) {
			t.Errorf("features computes --extra %q but posthoc has no scorer of that name", x)
		}
	}
}
