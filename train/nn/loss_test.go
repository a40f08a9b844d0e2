package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// The fixtures of this file come from scripts/gen_method_fixtures.py, which
// runs OpenOOD's LogitNormTrainer and OETrainer unmodified.

// TestLossesAgainstOpenOOD checks both losses and their gradients in the
// logits against OpenOOD's trainers (LogitNorm: a row of zeros included).
func TestLossesAgainstOpenOOD(t *testing.T) {
	f := readFixture(t, "losses")
	t.Run("logitnorm", func(t *testing.T) {
		z, labels := fixF32(t, f, "logitnorm.logits"), fixLabels(t, "losses", "logitnorm.target")
		dz := make([]float32, len(z))
		loss := LogitNormLoss(z, labels, 5, 0.04, dz)
		closeTo(t, "loss", []float32{float32(loss)}, fixF32(t, f, "logitnorm.loss"), 0, 1e-5)
		closeTo(t, "glogits", dz, fixF32(t, f, "logitnorm.glogits"), fwdAtol, fwdRtol)
	})
	t.Run("oe", func(t *testing.T) {
		z := fixF32(t, f, "oe.logits")
		labels := append(fixLabels(t, "losses", "oe.target"), LabelOutlier, LabelOutlier, LabelOutlier)
		dz := make([]float32, len(z))
		loss := OutlierExposureLoss(z, labels, 5, 0.5, dz)
		closeTo(t, "loss", []float32{float32(loss)}, fixF32(t, f, "oe.loss"), 0, 1e-5)
		closeTo(t, "glogits", dz, fixF32(t, f, "oe.glogits"), fwdAtol, fwdRtol)
	})
}

// TestLossGradientsFiniteDifference checks both gradients against central
// differences in float64 terms (float32 logits, a step of 1e-2 on values of
// order 1, so the tolerance is loose but a wrong formula is far off).
func TestLossGradientsFiniteDifference(t *testing.T) {
	const k = 4
	z := []float32{0.3, -1.2, 2.0, 0.5, 0, 0, 0, 0, -0.7, 0.1, 0.4, -2.5, 1.5, 1.5, -0.5, 0.25}
	for _, tc := range []struct {
		name   string
		labels []int32
		loss   func(z []float32, labels []int32, dz []float32) float64
		skip   int // row whose gradient is not differentiable (‖z‖ = 0)
	}{
		{"logitnorm", []int32{2, 0, 3, 1}, func(z []float32, l []int32, dz []float32) float64 { return LogitNormLoss(z, l, k, 0.5, dz) }, 1},
		{"oe", []int32{2, LabelOutlier, 3, LabelOutlier}, func(z []float32, l []int32, dz []float32) float64 {
			return OutlierExposureLoss(z, l, k, 0.7, dz)
		}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dz := make([]float32, len(z))
			tc.loss(z, tc.labels, dz)
			scratch := make([]float32, len(z))
			for i := range z {
				if i/k == tc.skip {
					continue
				}
				const h = 1e-2
				zp, zm := append([]float32(nil), z...), append([]float32(nil), z...)
				zp[i] += h
				zm[i] -= h
				num := (tc.loss(zp, tc.labels, scratch) - tc.loss(zm, tc.labels, scratch)) / (2 * h)
				if math.Abs(num-float64(dz[i])) > 2e-3 {
					t.Errorf("dz[%d] = %v, central difference %v", i, dz[i], num)
				}
			}
		})
	}
}

// TestModelLossErrors covers the inputs a caller can get wrong.
func TestModelLossErrors(t *testing.T) {
	m, err := New(cpu.New(1), Config{Arch: ArchLeNet, Classes: 3, InChannels: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.LogitNorm([]int32{0}, 0.04); err == nil || !strings.Contains(err.Error(), "no forward") {
		t.Errorf("LogitNorm before a forward: %v", err)
	}
	if _, err := m.ForwardHost(make([]float32, 2*28*28), true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"logitnorm tau", func() error { _, _, err := m.LogitNorm([]int32{0, 1}, 0); return err }, "tau 0"},
		{"logitnorm label", func() error { _, _, err := m.LogitNorm([]int32{0, -1}, 0.04); return err }, "label -1 of image 1"},
		{"logitnorm count", func() error { _, _, err := m.LogitNorm([]int32{0}, 0.04); return err }, "1 labels for logits [2 3]"},
		{"oe lambda", func() error { _, _, err := m.OutlierExposure([]int32{0, -1}, math.NaN()); return err }, "lambda NaN"},
		{"oe label", func() error { _, _, err := m.OutlierExposure([]int32{0, 3}, 0.5); return err }, "label 3 of image 1"},
		{"oe no ID", func() error { _, _, err := m.OutlierExposure([]int32{-1, -1}, 0.5); return err }, "no in-distribution row"},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

type methodCase struct {
	file string
	cfg  Config
	oe   bool // OETrainer (else LogitNormTrainer)
}

var methodCases = []methodCase{
	{"lenet_logitnorm", Config{Arch: ArchLeNet, Classes: 10, InChannels: 3}, false},
	{"lenet_oe", Config{Arch: ArchLeNet, Classes: 10, InChannels: 3}, true},
	{"resnet18_32x32_w0.0625_logitnorm", Config{Arch: ArchResNet18_32, Width: 0.0625, Classes: 10}, false},
	{"resnet18_32x32_w0.0625_oe", Config{Arch: ArchResNet18_32, Width: 0.0625, Classes: 10}, true},
	{"resnet18_32x32_w0.0625_t2fnorm_oe", Config{Arch: ArchResNet18_32, Width: 0.0625, Classes: 10, Head: HeadT2FNorm, Tau: 0.1}, true},
}

// TestMethodsAgainstOpenOOD replays 3 steps of OpenOOD's LogitNorm and OE
// trainers (T2FNorm + OE included): first-step logits, loss and gradients,
// the loss of every step and the state after the third, to the tolerances
// of TestAgainstPyTorch. An OE step forwards the ID batch and the outlier
// batch concatenated (BatchNorm statistics over both, as OpenOOD).
func TestMethodsAgainstOpenOOD(t *testing.T) {
	for _, tc := range methodCases {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads%d", tc.file, threads), func(t *testing.T) {
				testMethodCase(t, tc, cpu.New(threads))
			})
		}
	}
}

func testMethodCase(t *testing.T, tc methodCase, be backend.Backend) {
	f := readFixture(t, tc.file)
	m, err := New(be, tc.cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	isState := map[string]bool{}
	sd, _ := m.StateDict()
	for _, e := range sd {
		isState[e.Name] = true
	}
	if err := m.LoadStateDict(subset(t, f, func(n string) (string, bool) { return n, isState[n] })); err != nil {
		t.Fatalf("loading the PyTorch state_dict: %v", err)
	}
	x, labels := fixF32(t, f, "input"), fixLabels(t, tc.file, "target")
	var outliers [][]float32
	if tc.oe {
		outliers = [][]float32{fixF32(t, f, "outliers0"), fixF32(t, f, "outliers1")}
	}
	lrt := mustTensor(t, f, "step_lr")
	lrs, err := lrt.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	stepLoss := fixF32(t, f, "step_loss")
	opt, err := NewSGD(m, SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		t.Fatal(err)
	}
	for step := range 3 {
		in, lab := x, labels
		if tc.oe { // the trainer's outlier iterator runs dry after two batches and restarts
			u := outliers[step%2]
			in = append(append([]float32(nil), x...), u...)
			lab = append([]int32(nil), labels...)
			for range len(u) / m.InputShape(1).Numel() {
				lab = append(lab, LabelOutlier)
			}
		}
		out, err := m.ForwardHost(in, true)
		if err != nil {
			t.Fatal(err)
		}
		var loss float64
		var dl *backend.Tensor
		if tc.oe {
			loss, dl, err = m.OutlierExposure(lab, 0.5)
		} else {
			loss, dl, err = m.LogitNorm(lab, 0.04)
		}
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			closeTo(t, "logits", download(be, out.Logits), fixF32(t, f, "logits"), fwdAtol, fwdRtol)
			closeTo(t, "loss", []float32{float32(loss)}, fixF32(t, f, "loss"), 0, 1e-5)
		} else {
			closeTo(t, fmt.Sprintf("step %d loss", step), []float32{float32(loss)}, stepLoss[step:step+1], 0, 1e-4)
		}
		if err := m.Backward(dl); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			for _, p := range m.Params() {
				closeTo(t, "grad."+p.Name, download(be, p.Grad), fixF32(t, f, "grad."+p.Name), gradAtol, gradRtol)
			}
		}
		if err := opt.Step(float32(lrs[step])); err != nil {
			t.Fatal(err)
		}
	}
	sd, err = m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sd {
		if e.DType == safetensors.I64 {
			got, _ := e.Int64s()
			w, _ := mustTensor(t, f, "step3."+e.Name).Int64s()
			if got[0] != w[0] {
				t.Fatalf("step3.%s = %d, want %d", e.Name, got[0], w[0])
			}
			continue
		}
		got, _ := e.Float32s()
		closeTo(t, "step3."+e.Name, got, fixF32(t, f, "step3."+e.Name), stepAtol, stepRtol)
	}
}
