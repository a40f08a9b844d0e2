package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Byte-exact outputs of the reference Rust writer, from the unit tests
// test_serialization and test_empty in huggingface/safetensors
// safetensors/src/tensor.rs.
func TestMarshalMatchesReferenceBytes(t *testing.T) {
	attn := []byte{
		64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
		116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
		58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
		101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
		0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
	}
	attnPadded := []byte{
		72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
		121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
		91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
		115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
		32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
		160, 64,
	}
	empty := []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}
	emptyMeta := []byte{
		40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
		95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
		116, 34, 125, 125, 32, 32, 32, 32, 32,
	}
	vals := []float32{0, 1, 2, 3, 4, 5}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    []byte
	}{
		{"attn.0", []Tensor{FromFloat32s("attn.0", []int{1, 2, 3}, vals)}, nil, attn},
		{"attn0 padded", []Tensor{FromFloat32s("attn0", []int{1, 1, 2, 3}, vals)}, nil, attnPadded},
		{"empty", nil, nil, empty},
		{"empty with metadata", nil, map[string]string{"framework": "pt"}, emptyMeta},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Marshal(c.tensors, c.meta)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Marshal:\n got %q\nwant %q", got, c.want)
			}
			f, err := Parse(c.name, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if f.Len() != len(c.tensors) || !reflect.DeepEqual(f.Metadata, c.meta) {
				t.Fatalf("Parse: got %d tensors, metadata %v; want %d, %v", f.Len(), f.Metadata, len(c.tensors), c.meta)
			}
			for _, tt := range c.tensors {
				g, err := f.Tensor(tt.Name)
				if err != nil {
					t.Fatal(err)
				}
				v, err := g.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(v, vals) || !reflect.DeepEqual(g.Shape, tt.Shape) {
					t.Fatalf("Parse %q: got %v %v, want %v %v", tt.Name, g.Shape, v, tt.Shape, vals)
				}
			}
		})
	}
}

func sampleTensors() []Tensor {
	return []Tensor{
		FromFloat32s("fc.weight", []int{2, 3}, []float32{1.5, -2, 0, float32(math.Inf(1)), 3.25, -0}),
		FromFloat32s("tau", []int{}, []float32{0.1}),
		FromInt64s("bn1.num_batches_tracked", nil, []int64{7}),
		FromInt64s("targets", []int{3}, []int64{0, -1, math.MaxInt64}),
		FromFloat64s("f64", []int{2}, []float64{math.Pi, -1e-300}),
		FromInt32s("i32", []int{1, 2}, []int32{math.MinInt32, 5}),
		{Name: "u8", DType: U8, Shape: []int{3}, Data: []byte{0, 128, 255}},
		{Name: "bf", DType: BF16, Shape: []int{1}, Data: []byte{0x80, 0x3f}},
		FromFloat32s("empty", []int{2, 0}, nil),
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	in := sampleTensors()
	meta := map[string]string{"step": "3", "quote\"key": "é\n"}
	if err := Write(path, in, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata: got %v, want %v", f.Metadata, meta)
	}
	// Layout order: I64 (rank 13) > F64 > F32 > I32 > BF16 > U8, then name.
	wantNames := []string{"bn1.num_batches_tracked", "targets", "f64", "empty", "fc.weight", "tau", "i32", "bf", "u8"}
	if got := f.Names(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("Names: got %v, want %v", got, wantNames)
	}
	for _, want := range in {
		got, err := f.Tensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != want.DType || len(got.Shape) != len(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %s %v %x, want %s %v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
		for i := range want.Shape {
			if got.Shape[i] != want.Shape[i] {
				t.Errorf("tensor %q: shape %v, want %v", want.Name, got.Shape, want.Shape)
			}
		}
	}
	if v, _ := mustTensor(t, f, "targets").Int64s(); !reflect.DeepEqual(v, []int64{0, -1, math.MaxInt64}) {
		t.Errorf("targets: got %v", v)
	}
	if v, _ := mustTensor(t, f, "f64").Float64s(); !reflect.DeepEqual(v, []float64{math.Pi, -1e-300}) {
		t.Errorf("f64: got %v", v)
	}
	if v, _ := mustTensor(t, f, "i32").Int32s(); !reflect.DeepEqual(v, []int32{math.MinInt32, 5}) {
		t.Errorf("i32: got %v", v)
	}
	// Same bytes whatever the input order.
	rev := append([]Tensor{}, in...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	a, _ := os.ReadFile(path)
	b, err := Marshal(rev, meta)
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("Marshal of reversed input differs from the written file (err %v)", err)
	}
	// The header keeps every tensor 8-byte aligned.
	if n := binary.LittleEndian.Uint64(a); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after Write, want 1 (temporary file left?)", len(ents))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("written file mode %v (err %v), want -rw-r--r--", st.Mode(), err)
	}
}

func mustTensor(t *testing.T, f *File, name string) *Tensor {
	t.Helper()
	x, err := f.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestParseAcceptsNullMetadata(t *testing.T) {
	f, err := Parse("null", build(`{"__metadata__":null,"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{7, 9}))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata != nil || f.Len() != 1 || !bytes.Equal(mustTensor(t, f, "a").Data, []byte{7, 9}) {
		t.Errorf("got metadata %v, %d tensors", f.Metadata, f.Len())
	}
	if _, err := Parse("arr", build(`{"__metadata__":[1]}`, nil)); err == nil {
		t.Error("a non-object __metadata__ was accepted")
	}
}

func TestTypedAccessorsCheckDType(t *testing.T) {
	x := FromInt64s("n", nil, []int64{1})
	if _, err := x.Float32s(); err == nil || !strings.Contains(err.Error(), `"n" has dtype I64`) {
		t.Errorf("Float32s on I64: got %v", err)
	}
	y := FromFloat32s("w", []int{2}, []float32{1, 2})
	if _, err := y.Int64s(); err == nil || !strings.Contains(err.Error(), "want I64") {
		t.Errorf("Int64s on F32: got %v", err)
	}
	bad := FromFloat32s("w", []int{3}, []float32{1, 2})
	if _, err := bad.Float32s(); err == nil {
		t.Error("Float32s on a tensor whose data does not match its shape: no error")
	}
	f, err := Parse("x", mustMarshal(t, []Tensor{y}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("missing"); err == nil || !strings.Contains(err.Error(), `"x": no tensor "missing"`) {
		t.Errorf("missing tensor: got %v", err)
	}
}

func mustMarshal(t *testing.T, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	b, err := Marshal(ts, meta)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteRejectsBadTensorsAndLeavesNothing(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"short data", []Tensor{FromFloat32s("w", []int{2, 2}, []float32{1, 2, 3})}, `"w": F32 [2 2] needs 16 bytes, data has 12`},
		{"duplicate", []Tensor{FromFloat32s("w", nil, []float32{1}), FromFloat32s("w", nil, []float32{2})}, `"w" given twice`},
		{"unknown dtype", []Tensor{{Name: "w", DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}, `unknown dtype "F128"`},
		{"empty name", []Tensor{FromFloat32s("", nil, []float32{1})}, "empty name"},
		{"reserved name", []Tensor{FromFloat32s("__metadata__", nil, []float32{1})}, "reserved"},
		{"negative dim", []Tensor{{Name: "w", DType: F32, Shape: []int{-1}}}, "invalid shape [-1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Write(path, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %q and containing %q", err, path, c.want)
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("destination changed to %q", b)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("directory holds %d entries, want 1", len(ents))
			}
		})
	}
}

// build assembles a file from a raw header string and data buffer.
func build(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestParseRejectsCorruptFiles(t *testing.T) {
	good := mustMarshal(t, []Tensor{
		FromFloat32s("a", []int{2}, []float32{1, 2}),
		FromFloat32s("b", []int{1}, []float32{3}),
	}, nil)
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, MaxHeaderSize+1)
	tooLong := make([]byte, 16)
	binary.LittleEndian.PutUint64(tooLong, 9)
	d12 := make([]byte, 12)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"shorter than length field", []byte{1, 0, 0}, "shorter than the 8-byte header length"},
		{"header length over limit", huge, "exceeds the limit"},
		{"header length past end", tooLong, "header length 9 exceeds the 8 bytes after it"},
		{"truncated data", good[:len(good)-1], `tensor "b": data_offsets [8 12] run past the 11-byte data buffer`},
		{"trailing bytes", append(append([]byte{}, good...), 0), "tensors cover 12 bytes of the 13-byte data buffer"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d12),
			`tensor "b": data_offsets [4 8] overlap the previous tensor, which ends at 8`},
		{"gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, d12),
			`tensor "b": data_offsets [8 12] leave a gap after offset 4`},
		{"not starting at zero", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d12[:8]), `tensor "a": data_offsets [4 8] leave a gap after offset 0`},
		{"end before begin", build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}`, d12[:4]),
			`tensor "c": data_offsets [4 2] end before they begin`},
		{"size mismatch", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}`, d12), `tensor "a": data_offsets [0 12] hold 12 bytes, F32 [2] needs 8`},
		{"shape overflow", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `tensor "a"`},
		{"unknown dtype", build(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, d12), `tensor "a": unknown dtype "F128"`},
		{"duplicate tensor", build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, d12[:2]), `"a" appears twice`},
		{"duplicate metadata key", build(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `key "k" appears twice`},
		{"metadata not strings", build(`{"__metadata__":{"k":1}}`, nil), `value of "k" is not a string`},
		{"negative dim", build(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil), "dimension 0 is not a non-negative integer"},
		{"fractional dim", build(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}}`, nil), "dimension 0 is not a non-negative integer"},
		{"missing offsets", build(`{"a":{"dtype":"U8","shape":[1]}}`, nil), `tensor "a": missing data_offsets`},
		{"three offsets", build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, nil), "data_offsets has 3 numbers"},
		{"not an object", build(`[1,2,3] `, nil), "does not start with '{'"},
		{"invalid utf8", build("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"bad json", build(`{"a":{"dtype":"U8",`, nil), "invalid header JSON"},
		{"trailing json", build(`{}{"a":1}`, nil), "trailing data after the JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.safetensors", c.file)
			if err == nil {
				t.Fatalf("Parse accepted a corrupt file")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), `safetensors: "bad.safetensors": `) {
				t.Fatalf("got %q, want it to name the file and contain %q", err, c.want)
			}
		})
	}
}

func TestReadErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trunc.safetensors")
	good := mustMarshal(t, []Tensor{FromFloat32s("w", []int{4}, []float32{1, 2, 3, 4})}, nil)
	if err := os.WriteFile(path, good[:len(good)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Errorf("truncated file: got %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing.safetensors")); err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Errorf("missing file: got %v, want a wrapped not-exist error", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// re-encodes to a file that parses to the same tensors and metadata.
func FuzzParse(f *testing.F) {
	f.Add(mustMarshalF(sampleTensors(), map[string]string{"a": "b"}))
	f.Add(mustMarshalF(nil, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		again, err := Marshal(file.Tensors(), file.Metadata)
		if err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		file2, err := Parse("again", again)
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if !reflect.DeepEqual(file.Metadata, file2.Metadata) || file.Len() != file2.Len() {
			t.Fatalf("round trip changed metadata or count")
		}
		for _, x := range file.Tensors() {
			y, err := file2.Tensor(x.Name)
			if err != nil {
				t.Fatal(err)
			}
			if x.DType != y.DType || !bytes.Equal(x.Data, y.Data) || len(x.Shape) != len(y.Shape) {
				t.Fatalf("tensor %q changed in the round trip", x.Name)
			}
		}
	})
}

func mustMarshalF(ts []Tensor, meta map[string]string) []byte {
	b, err := Marshal(ts, meta)
	if err != nil {
		panic(err)
	}
	return b
}

// TestReadNamesTorchFiles: a .pth given where safetensors is expected says
// so, instead of reporting a header length.
func TestReadNamesTorchFiles(t *testing.T) {
	for _, path := range []string{"../pth/testdata/views.pth", "../pth/testdata/legacy.pth"} {
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), "PyTorch torch.save file") {
			t.Errorf("%s: %v, want it named a PyTorch file", path, err)
		}
	}
}
