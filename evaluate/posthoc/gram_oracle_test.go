package posthoc_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// The gram fixture (scripts/gen_gram_fixtures.py): OpenOOD's own
// GRAMPostprocessor on small trained networks of OpenOOD's classes, with
// the held-out positions its setup drew from a seeded random.
type gramFixture struct {
	Widths        []int   `json:"widths"`
	Size          int     `json:"size"`
	Classes       int     `json:"classes"`
	NTest         int     `json:"n_test"`
	LeNetLabels   []int32 `json:"lenet_train_labels"`
	ResNetLabels  []int32 `json:"resnet_train_labels"`
	TrainPerClass int     `json:"train_per_class"`
	Models        map[string]struct {
		Arch, Head, Images string
		Tau                float64
		Holdout            [][]int   `json:"holdout"`
		Taps               [][]int   `json:"taps"`
		Norm               []float64 `json:"normalize_factors"`
		IDTest             []float64 `json:"id_test"`
		OODTest            []float64 `json:"ood_test"`
		PredID             []int     `json:"pred_id"`
		PredOOD            []int     `json:"pred_ood"`
		AUROC              float64   `json:"auroc"`
	} `json:"models"`
}

const gramDir = "testdata/gram"

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// TestGramMatchesOpenOOD: from the held-out positions OpenOOD drew, t2f's
// engine taps have the shapes of OpenOOD's hooks (in order), its
// normalisation factors and its per-sample scores match OpenOOD's, and so
// does the AUROC.
//
// Tolerance: OpenOOD computes the Gram features in float32 — x^p (p ≤ 5
// multiplications, relative error ≤ 5·2⁻²⁴ each), a matmul over H·W terms
// and a sum over C — t2f in float64. For same-sign terms the float32 row
// sum's relative error is at most about (H·W + C + p)·2⁻²⁴ ≈ 1e-5 for the
// largest taps here (144 + 128 terms), and the p-th root divides it by p;
// odd powers of convolution outputs (either sign) can cancel and lose more
// in a few channels. A deviation is a sum of such features' distances
// outside a range, divided by |bound + 1e-6|, so each score carries about
// that relative error: the median per-sample relative difference must stay
// below 1e-4 and every one below 1e-2 (cancellation), the predicted
// classes equal, and the AUROC within 1e-3 (issue #12 asks for 0.05). The
// normalisation factors are held to 1e-2: a range bound near 0 divides the
// float32 error of a feature by |bound + 1e-6| (resnet18_32x32's layer3.0.conv1
// differs by 2.5e-3 that way).
func TestGramMatchesOpenOOD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(gramDir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx gramFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Models) != 5 {
		t.Fatalf("fixture has %d models, want 5", len(fx.Models))
	}
	for key, want := range fx.Models {
		t.Run(key, func(t *testing.T) {
			cfg := nn.Config{Arch: want.Arch, Classes: fx.Classes, Head: want.Head}
			labels := fx.ResNetLabels
			if want.Arch == nn.ArchLeNet {
				cfg.InChannels, labels = 1, fx.LeNetLabels
			} else {
				cfg.Width, cfg.ImageSize = float64(fx.Widths[0])/64, fx.Size
			}
			m, err := nn.New(cpu.New(1), cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			ckpt, err := safetensors.Read(filepath.Join(gramDir, key+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadStateDict(ckpt); err != nil {
				t.Fatal(err)
			}
			net := engine{Model: m}
			taps := net.Taps()
			if len(taps) != len(want.Taps) {
				t.Fatalf("%d taps, OpenOOD hooks %d", len(taps), len(want.Taps))
			}
			for i, tp := range taps {
				w := want.Taps[i]
				got := []int{tp.C, tp.H, tp.W}
				if len(w) == 1 { // LeNet's feature (N, 84): one value per channel
					w = []int{w[0], 1, 1}
				}
				if !slices.Equal(got, w) {
					t.Errorf("tap %d (%s) is %v, OpenOOD's hook %d %v", i, tp.Name, got, i, w)
				}
			}
			imgs := readF32(t, filepath.Join(gramDir, want.Images+".bin"))
			c, h, _ := net.InputShape()
			per := c * h * h
			ntr := len(labels)
			train := &memSource{x: imgs[:ntr*per], n: ntr, c: c, h: h, labels: labels}
			st, err := features.TrainGramStats(context.Background(), net, train, features.GramOptions{Holdout: want.Holdout}, features.Options{BatchSize: 32})
			if err != nil {
				t.Fatal(err)
			}
			for l, v := range st.Norm {
				if math.Abs(v-want.Norm[l]) > 1e-2*math.Abs(want.Norm[l]) {
					t.Errorf("tap %d (%s): normalisation %.7g, OpenOOD %.7g", l, taps[l].Name, v, want.Norm[l])
				}
			}
			spec := features.ExtraSpec{Methods: []string{features.ExtraGram}, Gram: st}
			var scores [2][]float64
			for k, split := range []struct {
				off   int
				preds []int
			}{{ntr, want.PredID}, {ntr + fx.NTest, want.PredOOD}} {
				n := fx.NTest
				lb := make([]int32, n)
				src := &memSource{x: imgs[split.off*per : (split.off+n)*per], n: n, c: c, h: h, labels: lb}
				tab, err := features.Extract(context.Background(), net, src, features.Options{BatchSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				ex, err := features.ComputeExtra(context.Background(), net, src, spec, features.Options{BatchSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					z := tab.LogitsOOD[i*tab.NumClasses : (i+1)*tab.NumClasses]
					if p := slices.Index(z, slices.Max(z)); p != split.preds[i] {
						t.Errorf("split %d sample %d: predicted class %d, OpenOOD %d", k, i, p, split.preds[i])
					}
				}
				d := &posthoc.Data{N: n, C: tab.NumClasses, Logits: tab.LogitsOOD, Extra: evaluate.ExtraColumns(ex, 1)}
				s, err := posthoc.New("gram")
				if err != nil {
					t.Fatal(err)
				}
				if scores[k], err = s.Score(d); err != nil {
					t.Fatal(err)
				}
			}
			rel := relDiffs(append(slices.Clone(scores[0]), scores[1]...), append(slices.Clone(want.IDTest), want.OODTest...))
			got := aurocOf(scores[0], scores[1])
			t.Logf("%d taps; AUROC %.4f (OpenOOD %.4f); score relative difference median %.2g, max %.2g",
				len(taps), got, want.AUROC, rel[len(rel)/2], rel[len(rel)-1])
			if rel[len(rel)/2] > 1e-4 || rel[len(rel)-1] > 1e-2 {
				t.Errorf("relative score difference median %.3g, max %.3g, want ≤ 1e-4 and 1e-2", rel[len(rel)/2], rel[len(rel)-1])
			}
			if math.Abs(got-want.AUROC) > 1e-3 {
				t.Errorf("AUROC %.4f, OpenOOD %.4f", got, want.AUROC)
			}
		})
	}
}
