package posthoc

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOutOfScopeDisjointFromRegistry(t *testing.T) {
	for _, e := range OutOfScope() {
		if slices.Contains(Names(), e.Name) {
			t.Errorf("%s is both registered and out of scope", e.Name)
		}
		if _, err := New(e.Name); err == nil {
			t.Errorf("New(%q) succeeded for an out-of-scope method", e.Name)
		}
		if r, ok := IsOutOfScope(e.Name); !ok || r == "" {
			t.Errorf("IsOutOfScope(%q) = %q, %v", e.Name, r, ok)
		}
	}
	if _, ok := IsOutOfScope("knn"); ok {
		t.Error("knn reported out of scope")
	}
}

func TestMissingExtraNamesTheFlag(t *testing.T) {
	nd := Needs{Logits: true, Extra: []string{"odin", "gram"}}
	d := &Data{N: 2, C: 3, Logits: make([]float32, 6), Extra: map[string]Column{"gram": {Width: 1, Values: []float32{1, 2}}}}
	err := MissingExtra("odin", "x_test.parquet", nd, d)
	if err == nil || !errors.Is(err, ErrMissingExtra) {
		t.Fatalf("got %v, want ErrMissingExtra", err)
	}
	for _, want := range []string{"posthoc: odin:", "x_test.parquet", "t2f features --extra odin`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	d.Extra["odin"] = Column{Width: 1, Values: []float32{3, 4}}
	if err := MissingExtra("odin", "x_test.parquet", nd, d); err != nil {
		t.Errorf("all columns present: %v", err)
	}
	if err := MissingExtra("knn", "x", Needs{Feature: true}, d); err != nil {
		t.Errorf("method without extras: %v", err)
	}
	if got := ExtraOf("knn"); got != nil {
		t.Errorf("ExtraOf(knn) = %v, want nil", got)
	}
}
