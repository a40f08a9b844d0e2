package augment

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// goldenFile is testdata/golden.json.gz, written by testdata/gen_golden.py from
// torchvision 0.14 / PIL 9.4 (see the script for what each part holds).
type goldenFile struct {
	Versions map[string]string `json:"versions"`
	Images   map[string]struct {
		H, W, C int
		B64     string
	} `json:"images"`
	Luts []struct {
		Norm     string
		Channels int
		Bits     [][]uint32
	} `json:"luts"`
	Crops []struct {
		Kind        string
		Image       string
		Norm        string
		OutChannels int `json:"out_channels"`
		Size        int
		Padding     int
		Flip        bool
		Top, Left   int
		Shape       []int
		F32         string
	} `json:"crops"`
	Resized []struct {
		Image                    string
		Norm                     string
		OutChannels              int `json:"out_channels"`
		Size                     int
		Flip                     bool
		Top, Left, Height, Width int
		U8                       string
		Shape                    []int
		F32                      string
	} `json:"resized"`
	Boxes []struct {
		H, W         int
		Scale, Ratio [2]float64
		Draws        [][]any
		Box          [4]int
	} `json:"boxes"`
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	f, err := os.Open("testdata/golden.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f32s(t *testing.T, s string) []float32 {
	b := unb64(t, s)
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func (g *goldenFile) image(t *testing.T, name string) ([]uint8, Shape) {
	t.Helper()
	im, ok := g.Images[name]
	if !ok {
		t.Fatalf("goldenFile image %q missing", name)
	}
	return unb64(t, im.B64), Shape{im.H, im.W, im.C}
}

func mustPreset(t testing.TB, name string) Norm {
	t.Helper()
	n, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// compareF32 requires bit equality and reports the first mismatches.
func compareF32(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	bad := 0
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			if bad < 5 {
				t.Errorf("value %d: got %v, want %v", i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values differ", bad, len(got))
	}
}

func TestGoldenLUT(t *testing.T) {
	g := loadGolden(t)
	if len(g.Luts) < 5 {
		t.Fatalf("only %d lookup-table cases", len(g.Luts))
	}
	for _, c := range g.Luts {
		n := mustPreset(t, c.Norm)
		for k := range c.Channels {
			tab, err := n.Table(k, c.Channels)
			if err != nil {
				t.Fatal(err)
			}
			for v := range 256 {
				if got := math.Float32bits(tab[v]); got != c.Bits[k][v] {
					t.Errorf("%s channel %d/%d byte %d: got %v, want %v (torchvision)", c.Norm, k, c.Channels, v,
						tab[v], math.Float32frombits(c.Bits[k][v]))
				}
			}
		}
	}
}

func TestGoldenCropAndTest(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Crops {
		img, shape := g.image(t, c.Image)
		tr := CropTransform(c.Size, mustPreset(t, c.Norm))
		tr.Padding = c.Padding
		if c.Kind == "test" {
			tr = TestTransform(mustPreset(t, c.Norm))
		}
		tr.OutChannels = c.OutChannels
		a, err := NewAugmenter(tr, shape)
		if err != nil {
			t.Fatal(err)
		}
		oc, oh, ow := a.OutShape()
		if oc != c.Shape[0] || oh != c.Shape[1] || ow != c.Shape[2] {
			t.Fatalf("%+v: output shape %d×%d×%d, want %v", c, oc, oh, ow, c.Shape)
		}
		got := make([]float32, oc*oh*ow)
		if err := a.Apply(got, img, Params{Flip: c.Flip, Top: c.Top, Left: c.Left}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s %s out %d flip %v corner (%d,%d)", c.Kind, c.Image, c.Norm, c.OutChannels, c.Flip, c.Top, c.Left)
		compareF32(t, got, f32s(t, c.F32))
	}
}

// TestGoldenResizedCrop checks the PIL bilinear resize bit for bit (uint8)
// and, for small outputs, the whole float32 result.
func TestGoldenResizedCrop(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Resized {
		img, shape := g.image(t, c.Image)
		tr := ResizedCropTransform(c.Size, mustPreset(t, c.Norm))
		tr.OutChannels = c.OutChannels
		a, err := NewAugmenter(tr, shape)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s box (%d,%d) %d×%d → %d flip %v", c.Image, c.Top, c.Left, c.Height, c.Width, c.Size, c.Flip)
		gotU8 := a.rs.resize(img, shape.W, shape.C, c.Top, c.Left, c.Height, c.Width, c.Size, c.Size)
		wantU8 := unb64(t, c.U8)
		// PIL converted grey to RGB before resizing when OutChannels is 3;
		// compare channel 0 of each pixel then.
		step := len(wantU8) / (c.Size * c.Size)
		bad := 0
		for p := 0; p < c.Size*c.Size; p++ {
			for ch := range shape.C {
				if gotU8[p*shape.C+ch] != wantU8[p*step+ch] {
					if bad < 5 {
						t.Errorf("pixel %d channel %d: got %d, want %d (PIL)", p, ch, gotU8[p*shape.C+ch], wantU8[p*step+ch])
					}
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%d uint8 values differ from PIL", bad)
		}
		if c.F32 == "" {
			continue
		}
		oc, oh, ow := a.OutShape()
		got := make([]float32, oc*oh*ow)
		if err := a.Apply(got, img, Params{Flip: c.Flip, Top: c.Top, Left: c.Left, Height: c.Height, Width: c.Width}); err != nil {
			t.Fatal(err)
		}
		compareF32(t, got, f32s(t, c.F32))
	}
}

// replay feeds resizedCropBox the random numbers torchvision drew.
type replay struct {
	t     *testing.T
	draws [][]any
}

func (r *replay) pop(kind string) []any {
	r.t.Helper()
	if len(r.draws) == 0 {
		r.t.Fatalf("sampler drew a %s after torchvision's last draw", kind)
	}
	d := r.draws[0]
	r.draws = r.draws[1:]
	if d[0].(string) != kind {
		r.t.Fatalf("sampler drew a %s, torchvision drew %v", kind, d)
	}
	return d
}

func (r *replay) uniform(lo, hi float64) float64 {
	d := r.pop("u")
	if lo != d[1].(float64) || hi != d[2].(float64) {
		r.t.Errorf("uniform bounds (%v, %v), torchvision (%v, %v)", lo, hi, d[1], d[2])
	}
	return d[3].(float64)
}

func (r *replay) intn(n int) int {
	d := r.pop("i")
	if d[1].(float64) != 0 || int(d[2].(float64)) != n {
		r.t.Errorf("randint bound %d, torchvision [%v, %v)", n, d[1], d[2])
	}
	return int(d[3].(float64))
}

func TestGoldenResizedCropBox(t *testing.T) {
	g := loadGolden(t)
	fallbacks := 0
	for i, c := range g.Boxes {
		r := &replay{t: t, draws: c.Draws}
		top, left, bh, bw := resizedCropBox(c.H, c.W, c.Scale, c.Ratio, r)
		if got := [4]int{top, left, bh, bw}; got != c.Box {
			t.Errorf("case %d (%d×%d scale %v ratio %v): got box %v, want %v", i, c.H, c.W, c.Scale, c.Ratio, got, c.Box)
		}
		if len(r.draws) != 0 {
			t.Errorf("case %d: %d torchvision draws left unused", i, len(r.draws))
		}
		if len(c.Draws) == 20 {
			fallbacks++
		}
	}
	if fallbacks == 0 {
		t.Error("no case exercised the centre-crop fallback")
	}
}
