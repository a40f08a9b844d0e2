package features

import (
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
)

func importFixture() (f, w, b, labels safetensors.Tensor) {
	const n, d, c = 4, 3, 2
	fv := make([]float64, n*d)
	for i := range fv {
		fv[i] = math.Sin(float64(i)) * 2
	}
	return safetensors.FromFloat64s("features", []int{n, d}, fv),
		safetensors.FromFloat32s("fc.weight", []int{c, d}, []float32{1, -2, 0.5, 0.25, 1, -1}),
		safetensors.FromFloat32s("fc.bias", []int{c}, []float32{0.1, -0.2}),
		safetensors.FromInt64s("labels", []int{n}, []int64{0, 1, -1, 1})
}

func TestImport(t *testing.T) {
	f, w, b, labels := importFixture()
	for _, kind := range []string{"linear", "t2fnorm"} {
		h, err := ImportHead("mem", kind, &w, &b, nil, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		tab, err := Import(Arrays{Source: "mem", Features: &f, Labels: &labels}, h, Meta{Dataset: "toy", Split: "test"})
		if err != nil {
			t.Fatal(err)
		}
		fv, _ := f.Float64s()
		for i := range 4 {
			var ss float64
			for j := range 3 {
				ss += fv[i*3+j] * fv[i*3+j]
			}
			for k := range 2 {
				var wf float64
				for j := range 3 {
					wf += float64(h.Weight[k*3+j]) * float64(float32(fv[i*3+j]))
				}
				ood, train := wf/h.Tau+float64(h.Bias[k]), wf/h.Tau+float64(h.Bias[k])
				if kind == "t2fnorm" {
					train = wf/math.Sqrt(ss)/h.Tau + float64(h.Bias[k])
				}
				if g := tab.LogitsOOD[i*2+k]; math.Abs(float64(g)-ood) > 1e-5 {
					t.Errorf("%s row %d logits_ood[%d] %v, want %v", kind, i, k, g, ood)
				}
				if g := tab.Logits[i*2+k]; math.Abs(float64(g)-train) > 1e-5 {
					t.Errorf("%s row %d logits[%d] %v, want %v", kind, i, k, g, train)
				}
			}
		}
		if tab.Meta.Head != kind || tab.Meta.CheckpointSHA256 != h.CheckpointSHA256 || tab.IDs[3] != 3 || tab.Labels[2] != -1 {
			t.Errorf("%s: meta %+v ids %v labels %v", kind, tab.Meta, tab.IDs, tab.Labels)
		}
		if err := tab.Check(); err != nil {
			t.Error(err)
		}
	}
}

func TestImportRefusals(t *testing.T) {
	f, w, b, labels := importFixture()
	h, err := ImportHead("mem", "linear", &w, &b, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmap := safetensors.FromFloat32s("features", []int{4, 3, 1, 1}, make([]float32, 12))
	badLogits := safetensors.FromFloat32s("logits", []int{4, 2}, make([]float32, 8))
	shortLabels := safetensors.FromInt64s("labels", []int{3}, []int64{0, 1, 0})
	bigLabel := safetensors.FromInt64s("labels", []int{4}, []int64{0, 1, 2, 0})
	floatLabels := safetensors.FromFloat32s("labels", []int{4}, make([]float32, 4))
	nan := safetensors.FromFloat32s("features", []int{4, 3}, []float32{0, 0, 0, float32(math.NaN()), 0, 0, 0, 0, 0, 0, 0, 0})
	wideF := safetensors.FromFloat32s("features", []int{4, 5}, make([]float32, 20))
	for _, tc := range []struct {
		name string
		a    Arrays
		want string
	}{
		{"feature map", Arrays{Features: &fmap, Labels: &labels}, "pool it first"},
		{"no features", Arrays{Labels: &labels}, "no features array"},
		{"no labels", Arrays{Features: &f}, "no labels array"},
		{"logits of another head", Arrays{Features: &f, Labels: &labels, Logits: &badLogits}, "the head is not this model's"},
		{"short labels", Arrays{Features: &f, Labels: &shortLabels}, "labels is [3], want [4]"},
		{"label out of range", Arrays{Features: &f, Labels: &bigLabel}, "labels[2] = 2"},
		{"float labels", Arrays{Features: &f, Labels: &floatLabels}, "want an integer array"},
		{"NaN feature", Arrays{Features: &nan, Labels: &labels}, "features[1, 0] is NaN"},
		{"D mismatch", Arrays{Features: &wideF, Labels: &labels}, "D = 5 columns"},
	} {
		tc.a.Source = "x.npz"
		if _, err := Import(tc.a, h, Meta{Dataset: "d", Split: "s"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	tau := safetensors.FromFloat32s("tau", []int{}, []float32{0.1})
	w3 := safetensors.FromFloat32s("fc.weight", []int{2, 3, 1}, make([]float32, 6))
	for _, tc := range []struct {
		name      string
		kind      string
		w, b, tau *safetensors.Tensor
		flagTau   float64
		want      string
	}{
		{"no head", "linear", nil, &b, nil, 0, "no classifier head"},
		{"3-D weight", "linear", &w3, &b, nil, 0, "want [C D] and [C]"},
		{"T2FNorm without τ", "t2fnorm", &w, &b, nil, 0, "needs τ"},
		{"τ contradicts", "t2fnorm", &w, &b, &tau, 0.5, "--tau 0.5 contradicts"},
		{"tau on linear", "linear", &w, &b, &tau, 0, "give --head t2fnorm"},
		{"unknown kind", "cosine", &w, &b, nil, 0, "want linear or t2fnorm"},
	} {
		if _, err := ImportHead("x.npz", tc.kind, tc.w, tc.b, tc.tau, tc.flagTau); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
