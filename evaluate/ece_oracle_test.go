package evaluate

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/t2f/t2f/evaluate/metrics"
	"github.com/t2f/t2f/features"
)

// The ECE fixture (scripts/gen_ece_fixtures.py): OpenOOD's own
// ECEEvaluator.eval_acc on stored logits, once on the logits themselves
// (what OpenOOD bins: the max logit) and once on their float32 softmax.
type eceCase struct {
	Logits     []float32 `json:"logits"`
	Labels     []int32   `json:"labels"`
	Classes    int       `json:"classes"`
	ECELogits  float64   `json:"ece_logits"`
	ECESoftmax float64   `json:"ece_softmax"`
	Acc        float64   `json:"acc"`
	Ones       int       `json:"softmax_ones"`
	InUnit     int       `json:"max_logit_in_unit"`
}

// TestECEAgainstOpenOOD pins t2f's ECE to OpenOOD's ece_evaluator and shows
// exactly the two documented differences (docs/evaluate.md):
//
//  1. OpenOOD bins output.max(1)[0], the max logit: only samples whose max
//     logit lies in [0, 1) land in a bin, and its ECE is the ECE of those
//     samples alone (on "saturated" none does, and OpenOOD reports 0). t2f's
//     ECE of exactly those samples binned by their max logit is OpenOOD's.
//  2. t2f bins the max float32 softmax. On the same probabilities OpenOOD's
//     binning agrees with t2f's when no softmax is exactly 1 ("plain");
//     where some are ("saturated"), OpenOOD's half-open last bin drops them
//     and its value is t2f's ECE of the samples below 1, while t2f keeps
//     them in the last bin.
//
// Tolerance 1e-6: OpenOOD's per-bin mean confidence is np.mean of float32
// values (a float32 result), t2f's a float64 mean.
func TestECEAgainstOpenOOD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "ece.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Bins  int                 `json:"bins"`
		Cases map[string]*eceCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.Bins != metrics.ECEBins || len(fx.Cases) != 2 {
		t.Fatalf("fixture: %d bins, %d cases", fx.Bins, len(fx.Cases))
	}
	for name, c := range fx.Cases {
		t.Run(name, func(t *testing.T) {
			n, k := len(c.Labels), c.Classes
			tab := &features.Table{NumClasses: k, Dim: 1, IDs: make([]int64, n), Labels: c.Labels, Preds: make([]int32, n), Logits: c.Logits}
			maxLogit := make([]float64, n)
			for i := range n {
				z := c.Logits[i*k : (i+1)*k]
				for j, v := range z {
					if v > z[tab.Preds[i]] {
						tab.Preds[i] = int32(j)
					}
				}
				maxLogit[i] = float64(z[tab.Preds[i]])
			}
			if acc, err := metrics.Accuracy(tab.Preds, tab.Labels); err != nil || math.Abs(acc-c.Acc) > 1e-12 {
				t.Errorf("ACC %v (%v), OpenOOD %v", acc, err, c.Acc)
			}
			conf, err := maxSoftmax(&Split{Path: name, Table: tab})
			if err != nil {
				t.Fatal(err)
			}
			got, err := metrics.ECE(conf, tab.Preds, tab.Labels)
			if err != nil {
				t.Fatal(err)
			}

			// 1. OpenOOD's own number: the ECE of the samples whose max logit is in [0, 1).
			var sub []float64
			var subP, subL []int32
			for i, v := range maxLogit {
				if v >= 0 && v < 1 {
					sub, subP, subL = append(sub, v), append(subP, tab.Preds[i]), append(subL, c.Labels[i])
				}
			}
			if len(sub) != c.InUnit {
				t.Fatalf("%d max logits in [0, 1), the fixture says %d", len(sub), c.InUnit)
			}
			if len(sub) == 0 {
				if c.ECELogits != 0 {
					t.Errorf("no max logit in [0, 1): OpenOOD ECE %v, want 0", c.ECELogits)
				}
			} else if e, err := metrics.ECE(sub, subP, subL); err != nil || math.Abs(e-c.ECELogits) > 1e-6 {
				t.Errorf("ECE of the max logits in [0, 1): %v (%v), OpenOOD's ECE %v", e, err, c.ECELogits)
			}

			// 2. The softmax binning: equal without exact ones; OpenOOD drops the ones.
			var below []float64
			var bP, bL []int32
			ones := 0
			for i, v := range conf {
				if v == 1 {
					ones++
					continue
				}
				below, bP, bL = append(below, v), append(bP, tab.Preds[i]), append(bL, c.Labels[i])
			}
			if ones != c.Ones {
				t.Fatalf("%d float32 softmaxes are exactly 1, torch's %d", ones, c.Ones)
			}
			eb, err := metrics.ECE(below, bP, bL)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(eb-c.ECESoftmax) > 1e-6 {
				t.Errorf("ECE of the softmaxes below 1: %v, OpenOOD's binning of the softmax %v", eb, c.ECESoftmax)
			}
			if ones == 0 && got != eb {
				t.Errorf("no softmax is 1, yet t2f's ECE %v differs from that of all samples below 1 %v", got, eb)
			}
			if ones > 0 && math.Abs(got-c.ECESoftmax) < 1e-3 {
				t.Errorf("%d softmaxes of exactly 1: t2f's ECE %v should differ from OpenOOD's %v, which drops them", ones, got, c.ECESoftmax)
			}
			t.Logf("t2f ECE %.6f; OpenOOD: on logits %.6f (%d of %d samples binned), on softmax %.6f (%d samples of 1 dropped)",
				got, c.ECELogits, len(sub), n, c.ECESoftmax, ones)
		})
	}
}
