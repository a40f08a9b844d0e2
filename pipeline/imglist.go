package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/t2f/t2f/shards"
)

// ImgListEntry is one parsed line of an OpenOOD image list.
type ImgListEntry struct {
	Line  int    // 1-based line number
	Path  string // relative to the data root, slash-separated, cleaned
	Label int    // −1 = OOD
}

// ParseImgList parses an OpenOOD benchmark image list: one "relative/path
// label" per line, split at the first space (paths may not contain spaces;
// OpenOOD's reader splits the same way). Blank lines are skipped; a trailing
// "\r" is ignored. Every label must be an integer ≥ −1, and every path must
// stay inside the data root (no absolute paths, no "..").
func ParseImgList(r io.Reader) ([]ImgListEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []ImgListEntry
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		p, lab, ok := strings.Cut(line, " ")
		if !ok || p == "" {
			return nil, fmt.Errorf("line %d: %q: want \"relative/path label\"", n, line)
		}
		l, err := strconv.Atoi(strings.TrimSpace(lab))
		if err != nil {
			return nil, fmt.Errorf("line %d: label %q is not an integer", n, strings.TrimSpace(lab))
		}
		if l < -1 || l >= shards.MaxClasses {
			return nil, fmt.Errorf("line %d: label %d, want -1 (OOD) or a class index in [0, %d)", n, l, shards.MaxClasses)
		}
		if strings.ContainsRune(p, 0) || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") ||
			path.Clean(p) == "." || !filepath.IsLocal(filepath.FromSlash(p)) {
			return nil, fmt.Errorf("line %d: path %q escapes the data root (absolute, \"..\", backslash or empty paths are not allowed)", n, p)
		}
		out = append(out, ImgListEntry{Line: n, Path: path.Clean(p), Label: l})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("after %d entries: %w", len(out), err)
	}
	return out, nil
}

// ImgList is an OpenOOD image list under a data root.
type ImgList struct {
	list      string
	root      string
	entries   []ImgListEntry
	classes   []string
	maxPixels int
}

// OpenImgList parses the list file and checks it against root. classes
// names the labels; nil means "0".."max label". Labels must lie in
// [−1, len(classes)). Unless allowMissing, every listed file must exist.
// maxPixels ≤ 0 means [DefaultMaxPixels].
func OpenImgList(list, root string, classes []string, maxPixels int, allowMissing bool) (*ImgList, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	f, _, err := openRegular(list, MaxDataFileBytes)
	if err != nil {
		return nil, fmt.Errorf("pipeline: imglist: %w", err)
	}
	defer f.Close()
	entries, err := ParseImgList(f)
	if err != nil {
		return nil, fmt.Errorf("pipeline: imglist %q: %w", list, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("pipeline: imglist %q: no entries", list)
	}
	if classes == nil {
		top := -1
		for _, e := range entries {
			top = max(top, e.Label)
		}
		for k := 0; k <= top; k++ {
			classes = append(classes, strconv.Itoa(k))
		}
	}
	for _, e := range entries {
		if err := checkLabel(int64(e.Label), len(classes), fmt.Sprintf("imglist %q line %d", list, e.Line)); err != nil {
			return nil, err
		}
		if !allowMissing {
			p := filepath.Join(root, filepath.FromSlash(e.Path))
			if st, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("pipeline: imglist %q line %d: %w", list, e.Line, err)
			} else if st.IsDir() {
				return nil, fmt.Errorf("pipeline: imglist %q line %d: %q is a directory", list, e.Line, p)
			}
		}
	}
	return &ImgList{list: list, root: root, entries: entries, classes: classes, maxPixels: maxPixels}, nil
}

func (l *ImgList) Classes() []string { return l.classes }
func (l *ImgList) Len() int          { return len(l.entries) }
func (l *ImgList) Item(i int) Item {
	return Item{Source: l.entries[i].Path, Label: int32(l.entries[i].Label)}
}

func (l *ImgList) Inputs() []string {
	out := []string{l.list}
	for _, e := range l.entries {
		out = append(out, filepath.Join(l.root, filepath.FromSlash(e.Path)))
	}
	return out
}

func (l *ImgList) Load(i int) (Image, error) {
	e := l.entries[i]
	p := filepath.Join(l.root, filepath.FromSlash(e.Path))
	img, err := DecodeFile(p, l.maxPixels)
	if err != nil {
		return Image{}, fmt.Errorf("pipeline: imglist %q line %d (%s): %w", l.list, e.Line, e.Path, err)
	}
	return img, nil
}
