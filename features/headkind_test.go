package features_test

import (
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train/nn"
)

// The head kinds a feature file records are the names the network that
// wrote it gives its head: one name for each head.
func TestHeadKindsAreTheNetworkHeads(t *testing.T) {
	for _, c := range []struct{ features, nn string }{
		{features.HeadLinear, nn.HeadLinear},
		{features.HeadT2FNorm, nn.HeadT2FNorm},
	} {
		if c.features != c.nn {
			t.Errorf("features names a head %q, train/nn %q", c.features, c.nn)
		}
	}
}
