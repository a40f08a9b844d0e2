package pipeline

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// viaImagePNG decodes with the standard library only (the reference).
func viaImagePNG(b []byte) (Image, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return Image{}, err
	}
	return fromImage(img), nil
}

// asRGB expands grey to RGB so images decoded to 1 or 3 channels compare.
func asRGB(img Image) Image {
	if img.C == 3 {
		return img
	}
	out := Image{W: img.W, H: img.H, C: 3, Pix: make([]uint8, 3*len(img.Pix))}
	for i, v := range img.Pix {
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
	}
	return out
}

func pngCorpus(t testing.TB) [][]byte {
	rng := rand.New(rand.NewPCG(8, 8))
	var files [][]byte
	enc := func(img image.Image, level png.CompressionLevel) {
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		files = append(files, b.Bytes())
	}
	for _, sz := range [][2]int{{1, 1}, {32, 32}, {17, 5}, {3, 40}} {
		w, h := sz[0], sz[1]
		r := image.Rect(0, 0, w, h)
		gray, nrgba, rgba, pal, g16 := image.NewGray(r), image.NewNRGBA(r), image.NewRGBA(r), image.NewPaletted(r, nil), image.NewGray16(r)
		for i := range 7 {
			pal.Palette = append(pal.Palette, color.NRGBA{uint8(i * 30), uint8(200 - i*20), uint8(i * 7), uint8(255 - i*40)})
		}
		for y := range h {
			for x := range w {
				smooth := uint8(x*7 + y*3)
				v := smooth + uint8(rng.IntN(9))
				gray.SetGray(x, y, color.Gray{v})
				nrgba.SetNRGBA(x, y, color.NRGBA{v, smooth, uint8(rng.IntN(256)), uint8(rng.IntN(256))})
				rgba.SetRGBA(x, y, color.RGBA{v, uint8(rng.IntN(256)), smooth, 255})
				pal.SetColorIndex(x, y, uint8(rng.IntN(7)))
				g16.SetGray16(x, y, color.Gray16{uint16(v) * 257})
			}
		}
		for _, lvl := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression, png.BestCompression} {
			for _, img := range []image.Image{gray, nrgba, rgba, pal, g16} {
				enc(img, lvl)
			}
		}
	}
	// PNGs written by PIL (the fixtures), including grey.
	paths, _ := filepath.Glob(filepath.Join("testdata", "pil", "src_*.png"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	return files
}

func TestPNGFastMatchesImagePNG(t *testing.T) {
	handled := 0
	for i, b := range pngCorpus(t) {
		got, ok, err := decodePNGFast(b, DefaultMaxPixels)
		if !ok {
			continue
		}
		handled++
		want, werr := viaImagePNG(b)
		if err != nil || werr != nil {
			t.Fatalf("file %d: fast %v, image/png %v", i, err, werr)
		}
		g, w := asRGB(got), asRGB(want)
		if g.W != w.W || g.H != w.H || !bytes.Equal(g.Pix, w.Pix) {
			t.Fatalf("file %d (%dx%d): fast path pixels differ from image/png", i, w.W, w.H)
		}
	}
	if handled < 40 {
		t.Fatalf("fast path handled only %d files", handled)
	}
	// Corruptions: whenever image/png rejects a file the fast path rejects it
	// too, and whatever the fast path accepts matches image/png.
	rng := rand.New(rand.NewPCG(9, 9))
	files := pngCorpus(t)
	stricter := 0
	defer func() { t.Logf("%d corrupted files rejected by the fast path but accepted by image/png", stricter) }()
	for k := range 3000 {
		b := bytes.Clone(files[rng.IntN(len(files))])
		switch k % 3 {
		case 0:
			b[8+rng.IntN(len(b)-8)] ^= uint8(1 + rng.IntN(255))
		case 1:
			b = b[:8+rng.IntN(len(b)-8)]
		case 2:
			i := 8 + rng.IntN(len(b)-8)
			b = append(b[:i:i], b[min(len(b), i+1+rng.IntN(8)):]...)
		}
		got, ok, err := decodePNGFast(b, DefaultMaxPixels)
		if !ok {
			continue
		}
		want, werr := viaImagePNG(b)
		if err != nil && werr == nil {
			stricter++
		}
		switch {
		case err == nil && werr != nil:
			t.Fatalf("case %d: fast path accepted a file image/png rejects (%v)", k, werr)
		case err == nil && !bytes.Equal(asRGB(got).Pix, asRGB(want).Pix):
			t.Fatalf("case %d: fast path pixels differ on a corrupted file", k)
		}
	}
}

func FuzzDecodePNGFast(f *testing.F) {
	for _, b := range pngCorpus(f)[:12] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok, err := decodePNGFast(b, 1<<20)
		if !ok || err != nil {
			return
		}
		want, werr := viaImagePNG(b)
		if werr != nil {
			t.Fatalf("fast path accepted a file image/png rejects: %v", werr)
		}
		if !bytes.Equal(asRGB(got).Pix, asRGB(want).Pix) {
			t.Fatal("fast path pixels differ from image/png")
		}
	})
}
