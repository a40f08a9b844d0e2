package pipeline

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// ImageFolder is root/<class>/**/<image>: classes are the sub-directories of
// root sorted by name; images are the files with an image extension under
// each, in lexical path order (torchvision's ImageFolder order).
type ImageFolder struct {
	root      string
	classes   []string
	paths     []string // relative to root, slash-separated
	labels    []int32
	maxPixels int
}

// OpenImageFolder lists root. maxPixels ≤ 0 means [DefaultMaxPixels].
func OpenImageFolder(root string, maxPixels int) (*ImageFolder, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("pipeline: imagefolder: %w", err)
	}
	f := &ImageFolder{root: root, maxPixels: maxPixels}
	for _, e := range ents {
		if e.IsDir() {
			f.classes = append(f.classes, e.Name())
		}
	}
	sort.Strings(f.classes)
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("pipeline: imagefolder %q: no class sub-directories (want root/<class>/<image>)", root)
	}
	for k, c := range f.classes {
		var paths []string
		err := filepath.WalkDir(filepath.Join(root, c), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isImageFile(p) {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				paths = append(paths, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline: imagefolder: %w", err)
		}
		sort.Strings(paths)
		for _, p := range paths {
			f.paths = append(f.paths, p)
			f.labels = append(f.labels, int32(k))
		}
	}
	if len(f.paths) == 0 {
		return nil, fmt.Errorf("pipeline: imagefolder %q: no images (png, jpg, jpeg, gif, bmp, webp) under %d class directories", root, len(f.classes))
	}
	return f, nil
}

func (f *ImageFolder) Classes() []string { return f.classes }
func (f *ImageFolder) Len() int          { return len(f.paths) }
func (f *ImageFolder) Item(i int) Item   { return Item{Source: f.paths[i], Label: f.labels[i]} }

func (f *ImageFolder) Inputs() []string {
	out := make([]string, len(f.paths))
	for i, p := range f.paths {
		out[i] = filepath.Join(f.root, filepath.FromSlash(p))
	}
	return out
}

func (f *ImageFolder) Load(i int) (Image, error) {
	p := filepath.Join(f.root, filepath.FromSlash(f.paths[i]))
	img, err := DecodeFile(p, f.maxPixels)
	if err != nil {
		return Image{}, fmt.Errorf("pipeline: imagefolder %q: %w", p, err)
	}
	return img, nil
}
