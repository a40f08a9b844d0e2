package posthoc_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/evaluate/posthoc"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/checkpoint"
	"github.com/t2f/t2f/train/nn"
)

// The network fixture (scripts/gen_network_fixtures.py): OpenOOD's own
// post-processors run on a ResNet18_32x32 at width 1/8, linear and T2FNorm
// heads, on 16×16 synthetic images.
type netFixture struct {
	Splits   [][2]any  `json:"splits"`
	Classes  int       `json:"classes"`
	Size     int       `json:"size"`
	InputStd []float64 `json:"input_std"`
	// TrainN ID-train images (labels TrainLabels) follow the splits in
	// images.bin: mds_ensemble's statistics come from them.
	TrainN      int     `json:"train_n"`
	TrainLabels []int32 `json:"train_labels"`
	Models      map[string]struct {
		Tau     float64                    `json:"tau"`
		Methods map[string]netFixtureEntry `json:"methods"`
	} `json:"models"`
}

type netFixtureEntry struct {
	Choice  *int                      `json:"choice"`
	Trials  []struct{ AUROC float64 } `json:"trials"`
	IDTest  []float64                 `json:"id_test"`
	OODTest []float64                 `json:"ood_test"`
	AUROC   float64                   `json:"auroc"`
	Seeds   []float64                 `json:"auroc_seeds"`
}

const netDir = "testdata/network"

// memSource is a features.Source over in-memory images.
type memSource struct {
	x      []float32
	n      int
	c, h   int
	labels []int32
}

func (s *memSource) Len() int             { return s.n }
func (s *memSource) Shape() (c, h, w int) { return s.c, s.h, s.h }
func (s *memSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	per := s.c * s.h * s.h
	copy(x, s.x[start*per:(start+len(ids))*per])
	for i := range ids {
		ids[i], labels[i] = int64(start+i), s.labels[start+i]
	}
	return nil
}

// engine is the nn.Model as a features.ExtraNetwork: the CLI's own
// adapter, so that the fixtures check the path `t2f features --extra` runs.
type engine = checkpoint.Network

// netSplits runs the fixture's model over its splits: the scoring view of
// each (features f/τ, OOD logits, extra columns) by split name.
func netSplits(t *testing.T, fx *netFixture, head string) (map[string]*posthoc.Data, posthoc.Head) {
	t.Helper()
	ckpt, err := safetensors.Read(filepath.Join(netDir, head+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.New(cpu.New(1), nn.Config{Arch: nn.ArchResNet18_32, Width: 0.125, ImageSize: fx.Size, Classes: fx.Classes, Head: head}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadStateDict(ckpt); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(netDir, "images.bin"))
	if err != nil {
		t.Fatal(err)
	}
	imgs := make([]float32, len(raw)/4)
	for i := range imgs {
		imgs[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	per := 3 * fx.Size * fx.Size
	spec := features.ExtraSpec{InputStd: fx.InputStd,
		Methods: []string{features.ExtraODIN, features.ExtraIODIN, features.ExtraRankFeat, features.ExtraAdaScaleA, features.ExtraMDSEns}}
	total := 0
	for _, sp := range fx.Splits {
		total += int(sp[1].(float64))
	}
	train := &memSource{x: imgs[total*per : (total+fx.TrainN)*per], n: fx.TrainN, c: 3, h: fx.Size, labels: fx.TrainLabels}
	tx, tl, dim, err := features.TrainStemFeatures(context.Background(), engine{Model: m}, train, features.Options{BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	mu, prec, err := posthoc.ClassGaussian(tx, tl, len(tl), dim, fx.Classes)
	if err != nil {
		t.Fatal(err)
	}
	spec.MDS = &features.MDSStats{Dim: dim, Classes: fx.Classes, Means: mu, Precision: prec}
	div := float32(fx.Models[head].Tau)
	out := map[string]*posthoc.Data{}
	off := 0
	for _, sp := range fx.Splits {
		name, n := sp[0].(string), int(sp[1].(float64))
		labels := make([]int32, n)
		if name[:2] != "id" {
			for i := range labels {
				labels[i] = -1
			}
		}
		src := &memSource{x: imgs[off*per : (off+n)*per], n: n, c: 3, h: fx.Size, labels: labels}
		off += n
		net := engine{Model: m}
		tab, err := features.Extract(context.Background(), net, src, features.Options{BatchSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := features.ComputeExtra(context.Background(), net, src, spec, features.Options{BatchSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		f := make([]float32, len(tab.Feature))
		for i, v := range tab.Feature {
			f[i] = v / div
		}
		extra := evaluate.ExtraColumns(ex, div)
		out[name] = &posthoc.Data{N: n, D: tab.Dim, C: tab.NumClasses, Feature: f, Logits: tab.LogitsOOD, Labels: labels, Extra: extra}
	}
	var h struct{ w, b []float32 }
	prefix := ""
	if head == nn.HeadT2FNorm {
		prefix = "backbone."
	}
	for name, dst := range map[string]*[]float32{prefix + "fc.weight": &h.w, prefix + "fc.bias": &h.b} {
		tt, err := ckpt.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if *dst, err = tt.Float32s(); err != nil {
			t.Fatal(err)
		}
	}
	return out, testHead{h.w, h.b}
}

// testHead is a posthoc.Head over two slices.
type testHead struct{ w, b []float32 }

func (h testHead) Linear() (w, b []float32) { return h.w, h.b }

func netAUROC(scores []float64, labels []int32) float64 {
	r, err := metrics.Compute(scores, labels)
	if err != nil {
		return math.NaN()
	}
	return r.AUROC
}

func aurocOf(id, ood []float64) float64 {
	labels := make([]int32, len(id)+len(ood))
	for i := range ood {
		labels[len(id)+i] = -1
	}
	return netAUROC(append(slices.Clone(id), ood...), labels)
}

// TestNetworkMethodsMatchOpenOOD: every network method, fitted and searched
// as OpenOOD does, has the test AUROC of OpenOOD's own post-processor
// within 0.05 and picks the same APS setting; per-sample scores are
// compared too (their median relative difference must stay below 1e-4). Dropout's
// random masks differ from torch's: its AUROC must lie within 0.05 of the
// range OpenOOD gives over 20 seeds.
func TestNetworkMethodsMatchOpenOOD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(netDir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx netFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	for _, head := range []string{nn.HeadLinear, nn.HeadT2FNorm} {
		t.Run(head, func(t *testing.T) {
			data, h := netSplits(t, &fx, head)
			in := posthoc.FitInput{Val: data["id_val"], OODVal: data["ood_val"], Head: h}
			for name, want := range fx.Models[head].Methods {
				t.Run(name, func(t *testing.T) {
					s, err := posthoc.New(name)
					if err != nil {
						t.Fatal(err)
					}
					if want.Choice != nil {
						_, trials, err := posthoc.SearchTrials(s, in, in.Val, in.OODVal, netAUROC)
						if err != nil {
							t.Fatal(err)
						}
						got := -1
						best := 0.0
						for i, tr := range trials {
							if tr.AUROC > best {
								got, best = i, tr.AUROC
							}
						}
						if got != *want.Choice {
							t.Errorf("APS chose setting %d (%v, AUROC %.4f), OpenOOD %d (AUROC %.4f)",
								got, trials[got].Setting, best, *want.Choice, want.Trials[*want.Choice].AUROC)
						}
					} else if err := s.Fit(in); err != nil {
						t.Fatal(err)
					}
					id, err := s.Score(data["id_test"])
					if err != nil {
						t.Fatal(err)
					}
					ood, err := s.Score(data["ood_test"])
					if err != nil {
						t.Fatal(err)
					}
					got := aurocOf(id, ood)
					if want.Seeds != nil {
						lo, hi := slices.Min(want.Seeds), slices.Max(want.Seeds)
						if got < lo-0.05 || got > hi+0.05 {
							t.Errorf("AUROC %.4f, OpenOOD over 20 seeds %.4f..%.4f", got, lo, hi)
						}
						return
					}
					if math.Abs(got-want.AUROC) > 0.05 {
						t.Errorf("AUROC %.4f, OpenOOD %.4f", got, want.AUROC)
					}
					rel := relDiffs(append(id, ood...), append(slices.Clone(want.IDTest), want.OODTest...))
					t.Logf("AUROC %.4f (OpenOOD %.4f); score relative difference median %.2g, max %.2g",
						got, want.AUROC, rel[len(rel)/2], rel[len(rel)-1])
					if rel[len(rel)/2] > 1e-4 {
						t.Errorf("median relative score difference %.3g", rel[len(rel)/2])
					}
				})
			}
		})
	}
}

func relDiffs(got, want []float64) []float64 {
	if len(got) != len(want) {
		panic(fmt.Sprintf("%d scores, want %d", len(got), len(want)))
	}
	out := make([]float64, len(got))
	for i := range got {
		out[i] = math.Abs(got[i]-want[i]) / math.Max(1e-6, math.Abs(want[i]))
	}
	sort.Float64s(out)
	return out
}
