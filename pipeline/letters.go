package pipeline

import (
	"fmt"
	"image"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/gomediumitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonobolditalic"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/gofont/gosmallcaps"
	"golang.org/x/image/font/gofont/gosmallcapsitalic"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"

	"github.com/t2f/t2f/shards"
)

// LettersGoFonts is the Input of a letters source that uses only the Go
// fonts compiled into the binary.
const LettersGoFonts = "gofont"

// LetterClasses are the letters a letters source renders (notMNIST's A–J).
const LetterClasses = "ABCDEFGHIJ"

// AuxLetterClasses are the letters an aux-letters source renders: Outlier
// Exposure's auxiliary outliers for the built-in benchmark. None is a test
// letter (A–J), and the letters that look like digits are left out too (I
// like 1, O and Q like 0, S like 5, Z like 2), so the outliers share no
// glyph with the letters OOD sets and resemble no MNIST class.
const AuxLetterClasses = "KLMNPRTUVWXY"

// letterOversample is how many times larger than the output side a letter
// is rasterised before the stroke change and the area-average downsample.
const letterOversample = 4

// Letters renders a notMNIST-like OOD set: the letters A–J, white on black,
// from a pool of fonts, each jittered in size, position, rotation, shear and
// stroke weight, then area-averaged to size×size. Letter i is LetterClasses[i
// mod 10]; everything else about it comes from a generator seeded by (seed,
// i), so image i never depends on the order or the worker that renders it.
// Every label is −1 (the letters are OOD; the drawn letter is in the
// record's provenance string, "letters#i:L:font").
type Letters struct {
	set                   string // the letters drawn, LetterClasses or AuxLetterClasses
	name                  string // "letters" or "aux-letters", in provenance strings
	salt                  uint64 // keys the per-image generator apart between the two
	fonts                 []letterFont
	inputs                []string
	count, size, channels int
	seed                  uint64
}

type letterFont struct {
	name   string
	font   *sfnt.Font
	glyphs []sfnt.GlyphIndex // one per letter of the set
}

// goFonts are the Go font family's faces, in a fixed order.
var goFonts = []struct {
	name string
	ttf  []byte
}{
	{"goregular", goregular.TTF}, {"gobold", gobold.TTF}, {"goitalic", goitalic.TTF},
	{"gobolditalic", gobolditalic.TTF}, {"gomedium", gomedium.TTF}, {"gomediumitalic", gomediumitalic.TTF},
	{"gomono", gomono.TTF}, {"gomonobold", gomonobold.TTF}, {"gomonoitalic", gomonoitalic.TTF},
	{"gomonobolditalic", gomonobolditalic.TTF}, {"gosmallcaps", gosmallcaps.TTF}, {"gosmallcapsitalic", gosmallcapsitalic.TTF},
}

// NewLetters returns count size×size letter images with channels channels
// (grey values replicated for 3). fontDir is LettersGoFonts for the Go fonts
// alone, or a directory whose *.ttf and *.otf files (searched recursively,
// in sorted path order) join the Go fonts — e.g. /usr/share/fonts. Font
// files that cannot be parsed or lack any of the letters A–J are left out;
// Fonts lists the pool.
func NewLetters(fontDir string, count, size, channels int, seed uint64) (*Letters, error) {
	return newLetters(LetterClasses, "letters", 0x6c657474657273, fontDir, count, size, channels, seed) // "letters"
}

// NewAuxLetters is NewLetters for the letters AuxLetterClasses (K L M N P
// R T U V W X Y), each image from a generator seeded by (seed, i) under its
// own key, so no image equals one of a letters set of any seed: Outlier
// Exposure's auxiliary outliers, disjoint from the letters OOD sets. Fonts
// are kept when they draw every letter of the set.
func NewAuxLetters(fontDir string, count, size, channels int, seed uint64) (*Letters, error) {
	return newLetters(AuxLetterClasses, "aux-letters", 0x6175786c65747472, fontDir, count, size, channels, seed) // "auxlettr"
}

func newLetters(set, name string, salt uint64, fontDir string, count, size, channels int, seed uint64) (*Letters, error) {
	if count <= 0 || count > MaxCount {
		return nil, fmt.Errorf("pipeline: letters count %d must lie in [1, %d]", count, MaxCount)
	}
	if size < 8 || size > shards.MaxSide || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("pipeline: letters size %d channels %d: want size ≥ 8 and 1 or 3 channels", size, channels)
	}
	l := &Letters{set: set, name: name, salt: salt, count: count, size: size, channels: channels, seed: seed}
	for _, g := range goFonts {
		f, ok, err := parseLetterFont(g.name, g.ttf, set)
		if err != nil || !ok {
			return nil, fmt.Errorf("pipeline: letters: built-in font %s: unusable (%v)", g.name, err)
		}
		l.fonts = append(l.fonts, f)
	}
	if fontDir == "" {
		return nil, fmt.Errorf("pipeline: letters: no font input; want %q or a font directory such as /usr/share/fonts", LettersGoFonts)
	}
	if fontDir == LettersGoFonts {
		return l, nil
	}
	var paths []string
	err := filepath.WalkDir(fontDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if !d.IsDir() && (ext == ".ttf" || ext == ".otf") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: letters: font directory %q: %w", fontDir, err)
	}
	slices.Sort(paths)
	for _, p := range paths {
		b, err := readRegular(p, MaxDataFileBytes)
		if err != nil {
			return nil, fmt.Errorf("pipeline: letters: %w", err)
		}
		f, ok, err := parseLetterFont(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), b, set)
		if err != nil || !ok {
			continue // not a usable text font (a symbol font, a broken file)
		}
		l.fonts = append(l.fonts, f)
		l.inputs = append(l.inputs, p)
	}
	return l, nil
}

// parseLetterFont parses a TrueType/OpenType font and looks up the letters
// of set; ok is false when a letter is missing or is drawn like a symbol
// font would (the glyphs of two letters identical, or empty).
func parseLetterFont(name string, ttf []byte, set string) (letterFont, bool, error) {
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return letterFont{}, false, err
	}
	lf := letterFont{name: name, font: f, glyphs: make([]sfnt.GlyphIndex, len(set))}
	var buf sfnt.Buffer
	seen := map[string]bool{}
	for k, r := range set {
		gi, err := f.GlyphIndex(&buf, r)
		if err != nil || gi == 0 {
			return lf, false, err
		}
		segs, err := f.LoadGlyph(&buf, gi, fixed.I(64), nil)
		if err != nil || len(segs) == 0 {
			return lf, false, err
		}
		key := fmt.Sprint(segs)
		if seen[key] {
			return lf, false, nil
		}
		seen[key] = true
		lf.glyphs[k] = gi
	}
	return lf, true, nil
}

// Fonts returns the names of the fonts in the pool, Go fonts first.
func (l *Letters) Fonts() []string {
	out := make([]string, len(l.fonts))
	for i, f := range l.fonts {
		out[i] = f.name
	}
	return out
}

func (l *Letters) Classes() []string { return nil }
func (l *Letters) Len() int          { return l.count }
func (l *Letters) Inputs() []string  { return l.inputs }

// letterParams are the random choices behind one image.
type letterParams struct {
	letter, font int
	extent       float64 // the glyph's larger side, as a fraction of the image side
	rot, shear   float64 // radians; x' = x + shear·y before the rotation
	dx, dy       float64 // centre offset, as a fraction of the free margin (−1..1)
	stroke       int     // dilation (>0) or erosion (<0) radius in oversampled pixels
	fg           uint8   // letter intensity
}

func (l *Letters) params(i int) letterParams {
	rng := rand.New(rand.NewPCG(l.seed, uint64(i)^l.salt))
	return letterParams{
		letter: i % len(l.set),
		font:   rng.IntN(len(l.fonts)),
		extent: 0.55 + 0.4*rng.Float64(),
		rot:    (rng.Float64()*2 - 1) * 15 * math.Pi / 180,
		shear:  (rng.Float64()*2 - 1) * 0.3,
		dx:     rng.Float64()*2 - 1,
		dy:     rng.Float64()*2 - 1,
		stroke: rng.IntN(6) - 1, // −1..4 at 4× = −¼..1 output pixel
		fg:     uint8(170 + rng.IntN(86)),
	}
}

func (l *Letters) Item(i int) Item {
	p := l.params(i)
	return Item{Source: l.name + "#" + strconv.Itoa(i) + ":" + l.set[p.letter:p.letter+1] + ":" + l.fonts[p.font].name, Label: -1}
}

// Load renders image i.
func (l *Letters) Load(i int) (Image, error) {
	if i < 0 || i >= l.count {
		return Image{}, fmt.Errorf("pipeline: letters record %d out of range [0, %d)", i, l.count)
	}
	return l.render(i, l.params(i))
}

// render draws one letter with the given choices.
func (l *Letters) render(i int, p letterParams) (Image, error) {
	f := l.fonts[p.font]
	segs, err := f.font.LoadGlyph(nil, f.glyphs[p.letter], fixed.I(256), nil)
	if err != nil {
		return Image{}, fmt.Errorf("pipeline: %s record %d: font %s letter %c: %w", l.name, i, f.name, l.set[p.letter], err)
	}
	hi := l.size * letterOversample
	// Affine map of glyph units: shear, then rotate; then scale and translate
	// so that the transformed control-point box has the drawn extent and sits
	// at the jittered centre.
	sin, cos := math.Sincos(p.rot)
	lin := func(x, y float64) (float64, float64) {
		x += p.shear * y
		return cos*x - sin*y, sin*x + cos*y
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range segs {
		for _, pt := range s.Args[:segArgs(s.Op)] {
			x, y := lin(float64(pt.X)/64, float64(pt.Y)/64)
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
			minY, maxY = math.Min(minY, y), math.Max(maxY, y)
		}
	}
	w, h := maxX-minX, maxY-minY
	if !(w > 0 && h > 0) {
		return Image{}, fmt.Errorf("pipeline: %s record %d: font %s letter %c has an empty outline", l.name, i, f.name, l.set[p.letter])
	}
	side := float64(hi)
	scale := p.extent * side / math.Max(w, h)
	cx := side/2 + p.dx*(side-scale*w)/2*0.9
	cy := side/2 + p.dy*(side-scale*h)/2*0.9
	ox, oy := (minX+maxX)/2, (minY+maxY)/2
	at := func(pt fixed.Point26_6) (float32, float32) {
		x, y := lin(float64(pt.X)/64, float64(pt.Y)/64)
		return float32(cx + scale*(x-ox)), float32(cy + scale*(y-oy))
	}
	r := vector.NewRasterizer(hi, hi)
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			r.MoveTo(at(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			r.LineTo(at(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := at(s.Args[0])
			x2, y2 := at(s.Args[1])
			r.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := at(s.Args[0])
			x2, y2 := at(s.Args[1])
			x3, y3 := at(s.Args[2])
			r.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	r.ClosePath()
	mask := image.NewAlpha(image.Rect(0, 0, hi, hi))
	r.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	cover := morph(mask.Pix, hi, p.stroke)
	out := Image{W: l.size, H: l.size, C: l.channels, Pix: make([]uint8, l.size*l.size*l.channels)}
	const n = letterOversample * letterOversample
	for y := range l.size {
		for x := range l.size {
			var sum int
			for yy := range letterOversample {
				row := cover[(y*letterOversample+yy)*hi+x*letterOversample:]
				for xx := range letterOversample {
					sum += int(row[xx])
				}
			}
			v := uint8((sum*int(p.fg) + n*255/2) / (n * 255))
			for c := range l.channels {
				out.Pix[(y*l.size+x)*l.channels+c] = v
			}
		}
	}
	return out, nil
}

func segArgs(op sfnt.SegmentOp) int {
	switch op {
	case sfnt.SegmentOpQuadTo:
		return 2
	case sfnt.SegmentOpCubeTo:
		return 3
	}
	return 1
}

// morph dilates (radius > 0) or erodes (radius < 0) a side×side coverage
// map with a square of the given radius (separable max / min filter); 0
// returns pix unchanged.
func morph(pix []uint8, side, radius int) []uint8 {
	if radius == 0 {
		return pix
	}
	pick := func(a, b uint8) uint8 { return max(a, b) }
	if radius < 0 {
		radius = -radius
		pick = func(a, b uint8) uint8 { return min(a, b) }
	}
	tmp := make([]uint8, len(pix))
	out := make([]uint8, len(pix))
	for y := range side {
		for x := range side {
			v := pix[y*side+x]
			for d := max(0, x-radius); d <= min(side-1, x+radius); d++ {
				v = pick(v, pix[y*side+d])
			}
			tmp[y*side+x] = v
		}
	}
	for y := range side {
		for x := range side {
			v := tmp[y*side+x]
			for d := max(0, y-radius); d <= min(side-1, y+radius); d++ {
				v = pick(v, tmp[d*side+x])
			}
			out[y*side+x] = v
		}
	}
	return out
}
