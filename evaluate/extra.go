package evaluate

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"

	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
)

// loadExtra reads the extra-column file of t's split in the features
// directory dir (features.ExtraPath), or returns nil when there is none. The
// file must come from t's checkpoint and hold t's ids in t's order.
func loadExtra(dir string, t *features.Table) (*features.ExtraTable, error) {
	path := features.ExtraPath(dir, t.Meta.Dataset, t.Meta.Split)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	x, err := features.ReadExtra(path)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if x.Meta.CheckpointSHA256 != t.Meta.CheckpointSHA256 {
		return nil, fmt.Errorf("evaluate: %q comes from checkpoint %.12s…, its feature file from %.12s…; rerun t2f features --extra",
			path, x.Meta.CheckpointSHA256, t.Meta.CheckpointSHA256)
	}
	if x.Len() != t.Len() {
		return nil, fmt.Errorf("evaluate: %q has %d rows, its feature file %d", path, x.Len(), t.Len())
	}
	for i, id := range x.IDs {
		if id != t.IDs[i] {
			return nil, fmt.Errorf("evaluate: %q row %d has id %d, its feature file %d", path, i, id, t.IDs[i])
		}
	}
	return x, nil
}

// ExtraColumns is a split's extra columns as the posthoc methods read
// them (posthoc.Data.Extra, keyed by --extra name): ODIN's and IODIN's
// per-setting columns gathered into one row per sample in the grid order
// (NaN for a setting not computed), RankFeat's fused logits, and AdaScale's
// perturbed feature divided by div like the features (f/τ in the scoring
// view of a T2FNorm model), mds_ensemble's per-noise scores, gram's deviation and gmm's score.
func ExtraColumns(x *features.ExtraTable, div float32) map[string]posthoc.Column {
	if x == nil {
		return nil
	}
	n := x.Len()
	out := map[string]posthoc.Column{}
	for _, m := range []string{features.ExtraODIN, features.ExtraIODIN} {
		nt, nn := len(posthoc.ODINTemperatures), len(posthoc.ODINNoises)
		w := nt * nn
		var vals []float32
		for in, e := range posthoc.ODINNoises {
			for it, t := range posthoc.ODINTemperatures {
				col, ok := x.Values[features.ODINColumn(m, t, e)]
				if !ok {
					continue
				}
				if vals == nil {
					vals = make([]float32, n*w)
					for i := range vals {
						vals[i] = float32(math.NaN())
					}
				}
				for i := range n {
					vals[i*w+in*nt+it] = col[i]
				}
			}
		}
		if vals != nil {
			out[m] = posthoc.Column{Width: w, Values: vals}
		}
	}
	var mv []float32
	for k, e := range posthoc.MDSEnsembleNoises {
		col, ok := x.Values[features.MDSEnsembleColumn(e)]
		if !ok {
			continue
		}
		w := len(posthoc.MDSEnsembleNoises)
		if mv == nil {
			mv = make([]float32, n*w)
			for i := range mv {
				mv[i] = float32(math.NaN())
			}
		}
		for i := range n {
			mv[i*w+k] = col[i]
		}
	}
	if mv != nil {
		out[features.ExtraMDSEns] = posthoc.Column{Width: len(posthoc.MDSEnsembleNoises), Values: mv}
	}
	if v, ok := x.Values[features.ColGramDeviation]; ok {
		out[features.ExtraGram] = posthoc.Column{Width: 1, Values: v}
	}
	if v, ok := x.Values[features.ColGMMScore]; ok && n > 0 {
		out[features.ExtraGMM] = posthoc.Column{Width: 1, Values: v}
	}
	if v, ok := x.Values[features.ColRankFeatLogits]; ok && n > 0 {
		out[features.ExtraRankFeat] = posthoc.Column{Width: len(v) / n, Values: v}
	}
	if v, ok := x.Values[features.ColAdaScalePerturbed]; ok && n > 0 {
		if div != 1 {
			w := make([]float32, len(v))
			for i, f := range v {
				w[i] = f / div
			}
			v = w
		}
		c := posthoc.Column{Width: len(v) / n, Values: v}
		out[features.ExtraAdaScaleA], out[features.ExtraAdaScaleL] = c, c
	}
	return out
}
