package nn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
)

// TestStateDictNames compares every name, shape and dtype of StateDict, in
// order, with what PyTorch's state_dict() produces for the same OpenOOD
// network (train/testdata/statedict, written by
// scripts/gen_torch_fixtures.py).
func TestStateDictNames(t *testing.T) {
	for _, tc := range []struct {
		file string
		cfg  Config
	}{
		{"lenet", Config{Arch: ArchLeNet, Classes: 10}},
		{"resnet18_32x32", Config{Arch: ArchResNet18_32, Classes: 10}},
		{"resnet18_224x224", Config{Arch: ArchResNet18_224, Classes: 200}},
		{"resnet50", Config{Arch: ArchResNet50, Classes: 1000}},
	} {
		for _, head := range []string{HeadLinear, HeadT2FNorm} {
			file := tc.file
			if head == HeadT2FNorm {
				file += "_t2fnorm"
			}
			t.Run(file, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join("..", "testdata", "statedict", file+".json"))
				if err != nil {
					t.Fatal(err)
				}
				var want []struct {
					Name  string `json:"name"`
					Shape []int  `json:"shape"`
					DType string `json:"dtype"`
				}
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatal(err)
				}
				cfg := tc.cfg
				cfg.Head = head
				m, err := New(cpu.New(1), cfg, 1)
				if err != nil {
					t.Fatal(err)
				}
				sd, err := m.StateDict()
				if err != nil {
					t.Fatal(err)
				}
				if len(sd) != len(want) {
					t.Errorf("%d entries, PyTorch has %d", len(sd), len(want))
				}
				for i := range min(len(sd), len(want)) {
					got := fmt.Sprintf("%s %v %s", sd[i].Name, sd[i].Shape, sd[i].DType)
					w := fmt.Sprintf("%s %v %s", want[i].Name, want[i].Shape, want[i].DType)
					if got != w {
						t.Fatalf("entry %d: got %s, want %s", i, got, w)
					}
				}
			})
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	be := cpu.New(2)
	cfg := Config{Arch: ArchResNet18_32, Width: 0.125, InChannels: 1, ImageSize: 16, Classes: 3, Head: HeadT2FNorm, Tau: 0.05}
	a, err := New(be, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, a.InputShape(2).Numel())
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	if _, err := a.ForwardHost(x, true); err != nil { // moves running stats and counters
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.safetensors")
	if err := a.Save(path, map[string]string{"note": "test"}); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConfigFromMetadata(f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if got != a.Config() {
		t.Fatalf("config from metadata %+v, want %+v", got, a.Config())
	}
	b, err := New(be, got, 2) // other seed: every value must come from the file
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Load(path); err != nil {
		t.Fatal(err)
	}
	sa, _ := a.StateDict()
	sb, _ := b.StateDict()
	for i := range sa {
		if sa[i].Name != sb[i].Name || string(sa[i].Data) != string(sb[i].Data) {
			t.Fatalf("entry %s differs after load", sa[i].Name)
		}
	}
	oa, _ := a.ForwardHost(x, false)
	la := download(be, oa.OODLogits)
	ob, _ := b.ForwardHost(x, false)
	lb := download(be, ob.OODLogits)
	if fmt.Sprint(la) != fmt.Sprint(lb) {
		t.Fatalf("eval OOD logits differ after load: %v vs %v", la, lb)
	}
}

// TestCheckpointMismatch: a checkpoint with a missing, extra, misshapen or
// mistyped tensor is refused with an error naming it, and leaves the model
// unchanged.
func TestCheckpointMismatch(t *testing.T) {
	be := cpu.New(1)
	cfg := Config{Arch: ArchLeNet, Classes: 10}
	m, _ := New(be, cfg, 1)
	sd, _ := m.StateDict()
	before := download(be, m.Params()[0].Value)
	edit := func(fn func([]safetensors.Tensor) []safetensors.Tensor) *safetensors.File {
		ts := fn(append([]safetensors.Tensor(nil), sd...))
		data, err := safetensors.Marshal(ts, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Parse("edited", data)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	other, _ := New(be, cfg, 9)
	osd, _ := other.StateDict()
	cases := []struct {
		name string
		f    *safetensors.File
		want string
	}{
		{"missing", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(append(ts[:0:0], osd[:3]...), osd[4:]...)
		}), `no tensor "block2.0.bias"`},
		{"extra", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(osd, safetensors.FromFloat32s("fc.extra", []int{1}, []float32{1}))
		}), `unexpected tensor "fc.extra"`},
		{"shape", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			out := append([]safetensors.Tensor(nil), osd...)
			out[len(out)-1] = safetensors.FromFloat32s("fc.bias", []int{11}, make([]float32, 11))
			return out
		}), `"fc.bias" has shape [11], want [10]`},
		{"dtype", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			out := append([]safetensors.Tensor(nil), osd...)
			out[len(out)-1] = safetensors.FromFloat64s("fc.bias", []int{10}, make([]float64, 10))
			return out
		}), `"fc.bias" has dtype F64, want F32`},
		{"t2fnorm into linear", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			out := []safetensors.Tensor{safetensors.FromFloat32s("tau", []int{}, []float32{0.1})}
			for _, e := range osd {
				e.Name = "backbone." + e.Name
				out = append(out, e)
			}
			return out
		}), `no tensor "block1.0.weight"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.LoadStateDict(tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %s", err, tc.want)
			}
			if fmt.Sprint(download(be, m.Params()[0].Value)) != fmt.Sprint(before) {
				t.Fatal("a refused checkpoint changed the model")
			}
		})
	}
	if err := m.Load(filepath.Join(t.TempDir(), "absent.safetensors")); err == nil || !strings.Contains(err.Error(), "absent.safetensors") {
		t.Fatalf("loading a missing file: %v", err)
	}
}

// TestExactResume: training 3 steps straight equals training 2, saving the
// model and optimiser, loading both into fresh objects and training 1 more.
func TestExactResume(t *testing.T) {
	dir := t.TempDir()
	be := cpu.New(2)
	cfg := Config{Arch: ArchSmallResNet, InChannels: 1, ImageSize: 12, Classes: 4, Head: HeadT2FNorm}
	sgd := SGDConfig{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}
	x := make([]float32, 3*12*12)
	for i := range x {
		x[i] = float32((i*37)%11)/5 - 1
	}
	labels := []int32{0, 3, 1}
	step := func(m *Model, o *SGD, lr float32) {
		t.Helper()
		if _, err := m.ForwardHost(x, true); err != nil {
			t.Fatal(err)
		}
		_, dl, err := m.CrossEntropy(labels)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(dl); err != nil {
			t.Fatal(err)
		}
		if err := o.Step(lr); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := New(be, cfg, 5)
	oa, _ := NewSGD(a, sgd)
	step(a, oa, 0.1)
	step(a, oa, 0.05)
	if err := a.Save(filepath.Join(dir, "m.safetensors"), nil); err != nil {
		t.Fatal(err)
	}
	if err := oa.SaveState(filepath.Join(dir, "o.safetensors"), map[string]string{"epoch": "1", "step": "2"}); err != nil {
		t.Fatal(err)
	}
	step(a, oa, 0.01)

	b, _ := New(be, cfg, 6)
	ob, _ := NewSGD(b, sgd)
	if err := b.Load(filepath.Join(dir, "m.safetensors")); err != nil {
		t.Fatal(err)
	}
	meta, err := ob.LoadState(filepath.Join(dir, "o.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if meta["epoch"] != "1" || meta["step"] != "2" || len(meta) != 2 || ob.Steps() != 2 {
		t.Fatalf("position %v, steps %d; want epoch 1 step 2, 2 steps", meta, ob.Steps())
	}
	step(b, ob, 0.01)
	sa, _ := a.StateDict()
	sb, _ := b.StateDict()
	for i := range sa {
		if string(sa[i].Data) != string(sb[i].Data) {
			t.Fatalf("%s differs between straight and resumed training", sa[i].Name)
		}
	}
	// a state file for another configuration is refused
	oc, _ := NewSGD(b, SGDConfig{Momentum: 0.5})
	if _, err := oc.LoadState(filepath.Join(dir, "o.safetensors")); err == nil || !strings.Contains(err.Error(), "t2f.momentum") {
		t.Fatalf("loading momentum 0.9 state into momentum 0.5: %v", err)
	}
}
