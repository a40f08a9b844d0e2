package backendtest

import (
	"testing"

	"github.com/t2f/t2f/train/backend"
)

// The reference backend passes the suite (it checks the plumbing: shapes,
// every output written, aliasing, scratch-free repeated calls).
func TestReferenceConformance(t *testing.T) {
	Run(t, func() backend.Backend { return NewReference() })
}
