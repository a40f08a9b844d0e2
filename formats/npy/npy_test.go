package npy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/pth"
	"github.com/t2f/t2f/formats/safetensors"
)

// The fixtures are written by NumPy (scripts/gen_npy_fixtures.py).
func TestReadNumPyFiles(t *testing.T) {
	floats := []float32{-1, -0.5, 0, 0.5, 1, 1.5}
	for _, tc := range []struct {
		file, dtype string
		shape       []int
	}{
		{"f4.npy", safetensors.F32, []int{2, 3}},
		{"f8.npy", safetensors.F64, []int{2, 3}},
		{"f2.npy", safetensors.F16, []int{2, 3}},
		{"v2.npy", safetensors.F32, []int{2, 3}},
	} {
		ts, err := ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got := ts[0]
		if len(ts) != 1 || got.Name != strings.TrimSuffix(tc.file, ".npy") || got.DType != tc.dtype || len(got.Shape) != 2 ||
			got.Shape[0] != 2 || got.Shape[1] != 3 {
			t.Fatalf("%s: %d arrays, %s %s %v", tc.file, len(ts), got.Name, got.DType, got.Shape)
		}
		v, err := pth.Float32s(&got)
		if err != nil {
			t.Fatal(err)
		}
		for i := range floats {
			if v[i] != floats[i] {
				t.Fatalf("%s: %v, want %v", tc.file, v, floats)
			}
		}
	}
	ts, err := ReadFile(filepath.Join("testdata", "i8.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ts[0].Int64s(); ts[0].DType != safetensors.I64 || len(v) != 5 || v[0] != -2 || v[4] != 2 {
		t.Errorf("i8.npy: %s %v", ts[0].DType, v)
	}
	for _, f := range []struct{ file, dtype string }{{"u1.npy", safetensors.U8}, {"b1.npy", safetensors.BOOL}} {
		ts, err := ReadFile(filepath.Join("testdata", f.file))
		if err != nil || ts[0].DType != f.dtype || len(ts[0].Data) != 5 || ts[0].Data[3] != map[bool]byte{true: 3, false: 1}[f.dtype == safetensors.U8] {
			t.Errorf("%s: %+v %v", f.file, ts, err)
		}
	}
	ts, err = ReadFile(filepath.Join("testdata", "scalar.npy"))
	if err != nil || len(ts[0].Shape) != 0 {
		t.Errorf("scalar.npy: %+v %v", ts, err)
	}
	for _, z := range []string{"plain.npz", "compressed.npz"} {
		ts, err := ReadFile(filepath.Join("testdata", z))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 || ts[0].Name != "features" || ts[1].Name != "labels" || ts[1].Shape[0] != 2 {
			t.Errorf("%s: %+v", z, ts)
		}
	}
}

func TestRefusals(t *testing.T) {
	for file, want := range map[string]string{
		"fortran.npy":   "np.ascontiguousarray",
		"bigendian.npy": "big-endian",
		"object.npy":    `"|O" is not supported`,
		"missing.npy":   "no such file",
	} {
		if _, err := ReadFile(filepath.Join("testdata", file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", file, err, want)
		}
	}
	for name, data := range map[string]string{
		"not npy":   "hello world!",
		"truncated": "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		"version":   "\x93NUMPY\x09\x00\x00\x00",
		"short":     "\x93NUMPY\x01\x00\x10\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }xx",
		"huge":      "\x93NUMPY\x01\x00\x48\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999), }",
	} {
		if _, err := Decode(name, "x", []byte(data)); err == nil {
			t.Errorf("%s: decoded, want an error", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, file := range []string{"f4.npy", "v2.npy", "scalar.npy", "plain.npz"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\x00\x00\x80\x3f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode("fuzz", "x", b) // must not panic
		DecodeNPZ("fuzz", b)
	})
}
