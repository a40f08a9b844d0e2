package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
)

// The fixtures are written by torch.save (scripts/gen_pth_fixtures.py); the
// expected values in testdata/expected.json are computed by torch.

type tensorInfo struct {
	Name      string    `json:"name"`
	FileDType string    `json:"file_dtype"`
	Shape     []int     `json:"shape"`
	Sum       float64   `json:"sum"`
	Head      []float64 `json:"head"`
}

type expected struct {
	R18 struct {
		Tensors []tensorInfo `json:"tensors"`
	} `json:"r18_w1-64"`
	Legacy struct {
		Tensors []tensorInfo `json:"tensors"`
	} `json:"legacy"`
	Views map[string]struct {
		DType  string    `json:"dtype"`
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"views"`
}

func loadExpected(t *testing.T) expected {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// values decodes any tensor Read returns into float64s.
func values(t *testing.T, ts safetensors.Tensor) []float64 {
	t.Helper()
	var out []float64
	switch ts.DType {
	case safetensors.F32:
		v, err := ts.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			out = append(out, float64(x))
		}
	case safetensors.I64:
		v, err := ts.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			out = append(out, float64(x))
		}
	case safetensors.I32:
		v, err := ts.Int32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			out = append(out, float64(x))
		}
	case safetensors.U8, safetensors.BOOL:
		for _, x := range ts.Data {
			out = append(out, float64(x))
		}
	default:
		t.Fatalf("tensor %q: unexpected dtype %s", ts.Name, ts.DType)
	}
	return out
}

func TestReadViewsAndDTypes(t *testing.T) {
	e := loadExpected(t)
	ts, err := Read("testdata/views.pth")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(e.Views) {
		t.Fatalf("read %d tensors, want %d", len(ts), len(e.Views))
	}
	wantDType := map[string]string{
		"float32": "F32", "float64": "F32", "float16": "F32", "bfloat16": "F32",
		"int64": "I64", "int32": "I32", "uint8": "U8", "bool": "BOOL",
	}
	for _, got := range ts {
		want, ok := e.Views[got.Name]
		if !ok {
			t.Errorf("unexpected tensor %q", got.Name)
			continue
		}
		if got.DType != wantDType[want.DType] {
			t.Errorf("%s: dtype %s, want %s (file %s)", got.Name, got.DType, wantDType[want.DType], want.DType)
		}
		if !equalInts(got.Shape, want.Shape) {
			t.Errorf("%s: shape %v, want %v", got.Name, got.Shape, want.Shape)
			continue
		}
		v := values(t, got)
		if len(v) != len(want.Values) {
			t.Errorf("%s: %d values, want %d", got.Name, len(v), len(want.Values))
			continue
		}
		for i := range v {
			// torch's float32 value, exactly (f64 is rounded to nearest as
			// torch's .to(float32); f16 and bf16 convert exactly).
			if w := want.Values[i]; v[i] != w && !(math.IsNaN(v[i]) && math.IsNaN(w)) {
				t.Errorf("%s[%d] = %v, want %v", got.Name, i, v[i], w)
			}
		}
	}
	// The view order of the dict is kept.
	if ts[0].Name != "f32" || ts[len(ts)-1].Name != "broadcast1" {
		t.Errorf("order: first %q last %q, want f32 … broadcast1", ts[0].Name, ts[len(ts)-1].Name)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadResNetStateDict(t *testing.T) {
	e := loadExpected(t)
	ts, err := Read("testdata/r18_w1-64.pth")
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, ts, e.R18.Tensors)
}

// checkTensors compares ts with torch's description of the same state_dict.
func checkTensors(t *testing.T, ts []safetensors.Tensor, wantTensors []tensorInfo) {
	t.Helper()
	if len(ts) != len(wantTensors) {
		t.Fatalf("read %d tensors, want %d", len(ts), len(wantTensors))
	}
	dtypes := map[string]int{}
	for i, want := range wantTensors {
		got := ts[i]
		dtypes[want.FileDType]++
		if got.Name != want.Name || !equalInts(got.Shape, want.Shape) {
			t.Errorf("tensor %d: %s %v, want %s %v", i, got.Name, got.Shape, want.Name, want.Shape)
			continue
		}
		v := values(t, got)
		var sum float64
		for _, x := range v {
			sum += x
		}
		// The sum is torch's over the file's own dtype (float64 for
		// bn1.running_var), ours over the float32-rounded values.
		if math.Abs(sum-want.Sum) > 1e-5*(1+math.Abs(want.Sum)) {
			t.Errorf("%s: sum %v, want %v", got.Name, sum, want.Sum)
		}
		for j, h := range want.Head {
			if float32(v[j]) != float32(h) {
				t.Errorf("%s[%d] = %v, want %v", got.Name, j, v[j], float32(h))
			}
		}
	}
	for _, dt := range []string{"float16", "float64", "bfloat16", "int64", "float32"} {
		if dtypes[dt] == 0 {
			t.Errorf("fixture has no %s tensor; regenerate it", dt)
		}
	}
}

func TestReadWrapper(t *testing.T) {
	ts, err := Read("testdata/t2fnorm_r18_w1-64.pth")
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Name != "tau" || len(ts[0].Shape) != 0 {
		t.Fatalf("first tensor %q %v, want the scalar tau", ts[0].Name, ts[0].Shape)
	}
	tau, _ := ts[0].Float32s()
	if tau[0] != float32(0.1) {
		t.Errorf("tau %v, want 0.1", tau[0])
	}
	for _, x := range ts[1:] {
		if !strings.HasPrefix(x.Name, "backbone.") {
			t.Errorf("tensor %q lacks the backbone. prefix", x.Name)
		}
	}
}

func TestDecodeMatchesRead(t *testing.T) {
	data, err := os.ReadFile("testdata/views.pth")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode("views", data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read("testdata/views.pth")
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("tensor %d differs: %s vs %s", i, a[i].Name, b[i].Name)
		}
	}
}

// archiveBytes builds a zip with the given records, stored, in order.
func archiveBytes(t testing.TB, records ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(records); i += 2 {
		f, err := w.CreateHeader(&zip.FileHeader{Name: records[i], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(records[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pickle helpers for hand-made data.pkl records.
func uni(s string) string {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	return "X" + string(n[:]) + s
}

// tensorPickle is data.pkl for {"w": FloatStorage key "0" of numel elements,
// viewed with the given offset/size/stride (one dimension)}.
func tensorPickle(numel, offset, size, stride byte) string {
	return "\x80\x02}(" + uni("w") +
		"ctorch._utils\n_rebuild_tensor_v2\n(" +
		"(" + uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") + "K" + string(numel) + "tQ" +
		"K" + string(offset) + "K" + string(size) + "\x85K" + string(stride) + "\x85\x89ccollections\nOrderedDict\n)Rt" +
		"Ru."
}

func floats(v ...float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return string(b)
}

func TestHandMadeArchive(t *testing.T) {
	data := archiveBytes(t, "archive/data.pkl", tensorPickle(4, 1, 2, 2), "archive/data/0", floats(1, 2, 3, 4),
		"archive/byteorder", "little", "archive/version", "3\n")
	ts, err := Decode("hand", data)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ts[0].Float32s()
	if ts[0].Name != "w" || len(v) != 2 || v[0] != 2 || v[1] != 4 {
		t.Errorf("got %s %v, want w [2 4] (offset 1, stride 2 of [1 2 3 4])", ts[0].Name, v)
	}
}

func TestRefusals(t *testing.T) {
	r18, err := os.ReadFile("testdata/r18_w1-64.pth")
	if err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Marshal([]safetensors.Tensor{safetensors.FromFloat32s("w", []int{1}, []float32{1})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := tensorPickle(4, 0, 4, 1)
	store := floats(1, 2, 3, 4)
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"tar", tarBytes(t), []string{"tar archive", "torch 0.1.x", "torch.save(torch.load('OLD.pth'), 'NEW.pth')"}},
		{"inconsistent storage", archiveBytes(t, "a/data.pkl", twoRefPickle(4, 9), "a/data/0", store), []string{`storage "0" is referenced as 4 × FloatStorage and as 9 × FloatStorage`}},
		{"whole model", mustRead(t, "testdata/whole_model.pth"), []string{"refusing pickle global torch.nn.modules.linear.Linear", "model.state_dict()"}},
		{"os.system", archiveBytes(t, "a/data.pkl", "\x80\x02cos\nsystem\n"+uni("echo hi")+"\x85R."), []string{"refusing pickle global os.system", "nothing was executed"}},
		{"stack global eval", archiveBytes(t, "a/data.pkl", "\x80\x04\x8c\x08builtins\x8c\x04eval\x93."), []string{"refusing pickle global builtins.eval"}},
		{"numpy", archiveBytes(t, "a/data.pkl", "\x80\x02cnumpy.core.multiarray\nscalar\n."), []string{"numpy.core.multiarray.scalar", "numpy"}},
		{"torchscript", archiveBytes(t, "m/data.pkl", "\x80\x02}.", "m/constants.pkl", "\x80\x02)."), []string{"TorchScript"}},
		{"truncated zip", r18[:len(r18)/2], []string{"not a readable zip archive"}},
		{"empty", nil, []string{"is empty"}},
		{"safetensors", st, []string{"safetensors file"}},
		{"garbage", []byte("hello world, not a checkpoint"), []string{"not a PyTorch checkpoint"}},
		{"no data.pkl", archiveBytes(t, "a/b.txt", "x"), []string{"without a <name>/data.pkl"}},
		{"missing storage", archiveBytes(t, "a/data.pkl", good), []string{`storage "0" has no record a/data/0`}},
		{"short storage", archiveBytes(t, "a/data.pkl", good, "a/data/0", floats(1, 2, 3)), []string{"needs 16 bytes", "has 12"}},
		{"view past storage", archiveBytes(t, "a/data.pkl", tensorPickle(4, 1, 4, 1), "a/data/0", store), []string{"reaches past its storage"}},
		{"offset past storage", archiveBytes(t, "a/data.pkl", tensorPickle(4, 9, 1, 1), "a/data/0", store), []string{"offset 9 is past"}},
		{"expanded view", archiveBytes(t, "a/data.pkl", tensorPickle(4, 0, 9, 0), "a/data/0", store), []string{"expanded tensor"}},
		{"big endian", archiveBytes(t, "a/data.pkl", good, "a/data/0", store, "a/byteorder", "big"), []string{"big"}},
		{"not a dict", archiveBytes(t, "a/data.pkl", "\x80\x02]."), []string{"holds a list, not a state_dict"}},
		{"dict of ints", archiveBytes(t, "a/data.pkl", "\x80\x02}("+uni("epoch")+"K\x03u."), []string{`entry "epoch" is an int, not a tensor`}},
		{"no STOP", archiveBytes(t, "a/data.pkl", "\x80\x02}"), []string{"no STOP"}},
		{"unknown opcode", archiveBytes(t, "a/data.pkl", "\x80\x02}\xff."), []string{"opcode 0xff at byte 3"}},
		{"stack underflow", archiveBytes(t, "a/data.pkl", "\x80\x02s."), []string{"stack underflow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.pth", tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "pth: ") || !strings.Contains(err.Error(), `"f.pth"`) {
				t.Errorf("error %q does not start with pth: and name the file", err)
			}
		})
	}
}

// TestTruncations cuts real checkpoints at many lengths: every cut is an
// error, never a panic or a partial state_dict.
func TestTruncations(t *testing.T) {
	for _, path := range []string{"testdata/views.pth", "testdata/legacy_views.pth", "testdata/legacy_storage_views.pth"} {
		data := mustRead(t, path)
		for n := 0; n < len(data); n += 1 + n/16 {
			if _, err := Decode("cut", data[:n]); err == nil {
				t.Errorf("%s truncated to %d of %d bytes: no error", path, n, len(data))
			}
		}
	}
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "nope.pth"))
	if err == nil || !strings.Contains(err.Error(), "nope.pth") {
		t.Errorf("error %v, want one naming nope.pth", err)
	}
}

func TestHalfToFloat32(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, float32(math.Ldexp(1, -24))},
		{0x03ff, float32(math.Ldexp(1023, -24))}, {0x0400, float32(math.Ldexp(1, -14))},
		{0x8000, float32(math.Copysign(0, -1))}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
		{0x3555, 0.333251953125},
	} {
		got := halfToFloat32(tc.h)
		if got != tc.want || math.Signbit(float64(got)) != math.Signbit(float64(tc.want)) {
			t.Errorf("half %#04x = %v, want %v", tc.h, got, tc.want)
		}
	}
	if v := halfToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("half NaN = %v", v)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkRead reads the torchvision-named ResNet-50 fixture (161 tensors,
// 320 zip records).
func BenchmarkRead(b *testing.B) {
	data := mustRead(b, "testdata/resnet50_w1-128.pth")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("bench", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBigIntInWrapper: a Python int beyond 64 bits elsewhere in a wrapper
// does not stop the state_dict from loading (LONG1 of 9 bytes = 2**70).
func TestBigIntInWrapper(t *testing.T) {
	big := "\x8a\x09" + "\x00\x00\x00\x00\x00\x00\x00\x00\x40"
	pkl := "\x80\x02}(" + uni("big") + big + uni("state_dict") + tensorPickle(4, 0, 4, 1)[2:len(tensorPickle(4, 0, 4, 1))-1] + "u."
	ts, err := Decode("w", archiveBytes(t, "a/data.pkl", pkl, "a/data/0", floats(1, 2, 3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "w" {
		t.Errorf("got %v, want the tensor w", ts)
	}
	// As a tensor size it is refused.
	bad := strings.Replace(tensorPickle(4, 0, 4, 1), "K\x04\x85", big+"\x85", 1)
	if _, err := Decode("w", archiveBytes(t, "a/data.pkl", bad, "a/data/0", floats(1, 2, 3, 4))); err == nil || !strings.Contains(err.Error(), "size: element 0 is 1180591620717411303424") {
		t.Errorf("error %v, want the big size refused", err)
	}
	for _, tc := range []struct {
		b    []byte
		want string
	}{{[]byte{0xff}, "-1"}, {[]byte{0x00, 0x80}, "-32768"}, {[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x40}, "1180591620717411303424"}, {nil, "0"}} {
		v, err := decodeLong(tc.b)
		if err != nil || fmt.Sprint(v) != tc.want {
			t.Errorf("decodeLong(% x) = %v, %v; want %s", tc.b, v, err, tc.want)
		}
	}
}
