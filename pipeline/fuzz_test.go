package pipeline

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; run one with
//   go test ./pipeline -run '^$' -fuzz FuzzParseIDX -fuzztime 30s

func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, make([]byte, 8)))
	f.Add(idxBytes([]int{3}, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dims, payload, err := ParseIDX(data)
		if err != nil {
			return
		}
		if len(dims) != int(data[3]) {
			t.Fatalf("%d dims, header says %d", len(dims), data[3])
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if len(payload) != n || len(data) != 4+4*len(dims)+n {
			t.Fatalf("dims %v: payload %d bytes of a %d-byte file", dims, len(payload), len(data))
		}
	})
}

func FuzzParseCIFAR(f *testing.F) {
	rec := make([]byte, 1+3072)
	rec[0] = 9
	f.Add(rec, false)
	f.Add(append(bytes.Clone(rec), rec...), false)
	f.Add(make([]byte, 2+3072), true)
	f.Fuzz(func(t *testing.T, data []byte, hundred bool) {
		lb, limits := 1, []int{10}
		if hundred {
			lb, limits = 2, []int{20, 100}
		}
		n, err := ParseCIFAR(data, lb, limits)
		if err != nil {
			return
		}
		recLen := lb + 3072
		if n == 0 || n*recLen != len(data) {
			t.Fatalf("%d records in %d bytes", n, len(data))
		}
		for i := range n {
			for k := range lb {
				if int(data[i*recLen+k]) >= limits[k] {
					t.Fatalf("record %d label byte %d = %d accepted", i, k, data[i*recLen+k])
				}
			}
		}
	})
}

func FuzzParseImgList(f *testing.F) {
	f.Add("cifar10/test/airplane/0001.png 0\ntin/test/x.JPEG -1\n")
	f.Add("../x.png 0\n")
	f.Add("a b c\r\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := ParseImgList(strings.NewReader(text))
		if err != nil {
			return
		}
		last := 0
		for _, e := range entries {
			if e.Line <= last {
				t.Fatalf("line %d after %d", e.Line, last)
			}
			last = e.Line
			if e.Label < -1 {
				t.Fatalf("label %d accepted", e.Label)
			}
			if !filepath.IsLocal(filepath.FromSlash(e.Path)) || strings.HasPrefix(e.Path, "/") || strings.Contains(e.Path, "\\") {
				t.Fatalf("path %q escapes the root", e.Path)
			}
		}
	})
}
