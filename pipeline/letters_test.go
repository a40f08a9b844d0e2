package pipeline

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"

	"github.com/t2f/t2f/shards"
)

// inkBox returns the bounding box of pixels above thr and the total ink.
func inkBox(img Image, thr uint8) (x0, y0, x1, y1, ink int) {
	x0, y0, x1, y1 = img.W, img.H, -1, -1
	for y := range img.H {
		for x := range img.W {
			v := img.Pix[(y*img.W+x)*img.C]
			ink += int(v)
			if v > thr {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	return
}

func TestLettersGeometry(t *testing.T) {
	l, err := NewLetters(LettersGoFonts, 10, 28, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := letterParams{letter: 7, font: 0, extent: 0.8, fg: 255} // 'H' in Go Regular, no jitter
	img, err := l.render(0, base)
	if err != nil {
		t.Fatal(err)
	}
	x0, y0, x1, y1, _ := inkBox(img, 64)
	w, h := x1-x0+1, y1-y0+1
	// The larger side of the outline box is extent·28 = 22.4 px, centred.
	if big := max(w, h); big < 21 || big > 24 {
		t.Errorf("H: ink box %dx%d, want its larger side ≈ 22.4 px", w, h)
	}
	if c := float64(x0+x1+1) / 2; math.Abs(c-14) > 1 {
		t.Errorf("H: horizontal centre %.1f, want 14±1", c)
	}
	if c := float64(y0+y1+1) / 2; math.Abs(c-14) > 1 {
		t.Errorf("H: vertical centre %.1f, want 14±1", c)
	}
	// 'I' (with serifs in Go Regular) is tall; turned by 90° it becomes a wide one.
	bar := base
	bar.letter = 8
	img, _ = l.render(0, bar)
	x0, y0, x1, y1, _ = inkBox(img, 64)
	if w, h := x1-x0+1, y1-y0+1; h < 2*w {
		t.Errorf("upright I: ink box %dx%d, want a tall bar", w, h)
	}
	bar.rot = math.Pi / 2
	img, _ = l.render(0, bar)
	x0, y0, x1, y1, _ = inkBox(img, 64)
	if w, h := x1-x0+1, y1-y0+1; w < 2*h {
		t.Errorf("I turned 90°: ink box %dx%d, want a wide bar", w, h)
	}
	// Stroke weight: eroding thins, dilating thickens.
	var inks []int
	for _, s := range []int{-1, 0, 2, 4} {
		p := base
		p.stroke = s
		img, _ := l.render(0, p)
		_, _, _, _, ink := inkBox(img, 0)
		inks = append(inks, ink)
	}
	if !slices.IsSorted(inks) || inks[0] == inks[3] {
		t.Errorf("ink for stroke -1, 0, 2, 4: %v, want increasing", inks)
	}
	// Intensity: fg scales the letter.
	dim := base
	dim.fg = 128
	a, _ := l.render(0, base)
	b, _ := l.render(0, dim)
	if mx := slices.Max(b.Pix); mx < 126 || mx > 128 || slices.Max(a.Pix) != 255 {
		t.Errorf("max pixel with fg 255: %d, with fg 128: %d", slices.Max(a.Pix), mx)
	}
}

func TestLettersDeterministic(t *testing.T) {
	a, _ := NewLetters(LettersGoFonts, 40, 28, 3, 7)
	b, _ := NewLetters(LettersGoFonts, 40, 28, 3, 7)
	c, _ := NewLetters(LettersGoFonts, 40, 28, 3, 8)
	letters := map[byte]int{}
	same := 0
	for i := 39; i >= 0; i-- { // reverse order: an image depends on (seed, i) only
		x, err := a.Load(i)
		if err != nil {
			t.Fatal(err)
		}
		y, _ := b.Load(i)
		z, _ := c.Load(i)
		if !slices.Equal(x.Pix, y.Pix) || a.Item(i) != b.Item(i) {
			t.Fatalf("image %d differs between two sources with seed 7", i)
		}
		if slices.Equal(x.Pix, z.Pix) {
			same++
		}
		if x.W != 28 || x.H != 28 || x.C != 3 || len(x.Pix) != 28*28*3 {
			t.Fatalf("image %d: %dx%dx%d, %d bytes", i, x.W, x.H, x.C, len(x.Pix))
		}
		for p := 0; p < len(x.Pix); p += 3 {
			if x.Pix[p] != x.Pix[p+1] || x.Pix[p] != x.Pix[p+2] {
				t.Fatalf("image %d pixel %d is not grey: %v", i, p/3, x.Pix[p:p+3])
			}
		}
		it := a.Item(i)
		parts := strings.Split(it.Source, ":")
		if it.Label != -1 || len(parts) != 3 || parts[0] != "letters#"+strconv.Itoa(i) {
			t.Fatalf("item %d: %+v", i, it)
		}
		letters[parts[1][0]]++
	}
	if same > 0 {
		t.Errorf("%d of 40 images equal under seeds 7 and 8", same)
	}
	for _, r := range LetterClasses {
		if letters[byte(r)] != 4 {
			t.Errorf("letter %c drawn %d times in 40, want 4", r, letters[byte(r)])
		}
	}
	if _, err := a.Load(40); err == nil {
		t.Error("Load(40) of 40 images: no error")
	}
}

func TestLettersFontDir(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "truetype", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "Copy.TTF"), goregular.TTF, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.ttf"), []byte("not a font"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLetters(dir, 5, 28, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	fonts := l.Fonts()
	if len(fonts) != len(goFonts)+1 || fonts[len(fonts)-1] != "Copy" || fonts[0] != "goregular" {
		t.Errorf("fonts %v, want the %d Go fonts then Copy", fonts, len(goFonts))
	}
	if in := l.Inputs(); len(in) != 1 || in[0] != filepath.Join(sub, "Copy.TTF") {
		t.Errorf("inputs %v, want only the usable font file", in)
	}
	g, _ := NewLetters(LettersGoFonts, 5, 28, 1, 1)
	if len(g.Fonts()) != len(goFonts) || g.Inputs() != nil {
		t.Errorf("gofont: fonts %v inputs %v", g.Fonts(), g.Inputs())
	}
}

func TestLettersErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dir            string
		count, size, channel int
		want                 string
	}{
		{"no count", LettersGoFonts, 0, 28, 1, "count 0"},
		{"tiny", LettersGoFonts, 5, 4, 1, "size 4"},
		{"channels", LettersGoFonts, 5, 28, 2, "channels 2"},
		{"no input", "", 5, 28, 1, "no font input"},
		{"missing dir", filepath.Join(t.TempDir(), "nope"), 5, 28, 1, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLetters(tc.dir, tc.count, tc.size, tc.channel, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "pipeline: ") {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLettersBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "letters")
	p := Params{Source: "letters", Input: LettersGoFonts, Count: 30, Seed: 3, Size: 28, Channels: 1, Workers: 3, Out: out}
	res, err := Build(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Rows != 30 || m.Dataset != "letters" || m.Split != "test" {
		t.Fatalf("manifest: %d rows, dataset %q split %q", m.Rows, m.Dataset, m.Split)
	}
	r, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, _ := NewLetters(LettersGoFonts, 30, 28, 1, 3)
	for i := range 30 {
		want, _ := src.Load(i)
		if r.Label(i) != -1 || !slices.Equal(r.Image(i), want.Pix) || r.Source(i) != src.Item(i).Source {
			t.Fatalf("row %d: label %d, source %q; want the rendered letter %q", i, r.Label(i), r.Source(i), src.Item(i).Source)
		}
	}
}

// TestAuxLettersDisjoint checks Outlier Exposure's auxiliary letters: every
// letter of AuxLetterClasses appears, none of the test letters A–J nor a
// digit look-alike does, and a build through the "aux-letters" source
// writes exactly the rendered images.
func TestAuxLettersDisjoint(t *testing.T) {
	if strings.ContainsAny(AuxLetterClasses, LetterClasses+"IOQSZ") {
		t.Fatalf("AuxLetterClasses %q shares letters with the test letters %q or the digit look-alikes", AuxLetterClasses, LetterClasses)
	}
	l, err := NewAuxLetters(LettersGoFonts, 48, 28, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[byte]int{}
	for i := range 48 {
		it := l.Item(i)
		parts := strings.Split(it.Source, ":")
		if it.Label != -1 || len(parts) != 3 || parts[0] != "aux-letters#"+strconv.Itoa(i) {
			t.Fatalf("item %d: %+v", i, it)
		}
		drawn[parts[1][0]]++
		img, err := l.Load(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, x1, _, _ := inkBox(img, 64); x1 < 0 {
			t.Errorf("image %d (%s) has no ink", i, it.Source)
		}
	}
	for _, r := range AuxLetterClasses {
		if drawn[byte(r)] != 4 {
			t.Errorf("letter %c drawn %d times in 48, want 4", r, drawn[byte(r)])
		}
	}
	out := filepath.Join(t.TempDir(), "aux")
	res, err := Build(context.Background(), Params{Source: "aux-letters", Input: LettersGoFonts, Count: 12, Seed: 5, Size: 28, Channels: 1, Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Dataset != "aux-letters" || res.Manifest.Rows != 12 {
		t.Errorf("manifest: dataset %q, %d rows", res.Manifest.Dataset, res.Manifest.Rows)
	}
	r, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range 12 {
		want, _ := l.Load(i)
		if r.Label(i) != -1 || !slices.Equal(r.Image(i), want.Pix) {
			t.Fatalf("row %d: label %d or image differs from the rendered letter", i, r.Label(i))
		}
	}
}
