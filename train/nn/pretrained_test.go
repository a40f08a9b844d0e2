package nn

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
)

// The .pth files are written by torch.save in scripts/gen_pth_fixtures.py,
// which also computes the expected eval-mode outputs with PyTorch.

const pthDir = "../../formats/pth/testdata"

type pthCase struct {
	InputShape []int     `json:"input_shape"`
	Logits     []float64 `json:"logits"`
	LogitsOOD  []float64 `json:"logits_ood"`
	Feature    []float64 `json:"feature"`
	Tau        float64   `json:"tau"`
}

func pthExpected(t *testing.T, name string) pthCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pthDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var c pthCase
	if err := json.Unmarshal(all[name], &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// formulaInput is the generator's x[i] = float32(1.5·sin(0.1·i)).
func formulaInput(shape []int) []float32 {
	n := 1
	for _, s := range shape {
		n *= s
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(1.5 * math.Sin(0.1*float64(i)))
	}
	return x
}

func checkClose(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*(1+math.Abs(want[i])) {
			t.Errorf("%s[%d] = %v, want %v (PyTorch)", what, i, got[i], want[i])
			return
		}
	}
}

// evalForward runs the formula input through m in eval mode.
func evalForward(t *testing.T, m *Model, c pthCase) (logits, ood, feat []float32) {
	t.Helper()
	out, err := m.ForwardHost(formulaInput(c.InputShape), false)
	if err != nil {
		t.Fatal(err)
	}
	be := m.Backend()
	return download(be, out.Logits), download(be, out.OODLogits), download(be, out.Feature)
}

func newModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	m, err := New(cpu.New(1), cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadPretrainedMatchesPyTorch(t *testing.T) {
	r18 := Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10}
	r18t := r18
	r18t.Head = HeadT2FNorm
	for _, tc := range []struct {
		name, file, want string
		cfg              Config
		checkOOD         bool
	}{
		// dtypes, shared storages and non-contiguous views, into both heads
		{"r18 linear", "r18_w1-64.pth", "r18_w1-64", r18, false},
		{"r18 legacy format", "legacy.pth", "r18_w1-64", r18, false},
		{"r18 into t2fnorm", "r18_w1-64.pth", "r18_w1-64", r18t, false},
		// a {"state_dict": ...} wrapper with tau and backbone. names
		{"t2fnorm", "t2fnorm_r18_w1-64.pth", "t2fnorm_r18_w1-64", r18t, true},
		{"t2fnorm into linear", "t2fnorm_r18_w1-64.pth", "t2fnorm_r18_w1-64", r18, false},
		// torchvision names, Bottleneck and downsample
		{"resnet50", "resnet50_w1-128.pth", "resnet50_w1-128", Config{Arch: ArchResNet50, Width: 1.0 / 128, ImageSize: 64, Classes: 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pthExpected(t, tc.want)
			m := newModel(t, tc.cfg)
			rep, err := m.LoadPretrained(filepath.Join(pthDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.FCLoaded || rep.FCSkipped != "" || rep.Loaded != rep.Total || rep.Format != "pth" || len(rep.ZeroCounts) != 0 {
				t.Errorf("report %+v, want everything loaded", rep)
			}
			logits, ood, feat := evalForward(t, m, c)
			checkClose(t, "feature", feat, c.Feature)
			if tc.cfg.Head == HeadLinear {
				checkClose(t, "logits", logits, c.Logits)
			}
			if tc.checkOOD {
				checkClose(t, "logits", logits, c.Logits)
				checkClose(t, "logits_ood", ood, c.LogitsOOD)
				if math.Abs(c.Tau-0.1) > 1e-7 || rep.FileTau != float32(0.1) {
					t.Errorf("file tau %v (report %v), want 0.1", c.Tau, rep.FileTau)
				}
			}
		})
	}
}

// TestLoadPretrainedTauIsTheConfigs: the file's τ (0.1) does not replace the
// model's.
func TestLoadPretrainedTauIsTheConfigs(t *testing.T) {
	m := newModel(t, Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10, Head: HeadT2FNorm, Tau: 0.5})
	rep, err := m.LoadPretrained(filepath.Join(pthDir, "t2fnorm_r18_w1-64.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Tau() != 0.5 {
		t.Errorf("model tau %v after loading, want the configured 0.5", m.Tau())
	}
	if !strings.Contains(rep.String(), "tau (0.1) is ignored") {
		t.Errorf("report does not mention the ignored tau:\n%s", rep)
	}
}

// TestLoadPretrainedNewClassCount fine-tunes the 10-class ResNet-50 into 7
// classes: the backbone loads (PyTorch's feature), the fc keeps exactly the
// fresh initialisation of the seed.
func TestLoadPretrainedNewClassCount(t *testing.T) {
	cfg := Config{Arch: ArchResNet50, Width: 1.0 / 128, ImageSize: 64, Classes: 7, Head: HeadT2FNorm}
	c := pthExpected(t, "resnet50_w1-128")
	fresh := newModel(t, cfg)
	m := newModel(t, cfg)
	rep, err := m.LoadPretrained(filepath.Join(pthDir, "resnet50_w1-128.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.FCLoaded || rep.Loaded != rep.Total-2 {
		t.Errorf("report %+v, want all but the fc loaded", rep)
	}
	for _, w := range []string{"fc.weight is [10 16] in the file, [7 16] in the model", "fc.bias is [10] in the file, [7] in the model", "7-class fc keeps its fresh initialisation"} {
		if !strings.Contains(rep.FCSkipped, w) {
			t.Errorf("FCSkipped %q lacks %q", rep.FCSkipped, w)
		}
	}
	_, _, feat := evalForward(t, m, c)
	checkClose(t, "feature", feat, c.Feature)
	a, _ := fresh.StateDict()
	b, _ := m.StateDict()
	for i := range a {
		if strings.Contains(a[i].Name, "fc.") && string(a[i].Data) != string(b[i].Data) {
			t.Errorf("%s differs from the fresh initialisation", a[i].Name)
		}
		if a[i].Name == "backbone.conv1.weight" && string(a[i].Data) == string(b[i].Data) {
			t.Errorf("%s still holds the fresh initialisation", a[i].Name)
		}
	}
}

// TestLoadPretrainedOwnCheckpoint: a t2f safetensors checkpoint of a
// T2FNorm model initialises a linear-head model with the same backbone.
func TestLoadPretrainedOwnCheckpoint(t *testing.T) {
	cfg := Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10, Head: HeadT2FNorm}
	src := newModel(t, cfg)
	if _, err := src.LoadPretrained(filepath.Join(pthDir, "t2fnorm_r18_w1-64.pth")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "best.safetensors")
	if err := src.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Head = HeadLinear
	m := newModel(t, cfg)
	rep, err := m.LoadPretrained(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "safetensors" || !rep.FCLoaded {
		t.Errorf("report %+v", rep)
	}
	c := pthExpected(t, "t2fnorm_r18_w1-64")
	_, _, feat := evalForward(t, m, c)
	checkClose(t, "feature", feat, c.Feature)

	// Another architecture's t2f checkpoint is refused by its metadata.
	other := newModel(t, Config{Arch: ArchSmallResNet, Classes: 10, InChannels: 3})
	if _, err := other.LoadPretrained(path); err == nil || !strings.Contains(err.Error(), "it is a t2f resnet18_32x32 checkpoint, the model is small_resnet") {
		t.Errorf("error %v, want an architecture mismatch", err)
	}
}

func TestLoadPretrainedErrors(t *testing.T) {
	base, err := pth.Read(filepath.Join(pthDir, "r18_w1-64.pth"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func([]safetensors.Tensor) []safetensors.Tensor) []safetensors.Tensor {
		c := append([]safetensors.Tensor(nil), base...)
		return f(c)
	}
	drop := func(name string) []safetensors.Tensor {
		return edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, x := range ts {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		})
	}
	cfg := Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10}
	for _, tc := range []struct {
		name string
		cfg  Config
		ts   []safetensors.Tensor
		want []string
	}{
		{"missing", cfg, drop("layer2.0.conv1.weight"), []string{"1 backbone tensors are missing", "layer2.0.conv1.weight missing (the model's is [2 1 3 3])"}},
		{"other width", Config{Arch: ArchResNet18_32, Width: 1.0 / 32, Classes: 10}, base,
			[]string{"conv1.weight is [1 3 3 3] in the file, [2 3 3 3] in the model", "… and", "not a resnet18_32x32 of width 0.03125"}},
		{"extra", cfg, edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.FromFloat32s("head2.weight", []int{1}, []float32{1}), safetensors.FromFloat32s("aux.bias", []int{1}, []float32{1}))
		}), []string{"2 tensors of the file are not in the model: aux.bias; head2.weight"}},
		{"other architecture", Config{Arch: ArchSmallResNet, Classes: 10, InChannels: 3}, base, []string{"missing or have another shape", "not in the model"}},
		{"non-finite", cfg, edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[1] = safetensors.FromFloat32s(ts[1].Name, ts[1].Shape, []float32{float32(math.NaN())})
			return ts
		}), []string{"bn1.weight holds NaN at index 0"}},
		{"duplicate", cfg, edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			d := ts[0]
			d.Name = "backbone." + d.Name
			return append(ts, d)
		}), []string{`tensors "conv1.weight" and "backbone.conv1.weight" are the same`}},
		{"float count", cfg, edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if strings.HasSuffix(ts[i].Name, "num_batches_tracked") {
					ts[i] = safetensors.FromFloat32s(ts[i].Name, []int{}, []float32{3})
					break
				}
			}
			return ts
		}), []string{"bn1.num_batches_tracked has dtype F32, want an integer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, tc.cfg)
			before, _ := m.StateDict()
			_, err := m.LoadPretrainedTensors("x.pth", tc.ts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, `nn: init from "x.pth"`) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			after, _ := m.StateDict()
			for i := range before {
				if string(before[i].Data) != string(after[i].Data) {
					t.Errorf("%s changed although loading failed", before[i].Name)
				}
			}
		})
	}
}

// TestLoadPretrainedMissingCounts: a file without num_batches_tracked (old
// torchvision weights) loads, the counts become 0.
func TestLoadPretrainedMissingCounts(t *testing.T) {
	ts, err := pth.Read(filepath.Join(pthDir, "r18_w1-64.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []safetensors.Tensor
	for _, x := range ts {
		if !strings.HasSuffix(x.Name, "num_batches_tracked") {
			kept = append(kept, x)
		}
	}
	m := newModel(t, Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10})
	// Make the counts non-zero first, so setting them to 0 is visible.
	if _, err := m.LoadPretrainedTensors("full", ts); err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadPretrainedTensors("old", kept)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ts) - len(kept); len(rep.ZeroCounts) != n || rep.Loaded != rep.Total-n {
		t.Errorf("report %+v, want %d zeroed counts", rep, n)
	}
	sd, _ := m.StateDict()
	for _, x := range sd {
		if strings.HasSuffix(x.Name, "num_batches_tracked") {
			if v, _ := x.Int64s(); v[0] != 0 {
				t.Errorf("%s = %d, want 0", x.Name, v[0])
			}
		}
	}
}

func TestLoadPretrainedBadFiles(t *testing.T) {
	m := newModel(t, Config{Arch: ArchResNet18_32, Width: 1.0 / 64, Classes: 10})
	dir := t.TempDir()
	trunc := filepath.Join(dir, "cut.pth")
	data, err := os.ReadFile(filepath.Join(pthDir, "r18_w1-64.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trunc, data[:len(data)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "absent.pth"), "absent.pth"},
		{trunc, "cut.pth"},
		{filepath.Join(pthDir, "legacy_cut.pth"), "legacy (pre-1.6)"},
		{filepath.Join(pthDir, "whole_model.pth"), "torch.nn.modules.linear.Linear"},
	} {
		if _, err := m.LoadPretrained(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.path, err, tc.want)
		}
	}
}
