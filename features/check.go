package features

import (
	"fmt"
	"math"
)

// Check verifies the table's shape and values: Dim and NumClasses positive,
// every column of the length its row count implies, every float finite,
// labels ≥ −1 and preds in [0, NumClasses). Errors name the column and the
// row (0-based) with its id.
func (t *Table) Check() error {
	if t.Dim < 1 || t.NumClasses < 1 {
		return fmt.Errorf("features: table has dim %d and %d classes, want both ≥ 1", t.Dim, t.NumClasses)
	}
	n := len(t.IDs)
	for _, c := range []struct {
		name     string
		got, per int
	}{
		{colLabel, len(t.Labels), 1},
		{colPred, len(t.Preds), 1},
		{colFeature, len(t.Feature), t.Dim},
		{colFeatureNormalized, len(t.FeatureNormalized), t.Dim},
		{colFeatureNorm, len(t.FeatureNorm), 1},
		{colLogits, len(t.Logits), t.NumClasses},
		{colLogitsOOD, len(t.LogitsOOD), t.NumClasses},
	} {
		if c.got != n*c.per {
			return fmt.Errorf("features: column %s has %d values, want %d (%d rows × %d)", c.name, c.got, n*c.per, n, c.per)
		}
	}
	for _, c := range []struct {
		name string
		v    []float32
		per  int
	}{
		{colFeature, t.Feature, t.Dim},
		{colFeatureNormalized, t.FeatureNormalized, t.Dim},
		{colFeatureNorm, t.FeatureNorm, 1},
		{colLogits, t.Logits, t.NumClasses},
		{colLogitsOOD, t.LogitsOOD, t.NumClasses},
	} {
		if i := firstNonFinite(c.v); i >= 0 {
			r := i / c.per
			return fmt.Errorf("features: column %s row %d (id %d): value %v is not finite", c.name, r, t.IDs[r], c.v[i])
		}
	}
	for r, l := range t.Labels {
		if l < -1 {
			return fmt.Errorf("features: column label row %d (id %d): %d, want −1 (OOD) or a class index", r, t.IDs[r], l)
		}
	}
	for r, p := range t.Preds {
		if p < 0 || int(p) >= t.NumClasses {
			return fmt.Errorf("features: column pred row %d (id %d): %d, want [0, %d)", r, t.IDs[r], p, t.NumClasses)
		}
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in v, or −1.
func firstNonFinite(v []float32) int {
	// x−x is 0 for finite x and NaN for NaN and ±Inf; checking eight at a
	// time keeps the loop branch-light, the slow path finds the index.
	i := 0
	for ; i+8 <= len(v); i += 8 {
		s := (v[i] - v[i]) + (v[i+1] - v[i+1]) + (v[i+2] - v[i+2]) + (v[i+3] - v[i+3]) +
			(v[i+4] - v[i+4]) + (v[i+5] - v[i+5]) + (v[i+6] - v[i+6]) + (v[i+7] - v[i+7])
		if s != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return i
		}
	}
	return -1
}
