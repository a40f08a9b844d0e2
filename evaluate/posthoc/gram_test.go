package posthoc

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// gram's score is −deviation / max softmax(logits); without its column the
// error names the --extra that computes it.
func TestGramScore(t *testing.T) {
	s, err := New("gram")
	if err != nil {
		t.Fatal(err)
	}
	d := &Data{N: 2, C: 2, Logits: []float32{0, 0, 3, 1}}
	if _, err := s.Score(d); !errors.Is(err, ErrMissingExtra) || !strings.Contains(err.Error(), "`t2f features --extra gram`") {
		t.Errorf("no column: %v, want ErrMissingExtra naming `t2f features --extra gram`", err)
	}
	d.Extra = map[string]Column{"gram": {Width: 1, Values: []float32{1, 2}}}
	got, err := s.Score(d)
	if err != nil {
		t.Fatal(err)
	}
	p := 1 / (1 + math.Exp(-2))
	if want := []float64{-1 / 0.5, -2 / p}; math.Abs(got[0]-want[0]) > 1e-12 || math.Abs(got[1]-want[1]) > 1e-12 {
		t.Errorf("scores %v, want %v", got, want)
	}
	d.Extra["gram"] = Column{Width: 1, Values: []float32{1, float32(math.Inf(1))}}
	if _, err := s.Score(d); err == nil || !strings.Contains(err.Error(), "sample 1") {
		t.Errorf("infinite deviation: %v, want an error naming sample 1", err)
	}
}
