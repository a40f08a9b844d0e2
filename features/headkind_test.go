package features_test

import (
	"testing"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/train/nn"
)

// The head kinds a feature file records and the tensor names of its head
// file are the names the network that wrote it uses: one name for each
// thing, spelled in features so that readers need not import train/nn.
func TestHeadNamesAreTheNetworks(t *testing.T) {
	for _, c := range []struct{ what, features, nn string }{
		{"linear head", features.HeadLinear, nn.HeadLinear},
		{"T2FNorm head", features.HeadT2FNorm, nn.HeadT2FNorm},
		{"head weight", features.NamesWeight[0], nn.FCWeight},
		{"head bias", features.NamesBias[0], nn.FCBias},
		{"τ", features.NamesTau[0], nn.TauBuffer},
	} {
		if c.features != c.nn {
			t.Errorf("%s: features says %q, train/nn %q", c.what, c.features, c.nn)
		}
	}
}
