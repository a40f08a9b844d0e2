package features

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestParseExtra(t *testing.T) {
	got, err := ParseExtra(" rankfeat,odin,,odin ,adascale_l")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ExtraODIN, ExtraRankFeat, ExtraAdaScaleL}; !slices.Equal(got, want) {
		t.Errorf("ParseExtra = %v, want %v (ExtraNames order, no duplicates)", got, want)
	}
	for in, want := range map[string]string{"gmn": `unknown method "gmn"`, "odn": `unknown method "odn"`} {
		if _, err := ParseExtra(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseExtra(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestExtraColumnsAndCost(t *testing.T) {
	s := ExtraSpec{Methods: []string{ExtraODIN, ExtraRankFeat, ExtraAdaScaleA, ExtraAdaScaleL}}
	cols := s.Columns(16, 5)
	if len(cols) != 10 || cols[0].Name != "odin_t1_n0.0014" || cols[1].Name != "odin_t10_n0.0014" ||
		cols[4].Name != "odin_t1_n0.0028" || cols[8] != (ExtraColumn{ColRankFeatLogits, 5}) || cols[9] != (ExtraColumn{ColAdaScalePerturbed, 16}) {
		t.Errorf("columns %v", cols)
	}
	if c := s.Cost(); c != (Cost{Forward: 1 + 8 + 1 + 2, Backward: 4 + 1, Partial: 2}) {
		t.Errorf("cost %+v", c)
	}
	one := ExtraSpec{Methods: []string{ExtraIODIN}, Temperatures: []float64{1000}, Noises: []float64{0.0014}}
	if c := one.Cost(); c != (Cost{Forward: 2, Backward: 1}) || c.String() != "2 forward + 1 backward passes per image" {
		t.Errorf("one setting: cost %+v %q", c, c)
	}
	stats := ExtraSpec{Methods: []string{ExtraGram, ExtraMDSEns}}
	if c, want := stats.Cost().String(), "1 forward + 0 backward passes + 3 partial passes per image, after 2.1 forwards per ID-train image for the statistics"; c != want {
		t.Errorf("train statistics: cost %q, want %q", c, want)
	}
	if c, want := (ExtraSpec{Methods: []string{ExtraGMM}}).Cost().String(), "1 forward + 0 backward passes per image, after 1 forward per ID-train image for the statistics"; c != want {
		t.Errorf("gmm: cost %q, want %q", c, want)
	}
}

func TestExtraFileRoundTrip(t *testing.T) {
	tab := &ExtraTable{
		Meta:    Meta{Dataset: "d", Split: "test", Model: "resnet18_32x32", Width: 1, Head: "linear", Tau: 1, Classes: []string{"a", "b"}, CheckpointSHA256: "ab"},
		IDs:     []int64{4, 9, 2},
		Columns: []ExtraColumn{{"odin_t1_n0.0014", 1}, {ColRankFeatLogits, 2}},
		Values: map[string][]float32{
			"odin_t1_n0.0014": {0.5, 0.25, 1},
			ColRankFeatLogits: {1, 2, 3, 4, 5, 6},
		},
	}
	path := ExtraPath(t.TempDir(), "d", "test")
	if err := WriteExtra(path, tab, 3, 2); err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(path)) != ExtraDirName {
		t.Errorf("path %s not under %s/", path, ExtraDirName)
	}
	got, err := ReadExtra(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.IDs, tab.IDs) || !slices.Equal(got.Columns, tab.Columns) || got.Meta.CheckpointSHA256 != "ab" {
		t.Fatalf("read back %+v", got)
	}
	for k, v := range tab.Values {
		if !slices.Equal(got.Values[k], v) {
			t.Errorf("%s = %v, want %v", k, got.Values[k], v)
		}
	}
	tab.Values[ColRankFeatLogits] = tab.Values[ColRankFeatLogits][:5]
	if err := WriteExtra(path, tab, 3, 2); err == nil || !strings.Contains(err.Error(), "rankfeat_logits has 5 values") {
		t.Errorf("short column: %v", err)
	}
	if _, err := ReadExtra(filepath.Join(t.TempDir(), "none.parquet")); err == nil {
		t.Error("ReadExtra of a missing file: no error")
	}
}

// removeRank1 leaves a − s₁u₁v₁ᵀ: checked against gonum's SVD, for tall
// and wide matrices.
func TestRemoveRank1(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][2]int{{12, 5}, {4, 9}, {6, 6}} {
		rows, cols := sh[0], sh[1]
		a := make([]float32, rows*cols)
		a64 := make([]float64, len(a))
		for i := range a {
			a[i] = float32(r.NormFloat64())
			a64[i] = float64(a[i])
		}
		var svd mat.SVD
		if !svd.Factorize(mat.NewDense(rows, cols, a64), mat.SVDThin) {
			t.Fatal("svd failed")
		}
		var u, v mat.Dense
		svd.UTo(&u)
		svd.VTo(&v)
		s := svd.Values(nil)
		removeRank1(a, rows, cols)
		for i := range rows {
			for j := range cols {
				want := a64[i*cols+j] - s[0]*u.At(i, 0)*v.At(j, 0)
				if math.Abs(float64(a[i*cols+j])-want) > 1e-5 {
					t.Fatalf("%dx%d [%d,%d] = %v, want %v", rows, cols, i, j, a[i*cols+j], want)
				}
			}
		}
	}
	z := make([]float32, 6)
	removeRank1(z, 2, 3) // a zero matrix stays zero
	for _, v := range z {
		if v != 0 {
			t.Fatal("zero matrix changed")
		}
	}
}
