package safetensors

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The PyTorch fixtures under train/testdata/torch are written by
// scripts/gen_torch_fixtures.py with its own (Python) writer. These tests
// check that Read accepts every one of them, that Marshal reproduces each
// byte for byte, and that the state_dict names in the model fixtures match
// the committed name lists in train/testdata/statedict.

func TestTorchFixturesReadAndReencodeExactly(t *testing.T) {
	paths, err := filepath.Glob("../../train/testdata/torch/*.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 6 {
		t.Fatalf("found %d fixtures in ../../train/testdata/torch, want at least 6", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := f.Metadata["case"], strings.TrimSuffix(filepath.Base(p), ".safetensors"); got != want {
				t.Errorf("metadata case %q, want %q", got, want)
			}
			again, err := Marshal(f.Tensors(), f.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Errorf("Marshal does not reproduce the Python-written file (%d vs %d bytes)", len(again), len(raw))
			}
		})
	}
}

type sdEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	DType string `json:"dtype"`
}

var fixtureKeys = map[string]bool{
	"input": true, "target": true, "logits": true, "logits_ood": true, "feature": true, "loss": true,
	"step_loss": true, "eval_logits": true, "eval_logits_ood": true, "eval_feature": true,
}

func TestTorchModelFixturesMatchStateDictLists(t *testing.T) {
	cases := []struct {
		file, list  string
		sameShapes  bool
		wantStepped bool
	}{
		{"lenet_linear", "lenet", true, true},
		{"lenet_t2fnorm", "lenet_t2fnorm", true, true},
		{"resnet18_32x32_w0.0625_linear", "resnet18_32x32", false, true},
		{"resnet18_32x32_w0.0625_t2fnorm", "resnet18_32x32_t2fnorm", false, true},
		{"resnet50_w0.0625_linear", "resnet50", false, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := Read("../../train/testdata/torch/" + c.file + ".safetensors")
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile("../../train/testdata/statedict/" + c.list + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var list []sdEntry
			if err := json.Unmarshal(b, &list); err != nil {
				t.Fatal(err)
			}
			state := 0
			for _, n := range f.Names() {
				if !fixtureKeys[n] && !strings.HasPrefix(n, "grad.") && !strings.HasPrefix(n, "step3.") {
					state++
				}
			}
			if state != len(list) {
				t.Errorf("fixture holds %d state entries, the list %d", state, len(list))
			}
			if f.Metadata["num_classes"] == "" {
				t.Error("metadata lacks num_classes")
			}
			for _, e := range list {
				x, err := f.Tensor(e.Name)
				if err != nil {
					t.Fatal(err)
				}
				if x.DType != e.DType || len(x.Shape) != len(e.Shape) || (c.sameShapes && !reflect.DeepEqual(x.Shape, e.Shape)) {
					t.Errorf("%s: %s %v, list says %s %v", e.Name, x.DType, x.Shape, e.DType, e.Shape)
				}
				isParam := e.DType == F32 && e.Name != "tau" && !strings.HasSuffix(e.Name, "running_mean") && !strings.HasSuffix(e.Name, "running_var")
				if g, err := f.Tensor("grad." + e.Name); isParam && (err != nil || !reflect.DeepEqual(g.Shape, x.Shape)) {
					t.Errorf("grad.%s missing or misshapen (%v)", e.Name, err)
				} else if !isParam && err == nil {
					t.Errorf("grad.%s present for a buffer", e.Name)
				}
				if s, err := f.Tensor("step3." + e.Name); c.wantStepped && (err != nil || !reflect.DeepEqual(s.Shape, x.Shape)) {
					t.Errorf("step3.%s missing or misshapen (%v)", e.Name, err)
				} else if !c.wantStepped && err == nil {
					t.Errorf("step3.%s present in a forward-only fixture", e.Name)
				}
			}
		})
	}
}
