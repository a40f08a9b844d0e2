// Command textures extracts the photographic texture JPEGs of the Debian
// package nexuiz-textures (a zip archive, textures.pk3) into one flat folder,
// so that `t2f pipeline build --source imagefolder` can turn them into the
// far-OOD "textures" set (a stand-in for OpenOOD's DTD Textures). Material
// maps that are not photographs (*_bump, *_gloss, *_glow, *_norm) are left
// out. The file name is the archive path with "/" replaced by "__".
//
//	go run ./scripts/textures -in /usr/share/games/nexuiz/data/textures.pk3 -out data/raw/textures/nexuiz
//
// Files are written under a temporary name and renamed, and get the
// archive entry's modification time, so a rerun (or another machine) gives
// files with the same names, sizes and times — the input fingerprint that
// t2f pipeline build checks stays the same. A file already there with the
// entry's size and time is left alone.
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/t2f/t2f/internal/atomicfile"
)

func main() {
	in := flag.String("in", "/usr/share/games/nexuiz/data/textures.pk3", "the nexuiz-textures archive")
	out := flag.String("out", "data/raw/textures/nexuiz", "output folder")
	flag.Parse()
	n, err := extract(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "textures:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d texture JPEGs\n", *out, n)
}

func extract(in, out string) (int, error) {
	z, err := zip.OpenReader(in)
	if err != nil {
		return 0, err
	}
	defer z.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range z.File {
		name := strings.ToLower(f.Name)
		if !strings.HasSuffix(name, ".jpg") && !strings.HasSuffix(name, ".jpeg") {
			continue
		}
		base := strings.TrimSuffix(name, filepath.Ext(name))
		if strings.HasSuffix(base, "_bump") || strings.HasSuffix(base, "_gloss") || strings.HasSuffix(base, "_glow") || strings.HasSuffix(base, "_norm") {
			continue
		}
		dst := filepath.Join(out, strings.ReplaceAll(f.Name, "/", "__"))
		if st, err := os.Stat(dst); err == nil && st.Size() == int64(f.UncompressedSize64) && st.ModTime().Equal(f.Modified) {
			n++
			continue
		}
		if err := copyFile(f, dst); err != nil {
			return n, fmt.Errorf("%s: %w", f.Name, err)
		}
		n++
	}
	return n, nil
}

func copyFile(f *zip.File, dst string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	return os.Chtimes(dst, f.Modified, f.Modified)
}
