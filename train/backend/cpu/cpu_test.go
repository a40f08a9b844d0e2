package cpu

import (
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/backendtest"
)

func TestConformance(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		t.Run(map[int]string{1: "1thread", 2: "2threads", 3: "3threads"}[threads], func(t *testing.T) {
			backendtest.Run(t, func() backend.Backend { return New(threads) })
		})
	}
}
