package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/t2f/t2f/shards"
)

// makeFolder writes an imagefolder tree: classes × per images of w×h in
// rotating formats, and returns each file's exact RGB pixels (PNG/BMP/GIF
// are lossless here; JPEG files are listed with nil pixels).
func makeFolder(t *testing.T, root string, classes []string, per, w, h int, formats []string) map[string][]uint8 {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]uint8{}
	k := 0
	for _, c := range classes {
		os.MkdirAll(filepath.Join(root, c), 0o755)
		for i := range per {
			f := formats[k%len(formats)]
			k++
			img := image.NewNRGBA(image.Rect(0, 0, w, h))
			pal := color.Palette{}
			for j := range 16 {
				pal = append(pal, color.NRGBA{uint8(j * 16), uint8(255 - j*16), uint8(j * 9), 255})
			}
			pix := make([]uint8, 0, w*h*3)
			for p := 0; p < w*h; p++ {
				var cc color.NRGBA
				if f == "gif" {
					cc = pal[rng.IntN(16)].(color.NRGBA)
				} else {
					cc = color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
				}
				img.SetNRGBA(p%w, p/w, cc)
				pix = append(pix, cc.R, cc.G, cc.B)
			}
			rel := fmt.Sprintf("%s/img%03d.%s", c, i, f)
			fh, err := os.Create(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			switch f {
			case "png":
				err = png.Encode(fh, img)
			case "jpg":
				err = jpeg.Encode(fh, img, &jpeg.Options{Quality: 90})
				pix = nil
			case "bmp":
				err = bmp.Encode(fh, img)
			case "gif":
				err = gif.Encode(fh, img, &gif.Options{NumColors: 16, Quantizer: nil, Drawer: nil})
				pix = nil // GIF quantisation may remap; checked by decode only
			}
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
			want[rel] = pix
		}
	}
	return want
}

func TestImageFolderBuild(t *testing.T) {
	root := t.TempDir()
	classes := []string{"zebra", "ant", "moth"}
	want := makeFolder(t, root, classes, 7, 8, 8, []string{"png", "bmp", "jpg", "gif"})
	os.WriteFile(filepath.Join(root, "ant", "notes.txt"), []byte("not an image"), 0o644)
	out := filepath.Join(t.TempDir(), "o")
	res, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 8, Channels: 3, Workers: 3, ShardRows: 5, Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Manifest.Classes; !slices.Equal(got, []string{"ant", "moth", "zebra"}) {
		t.Fatalf("classes %v, want sorted", got)
	}
	r, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Len() != 21 {
		t.Fatalf("%d rows, want 21", r.Len())
	}
	var prev string
	exact := 0
	for i := range r.Len() {
		src := r.Source(i)
		cls := strings.Split(src, "/")[0]
		if int(r.Label(i)) != slices.Index([]string{"ant", "moth", "zebra"}, cls) {
			t.Errorf("row %d %s: label %d", i, src, r.Label(i))
		}
		if src <= prev {
			t.Errorf("row %d: %q not after %q", i, src, prev)
		}
		prev = src
		if pix := want[src]; pix != nil {
			exact++
			if !bytes.Equal(r.Image(i), pix) {
				t.Errorf("row %d %s: lossless pixels changed", i, src)
			}
		}
	}
	if exact < 10 {
		t.Fatalf("only %d lossless images checked", exact)
	}
}

// shardSums returns the manifest's shard checksums.
func shardSums(t *testing.T, dir string) []string {
	t.Helper()
	m, err := shards.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, sh := range m.Shards {
		s = append(s, sh.File+" "+sh.SHA256)
	}
	return s
}

func TestOutputIndependentOfWorkers(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"a", "b"}, 150, 12, 10, []string{"png", "jpg"})
	for _, src := range []Params{
		{Source: "imagefolder", Input: root, Size: 8, Channels: 3, ShardRows: 70},
		{Source: "synthetic", Input: "blobs", Count: 600, Seed: 3, Size: 16, Channels: 3, ShardRows: 250},
	} {
		var ref []string
		for _, w := range []int{1, 2, 7} {
			p := src
			p.Workers = w
			p.Out = filepath.Join(t.TempDir(), "o")
			if _, err := Build(context.Background(), p, nil); err != nil {
				t.Fatal(err)
			}
			got := shardSums(t, p.Out)
			if ref == nil {
				ref = got
			} else if !slices.Equal(got, ref) {
				t.Errorf("%s with %d workers: shards %v, with 1 worker %v", src.Source, w, got, ref)
			}
		}
	}
}

func TestSelectHoldout(t *testing.T) {
	rest, _ := Select(100, 0, 30, 5, "rest")
	hold, _ := Select(100, 0, 30, 5, "holdout")
	if len(rest) != 70 || len(hold) != 30 {
		t.Fatalf("sizes %d + %d", len(rest), len(hold))
	}
	all := append(slices.Clone(rest), hold...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("rest ∪ holdout is not 0..99 disjointly: %v", all)
		}
	}
	if !slices.IsSorted(rest) || !slices.IsSorted(hold) {
		t.Error("parts not in input order")
	}
	hold2, _ := Select(100, 0, 30, 5, "holdout")
	hold3, _ := Select(100, 0, 30, 6, "holdout")
	if !slices.Equal(hold, hold2) || slices.Equal(hold, hold3) {
		t.Error("holdout not determined by its seed")
	}
	lim, _ := Select(100, 10, 0, 0, "")
	if !slices.Equal(lim, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("limit 10: %v", lim)
	}
	if _, err := Select(10, 0, 11, 0, "rest"); err == nil {
		t.Error("holdout larger than input accepted")
	}
}

func TestHoldoutBuildsAndLabelOOD(t *testing.T) {
	base := Params{Source: "synthetic", Input: "uniform", Count: 50, Seed: 1, Size: 4, Channels: 1, Holdout: 12, HoldoutSeed: 9}
	ids := map[int64]string{}
	for _, part := range []string{"rest", "holdout"} {
		p := base
		p.Part = part
		p.Out = filepath.Join(t.TempDir(), part)
		res, err := Build(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := shards.Open(p.Out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.Len() {
			if other, dup := ids[r.ID(i)]; dup {
				t.Errorf("id %d in both %s and %s", r.ID(i), other, part)
			}
			ids[r.ID(i)] = part
		}
		r.Close()
		if part == "holdout" && (res.Manifest.Rows != 12 || res.Manifest.Split != "test-holdout") {
			t.Errorf("holdout: %d rows, split %q", res.Manifest.Rows, res.Manifest.Split)
		}
	}
	if len(ids) != 50 {
		t.Errorf("parts cover %d of 50 ids", len(ids))
	}

	// --label-ood on a labelled source.
	root := t.TempDir()
	makeFolder(t, root, []string{"a", "b"}, 3, 4, 4, []string{"png"})
	out := filepath.Join(t.TempDir(), "ood")
	res, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, LabelOOD: true, Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.OODCount != 6 || len(res.Manifest.Classes) != 0 || !bytes.Contains(res.Manifest.Build, []byte(`"label_ood":true`)) {
		t.Errorf("label-ood manifest: ood %d classes %v build %s", res.Manifest.OODCount, res.Manifest.Classes, res.Manifest.Build)
	}
	if err := shards.Verify(out); err != nil {
		t.Error(err)
	}
}

func TestOutDirRules(t *testing.T) {
	p := Params{Source: "synthetic", Input: "gaussian", Count: 20, Seed: 1, Size: 4, Out: filepath.Join(t.TempDir(), "o")}
	if _, err := Build(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), p, nil)
	if err != nil || !res.UpToDate {
		t.Fatalf("rerun: %v, up to date %v", err, res != nil && res.UpToDate)
	}
	q := p
	q.Seed = 2
	if _, err := Build(context.Background(), q, nil); err == nil || !strings.Contains(err.Error(), "different parameters") {
		t.Errorf("different dataset in --out: %v", err)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "thesis.tex"), []byte("x"), 0o644)
	q.Out = foreign
	if _, err := Build(context.Background(), q, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("foreign --out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "thesis.tex")); err != nil {
		t.Error("foreign file touched")
	}
}

func TestResumeAfterInterrupt(t *testing.T) {
	p := Params{Source: "synthetic", Input: "blobs", Count: 1500, Seed: 4, Size: 8, ShardRows: 300, Workers: 2}
	ref := p
	ref.Out = filepath.Join(t.TempDir(), "ref")
	if _, err := Build(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	p.Out = filepath.Join(t.TempDir(), "o")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Build(ctx, p, func(done, total int) {
		if done >= 700 {
			cancel()
		}
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted build: %v", err)
	}
	ents, _ := os.ReadDir(p.Out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if strings.HasSuffix(e.Name(), shards.TempSuffix) {
			t.Errorf("temp file %s left", e.Name())
		}
	}
	if !slices.Contains(names, "shard-00000.arrow") || slices.Contains(names, shards.ManifestName) {
		t.Fatalf("after interrupt: %v", names)
	}
	// A crash would also leave a temp shard; the rerun must drop it.
	os.WriteFile(filepath.Join(p.Out, "shard-00009.arrow.tmp"), []byte("half"), 0o644)
	res, err := Build(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed == 0 || res.Resumed%300 != 0 {
		t.Errorf("resumed %d rows", res.Resumed)
	}
	if got, want := shardSums(t, p.Out), shardSums(t, ref.Out); !slices.Equal(got, want) {
		t.Errorf("resumed build %v differs from a clean one %v", got, want)
	}
	if err := shards.Verify(p.Out); err != nil {
		t.Error(err)
	}
}

// pngWithSize returns a PNG whose header claims w×h (the data is not valid
// for that size; a bomb check must reject it before decoding).
func pngWithSize(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

func TestBadImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte("definitely not a png"), "undecodable"},
		{"truncated png", nil, "undecodable"},
		{"bomb", pngWithSize(100000, 100000), "exceeds the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			makeFolder(t, root, []string{"a", "b"}, 40, 4, 4, []string{"png"})
			bad := filepath.Join(root, "b", "img020.png")
			data := tc.data
			if data == nil {
				full, _ := os.ReadFile(bad)
				data = full[:len(full)/2]
			}
			os.WriteFile(bad, data, 0o644)
			out := filepath.Join(t.TempDir(), "o")
			_, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, ShardRows: 10, Workers: 2, Out: out}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "img020.png") {
				t.Fatalf("err = %v, want %q naming img020.png", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("failed build left %s", out)
			}
			res, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, ShardRows: 10, SkipBad: true, Out: out}, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.Rows != 79 || m.SkippedN != 1 || len(m.Skipped) != 1 || m.Skipped[0].Source != "b/img020.png" || !strings.Contains(m.Skipped[0].Error, tc.want) {
				t.Errorf("skip-bad manifest: rows %d skipped %d %+v", m.Rows, m.SkippedN, m.Skipped)
			}
			if err := shards.Verify(out); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBadInputKeepsUserDir(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"a"}, 30, 4, 4, []string{"png"})
	os.WriteFile(filepath.Join(root, "a", "img029.png"), []byte("junk"), 0o644)
	out := t.TempDir() // exists and is empty before the build
	_, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 4, ShardRows: 7, Out: out}, nil)
	if err == nil {
		t.Fatal("junk image accepted")
	}
	ents, err := os.ReadDir(out)
	if err != nil || len(ents) != 0 {
		t.Errorf("user's --out after a failed build: %v, %v (want it present and empty)", ents, err)
	}
}

// TestResizeThenCrop checks that Params.Resize reaches the preprocessor
// (Resize(10) → CenterCrop(8) here; the transform itself is checked against
// PIL in TestPreprocessMatchesPIL), that Resize == Size is the same build as
// no Resize, and the refusals.
func TestResizeThenCrop(t *testing.T) {
	root := t.TempDir()
	makeFolder(t, root, []string{"a"}, 3, 15, 12, []string{"png"})
	build := func(resize int) (string, *Result) {
		out := filepath.Join(t.TempDir(), "o")
		res, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Resize: resize, Size: 8, Out: out}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out, res
	}
	out, _ := build(10)
	r, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pre10, _ := NewPreprocessor(10, 8, 3, "")
	pre8, _ := NewPreprocessor(0, 8, 3, "")
	for i := range r.Len() {
		img, err := DecodeFile(filepath.Join(root, r.Source(i)), DefaultMaxPixels)
		if err != nil {
			t.Fatal(err)
		}
		want10, want8 := make([]uint8, pre10.OutLen()), make([]uint8, pre8.OutLen())
		if err := errors.Join(pre10.Apply(img, want10), pre8.Apply(img, want8)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Image(i), want10) {
			t.Errorf("row %d: not Resize(10) → CenterCrop(8)", i)
		}
		if bytes.Equal(want10, want8) {
			t.Errorf("row %d: Resize(10) and Resize(8) agree; the test cannot tell them apart", i)
		}
	}
	out8, _ := build(8)
	again, err := Build(context.Background(), Params{Source: "imagefolder", Input: root, Size: 8, Out: out8}, nil)
	if err != nil || !again.UpToDate {
		t.Errorf("Resize == Size then no Resize: up to date %v, err %v; want the same build", again != nil && again.UpToDate, err)
	}
	for _, p := range []Params{
		{Source: "imagefolder", Input: root, Resize: 6, Size: 8},
		{Source: "synthetic", Input: "gaussian", Count: 2, Resize: 10, Size: 8},
	} {
		p.Out = filepath.Join(t.TempDir(), "bad")
		if _, err := Build(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "resize") {
			t.Errorf("%+v: error %v, want one about resize", p, err)
		} else if _, statErr := os.Stat(p.Out); statErr == nil {
			t.Errorf("%+v: output directory created", p)
		}
	}
}
