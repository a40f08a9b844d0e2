package checkpoint

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// expected is testdata/expected.json, written by
// scripts/gen_openood_ckpt_fixtures.py from OpenOOD's network classes.
type expected struct {
	Mean, Std []float64
	Cases     map[string]struct {
		Arch     string
		Width    float64
		Head     string
		Tau      float64
		FileTau  bool `json:"file_tau"`
		Classes  int
		Size     int
		Channels int
		N        int
		Dim      int
		Sets     map[string]struct {
			Feature   []float64
			Logits    []float64
			LogitsOOD []float64 `json:"logits_ood"`
		}
	}
}

func readExpected(t *testing.T) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// FixtureImage is image n of set s of the fixture generator: S×S×3 uint8,
// HWC, pixel k = ((s·1000003 + n·7919 + k)·2654435761 mod 2³²) >> 24,
// halved for s = 1.
func FixtureImage(s, n, size int) []uint8 {
	img := make([]uint8, size*size*3)
	for k := range img {
		h := uint32(s*1000003+n*7919+k) * 2654435761
		v := uint8(h >> 24)
		if s == 1 {
			v >>= 1
		}
		img[k] = v
	}
	return img
}

// input is the normalised NCHW batch of n fixture images (ToTensor +
// Normalize in float32, as torchvision).
func input(e expected, s, n, size int) []float32 {
	x := make([]float32, n*3*size*size)
	for i := range n {
		img := FixtureImage(s, i, size)
		for c := range 3 {
			for p := range size * size {
				v := float32(img[p*3+c]) / 255
				x[((i*3+c)*size*size)+p] = (v - float32(e.Mean[c])) / float32(e.Std[c])
			}
		}
	}
	return x
}

func cifarMeta(size int) shards.Meta {
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = string(rune('a' + i))
	}
	return shards.Meta{Dataset: "cifar10", Split: "test", Classes: classes, Height: size, Width: size, Channels: 3}
}

// TestOpenOODCheckpoints opens every fixture with nothing but the file
// (and τ where the file lacks it), checks the inferred network and matches
// the features and both logits to PyTorch's within 1e-4 relative.
func TestOpenOODCheckpoints(t *testing.T) {
	e := readExpected(t)
	if len(e.Cases) < 6 {
		t.Fatalf("%d fixtures, want 6", len(e.Cases))
	}
	for name, c := range e.Cases {
		t.Run(name, func(t *testing.T) {
			o := Options{Data: []shards.Meta{cifarMeta(c.Size)}}
			if !c.FileTau {
				o.Tau = c.Tau
			}
			m, err := Open(filepath.Join("testdata", name), o)
			if err != nil {
				t.Fatal(err)
			}
			cfg := m.Config
			if cfg.Arch != c.Arch || cfg.Width != c.Width || cfg.Head != c.Head || cfg.Classes != c.Classes ||
				cfg.InChannels != c.Channels || cfg.ImageSize != c.Size || (c.Head == nn.HeadT2FNorm && m.Tau() != c.Tau) {
				t.Fatalf("resolved %+v (τ %g), want %s width %g %s τ %g, %d classes, %d channels, size %d",
					cfg, m.Tau(), c.Arch, c.Width, c.Head, c.Tau, c.Classes, c.Channels, c.Size)
			}
			if m.Format != "pth" || m.Normalization != "cifar10" || len(m.Classes) != 10 {
				t.Errorf("format %q normalisation %q classes %v, want pth, cifar10 and the ID classes", m.Format, m.Normalization, m.Classes)
			}
			net, err := m.New(cpu.New(1))
			if err != nil {
				t.Fatal(err)
			}
			w, b, err := m.Head()
			if err != nil || len(w) != c.Classes*c.Dim || len(b) != c.Classes {
				t.Fatalf("head: %d and %d values, %v; want %d×%d and %d", len(w), len(b), err, c.Classes, c.Dim, c.Classes)
			}
			worst := 0.0
			for s, want := range c.Sets {
				out, err := net.ForwardHost(input(e, int(s[0]-'0'), c.N, c.Size), false)
				if err != nil {
					t.Fatal(err)
				}
				for _, col := range []struct {
					name string
					got  []float32
					want []float64
				}{
					{"feature", download(net, out.Feature), want.Feature},
					{"logits", download(net, out.Logits), want.Logits},
					{"logits_ood", download(net, out.OODLogits), want.LogitsOOD},
				} {
					if len(col.got) != len(col.want) {
						t.Fatalf("set %s %s: %d values, want %d", s, col.name, len(col.got), len(col.want))
					}
					// Relative to the value, but never to less than a tenth
					// of the column's largest magnitude: an element near zero
					// carries the float32 summation error of the whole dot
					// product (ResNet-50 features under the pure-Go kernels).
					floor := 1e-2
					for _, wv := range col.want {
						floor = max(floor, 0.1*math.Abs(wv))
					}
					for i, g := range col.got {
						wv := col.want[i]
						rel := math.Abs(float64(g)-wv) / math.Max(math.Abs(wv), floor)
						worst = max(worst, rel)
						if rel > 1e-4 {
							t.Fatalf("set %s %s[%d] = %v, PyTorch %v (relative error %.2g)", s, col.name, i, g, wv, rel)
						}
					}
				}
			}
			t.Logf("largest relative error %.2g", worst)
		})
	}
}

func download(m *nn.Model, t *backend.Tensor) []float32 {
	h := make([]float32, t.Numel())
	m.Backend().Download(h, t)
	return h
}

// TestRefusals: every file or setting that cannot be run is refused with
// what would make it loadable; settings errors are ErrSettings.
func TestRefusals(t *testing.T) {
	data := []shards.Meta{cifarMeta(32)}
	pthData := filepath.Join("..", "..", "formats", "pth", "testdata")
	for _, tc := range []struct {
		name     string
		file     string
		o        Options
		settings bool
		want     []string
	}{
		{"no tau, no head", "r18_32_t2fnorm_notau.ckpt", Options{}, true,
			[]string{"under backbone. but no tau", "--tau", "--head linear"}},
		{"no tau, head t2fnorm", "r18_32_t2fnorm_notau.ckpt", Options{Head: nn.HeadT2FNorm}, true,
			[]string{"stores no tau: give --tau"}},
		{"tau contradicts the file", "r18_32_t2fnorm.ckpt", Options{Tau: 0.5}, true,
			[]string{"--tau 0.5 contradicts the checkpoint's tau 0.1"}},
		{"linear head on T2FNorm", "r18_32_t2fnorm.ckpt", Options{Head: nn.HeadLinear}, true,
			[]string{"--head linear contradicts", "tau"}},
		{"unknown preset", "r18_32_t2fnorm.ckpt", Options{Normalization: "svhn"}, true,
			[]string{"--normalization", "svhn"}},
		{"unknown network", filepath.Join(pthData, "views.pth"), Options{}, true,
			[]string{"no fc.weight and fc.bias", "tensors:", "t2f features import", "give --model and --head"}},
		{"pickled module", filepath.Join(pthData, "whole_model.pth"), Options{}, false,
			[]string{"whole_model.pth"}},
		{"truncated", filepath.Join(pthData, "legacy_cut.pth"), Options{}, false,
			[]string{"legacy_cut.pth"}},
		{"missing", "nothing.pth", Options{}, false, []string{"nothing.pth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if !strings.Contains(file, string(filepath.Separator)) {
				file = filepath.Join("testdata", file)
			}
			tc.o.Data = data
			_, err := Open(file, tc.o)
			if err == nil {
				t.Fatal("opened, want an error")
			}
			if errors.Is(err, ErrSettings) != tc.settings {
				t.Errorf("%v: ErrSettings %v, want %v", err, errors.Is(err, ErrSettings), tc.settings)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
	// Settings that resolve but do not fit the file fail on load, naming tensors.
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"another architecture", Options{Arch: nn.ArchResNet18_224}, "conv1.weight"},
		{"another width", Options{Width: 0.125}, "check --model and --width"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Data = data
			m, err := Open(filepath.Join("testdata", "r18_32_linear_module.ckpt"), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.New(cpu.New(1)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// A network under backbone. without tau loads as a plain one when told so.
	m, err := Open(filepath.Join("testdata", "r18_32_t2fnorm_notau.ckpt"), Options{Head: nn.HeadLinear, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.New(cpu.New(1)); err != nil || m.Tau() != 1 {
		t.Errorf("--head linear on backbone. names: τ %g, %v", m.Tau(), err)
	}
}
