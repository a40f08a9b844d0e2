package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/shards"
)

func TestParseImgList(t *testing.T) {
	// Split at the first space: a path with a space leaves "e.png 2" as the label.
	if _, err := ParseImgList(strings.NewReader("a/b.png 0\n\nc/d e.png 2\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("path with a space: err = %v, want a line 3 error", err)
	}

	ok, err := ParseImgList(strings.NewReader("a/b.png 0\r\n\nood/x.jpg -1\n./f//g.png  7 \n"))
	if err != nil {
		t.Fatal(err)
	}
	exp := []ImgListEntry{{1, "a/b.png", 0}, {3, "ood/x.jpg", -1}, {4, "f/g.png", 7}}
	if len(ok) != len(exp) {
		t.Fatalf("got %v, want %v", ok, exp)
	}
	for i := range exp {
		if ok[i] != exp[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, ok[i], exp[i])
		}
	}

	for _, tc := range []struct{ name, text, want string }{
		{"no label", "a.png\n", "line 1"},
		{"bad label", "a.png zero\n", "not an integer"},
		{"label below -1", "x 0\na.png -2\n", "line 2: label -2"},
		{"dotdot", "ok.png 0\n../etc/passwd 0\n", "line 2: path \"../etc/passwd\" escapes"},
		{"inner dotdot", "a/../../b.png 1\n", "escapes"},
		{"absolute", "/etc/passwd 0\n", "escapes"},
		{"backslash", `..\x.png 0` + "\n", "escapes"},
		{"dot", ". 0\n", "escapes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseImgList(strings.NewReader(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestImgListBuild(t *testing.T) {
	root := t.TempDir()
	pix := makeFolder(t, filepath.Join(root, "imgs"), []string{"cat", "dog"}, 3, 6, 6, []string{"png"})
	list := "imgs/dog/img001.png 1\nimgs/cat/img000.png 0\nimgs/cat/img002.png -1\n"
	lp := filepath.Join(t.TempDir(), "test_list.txt")
	os.WriteFile(lp, []byte(list), 0o644)
	out := filepath.Join(t.TempDir(), "o")
	res, err := Build(context.Background(), Params{Source: "imglist", Input: lp, Root: root, Size: 6, Classes: []string{"cat", "dog"}, Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Dataset != "test_list" || res.Manifest.OODCount != 1 {
		t.Errorf("manifest %+v", res.Manifest)
	}
	r, _ := shards.Open(out)
	defer r.Close()
	for i, tc := range []struct {
		src   string
		label int32
	}{{"imgs/dog/img001.png", 1}, {"imgs/cat/img000.png", 0}, {"imgs/cat/img002.png", -1}} {
		if r.Source(i) != tc.src || r.Label(i) != tc.label || !bytes.Equal(r.Image(i), pix[strings.TrimPrefix(tc.src, "imgs/")]) {
			t.Errorf("row %d: %s %d", i, r.Source(i), r.Label(i))
		}
	}

	for _, tc := range []struct{ name, list, want string }{
		{"missing file", "imgs/cat/img000.png 0\nimgs/cat/nope.png 1\n", "line 2"},
		{"label out of range", "imgs/cat/img000.png 0\nimgs/cat/img001.png 2\n", "line 2: label 2 out of range"},
		{"escape", "imgs/cat/img000.png 0\n../x.png 1\n", "escapes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lp := filepath.Join(t.TempDir(), "l.txt")
			os.WriteFile(lp, []byte(tc.list), 0o644)
			out := filepath.Join(t.TempDir(), "o")
			_, err := Build(context.Background(), Params{Source: "imglist", Input: lp, Root: root, Size: 6, Classes: []string{"cat", "dog"}, Out: out}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "l.txt") {
				t.Fatalf("err = %v, want one naming l.txt with %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output left behind")
			}
		})
	}
	// --skip-bad lists the missing file.
	lp2 := filepath.Join(t.TempDir(), "l.txt")
	os.WriteFile(lp2, []byte("imgs/cat/img000.png 0\nimgs/cat/nope.png 1\n"), 0o644)
	res, err = Build(context.Background(), Params{Source: "imglist", Input: lp2, Root: root, Size: 6, SkipBad: true, Out: filepath.Join(t.TempDir(), "o")}, nil)
	if err != nil || res.Manifest.SkippedN != 1 || res.Manifest.Skipped[0].Source != "imgs/cat/nope.png" || !strings.Contains(res.Manifest.Skipped[0].Error, "line 2") {
		t.Fatalf("skip-bad: %v %+v", err, res)
	}
}
