package pth

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
)

// Legacy-format fixtures (scripts/gen_pth_fixtures.py): legacy.pth is the
// r18_w1-64 state_dict saved with _use_new_zipfile_serialization=False;
// legacy_views.pth, legacy_f64.pth and legacy_storage_views.pth are
// described in expected.json by torch.load's own result, as float32 bit
// patterns.

// TestReadLegacyResNet: the legacy file of the r18 state_dict (float16,
// float64, bfloat16, shared storages at offsets, permuted and transposed
// views) reads as torch.load reads it, and exactly as its zip twin does
// (whose forward train/nn checks against PyTorch's).
func TestReadLegacyResNet(t *testing.T) {
	e := loadExpected(t)
	ts, err := Read("testdata/legacy.pth")
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, ts, e.Legacy.Tensors)
	zip, err := Read("testdata/r18_w1-64.pth")
	if err != nil {
		t.Fatal(err)
	}
	if len(zip) != len(ts) {
		t.Fatalf("legacy file has %d tensors, zip file %d", len(ts), len(zip))
	}
	for i := range ts {
		a, b := ts[i], zip[i]
		if a.Name != b.Name || a.DType != b.DType || !equalInts(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("tensor %d: legacy %s %s %v differs from zip %s %s %v", i, a.Name, a.DType, a.Shape, b.Name, b.DType, b.Shape)
		}
	}
}

// loadedTensor is one tensor of a torch.load result in expected.json.
type loadedTensor struct {
	DType string  `json:"dtype"`
	Shape []int   `json:"shape"`
	Bits  []int64 `json:"bits"` // float32 bit patterns, or integer values
	name  string
}

// loadedCase reads expected.json's entry for a legacy fixture, in the dict's
// order.
func loadedCase(t *testing.T, name string) []loadedTensor {
	t.Helper()
	var all map[string]json.RawMessage
	if err := json.Unmarshal(mustRead(t, "testdata/expected.json"), &all); err != nil {
		t.Fatal(err)
	}
	raw, ok := all[name]
	if !ok {
		t.Fatalf("expected.json has no %q; regenerate the fixtures", name)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var out []loadedTensor
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var lt loadedTensor
		if err := dec.Decode(&lt); err != nil {
			t.Fatal(err)
		}
		lt.name = k.(string)
		out = append(out, lt)
	}
	return out
}

func TestReadLegacyFixtures(t *testing.T) {
	wantDType := map[string]string{
		"float32": "F32", "float64": "F32", "float16": "F32", "bfloat16": "F32",
		"int64": "I64", "uint8": "U8", "bool": "BOOL",
	}
	for _, name := range []string{"legacy_views", "legacy_f64", "legacy_storage_views"} {
		t.Run(name, func(t *testing.T) {
			want := loadedCase(t, name)
			ts, err := Read("testdata/" + name + ".pth")
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != len(want) {
				t.Fatalf("read %d tensors, want %d", len(ts), len(want))
			}
			for i, w := range want {
				got := ts[i]
				if got.Name != w.name || got.DType != wantDType[w.DType] || !equalInts(got.Shape, w.Shape) {
					t.Errorf("tensor %d: %q %s %v, want %q %s %v (file %s)", i, got.Name, got.DType, got.Shape, w.name, wantDType[w.DType], w.Shape, w.DType)
					continue
				}
				var bits []int64
				switch got.DType {
				case safetensors.F32:
					for i := 0; i+4 <= len(got.Data); i += 4 {
						bits = append(bits, int64(binary.LittleEndian.Uint32(got.Data[i:])))
					}
				default:
					for _, v := range values(t, got) {
						bits = append(bits, int64(v))
					}
				}
				if len(bits) != len(w.Bits) {
					t.Errorf("%s: %d values, want %d", got.Name, len(bits), len(w.Bits))
					continue
				}
				for j := range bits {
					if bits[j] != w.Bits[j] {
						t.Errorf("%s[%d] = %#x, want %#x (torch's float32)", got.Name, j, bits[j], w.Bits[j])
					}
				}
			}
		})
	}
}

// TestLegacyHeadChunks reads legacy files with first reads far shorter
// than their pickles (the retry with a longer head) and storages outside
// the head (read from the file).
func TestLegacyHeadChunks(t *testing.T) {
	for _, path := range []string{"testdata/legacy_storage_views.pth", "testdata/legacy_f64.pth"} {
		data := mustRead(t, path)
		want, err := Decode(path, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int64{1, 7, 100, 600} {
			got, err := decodeLegacy(path, bytes.NewReader(data), int64(len(data)), chunk, DefaultMaxBytes)
			if err != nil {
				t.Fatalf("%s, chunk %d: %v", path, chunk, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, chunk %d: %d tensors, want %d", path, chunk, len(got), len(want))
			}
			for i := range got {
				if got[i].Name != want[i].Name || !bytes.Equal(got[i].Data, want[i].Data) {
					t.Errorf("%s, chunk %d: tensor %d %s differs", path, chunk, i, got[i].Name)
				}
			}
		}
	}
}

// Hand-made legacy files.

// legacyPrefix is the magic number, protocol and sys_info pickles.
func legacyPrefix(littleEndian bool) string {
	le := "\x88"
	if !littleEndian {
		le = "\x89"
	}
	return "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." +
		"\x80\x02M\xe9\x03." +
		"\x80\x02}(" + uni("protocol_version") + "M\xe9\x03" + uni("little_endian") + le +
		uni("type_sizes") + "}(" + uni("short") + "K\x02" + uni("int") + "K\x04" + uni("long") + "K\x04uu."
}

// legacyPid is a legacy persistent id for FloatStorage key of numel
// elements; view is "N" or the pickle of a (view_key, offset, size) tuple.
func legacyPid(key string, numel byte, view string) string {
	return "(" + uni("storage") + "ctorch\nFloatStorage\n" + uni(key) + uni("cpu") + "K" + string(numel) + view + "tQ"
}

// legacyTensor is the pickle of {"w": a 1-d view (offset, size, stride 1) of pid}.
func legacyTensor(pid string, offset, size byte) string {
	return "\x80\x02}(" + uni("w") + "ctorch._utils\n_rebuild_tensor_v2\n(" + pid +
		"K" + string(offset) + "K" + string(size) + "\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu."
}

// keyList is the pickle of a list of str keys.
func keyList(keys ...string) string {
	s := "\x80\x02]("
	for _, k := range keys {
		s += uni(k)
	}
	return s + "e."
}

// storageData is one storage's count and float32 elements.
func storageData(count uint64, v ...float32) string {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], count)
	return string(n[:]) + floats(v...)
}

func TestHandMadeLegacy(t *testing.T) {
	pid := legacyPid("7", 4, "("+uni("v")+"K\x01K\x03t") // elements 1..3 of storage 7
	data := legacyPrefix(true) + legacyTensor(pid, 1, 2) + keyList("7") + storageData(4, 1, 2, 3, 4)
	ts, err := Decode("hand", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ts[0].Float32s()
	if ts[0].Name != "w" || len(v) != 2 || v[0] != 3 || v[1] != 4 {
		t.Errorf("got %s %v, want w [3 4] (offset 1 of the view at 1 of [1 2 3 4])", ts[0].Name, v)
	}
	// Bytes after the last storage are ignored, as torch.load does.
	if _, err := Decode("hand", []byte(data+"trailing")); err != nil {
		t.Errorf("trailing bytes: %v", err)
	}
}

func TestLegacyRefusals(t *testing.T) {
	prefix := legacyPrefix(true)
	pid := legacyPid("7", 4, "N")
	good := legacyTensor(pid, 0, 4)
	data := storageData(4, 1, 2, 3, 4)
	whole := "\x80\x02(" + uni("module") + "NNNtQ."
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"cut file", string(mustRead(t, "testdata/legacy_cut.pth")), []string{"legacy (pre-1.6)", "runs past the end", "truncated file?"}},
		{"os.system", prefix + "\x80\x02cos\nsystem\n" + uni("echo hi") + "\x85R." + keyList(), []string{"legacy (pre-1.6)", "refusing pickle global os.system", "nothing was executed"}},
		{"whole model", prefix + "\x80\x02ctorch.nn.modules.linear\nLinear\n.", []string{"refusing pickle global torch.nn.modules.linear.Linear", "model.state_dict()"}},
		{"module pid", prefix + whole, []string{"whole pickled model"}},
		{"big endian", legacyPrefix(false) + good + keyList("7") + data, []string{"big-endian"}},
		{"plain pickle", "\x80\x02}.", []string{"not one written by torch.save"}},
		{"protocol", strings.Replace(prefix, "M\xe9\x03.", "M\xe8\x03.", 1) + good, []string{"protocol version 1000, want 1001"}},
		{"sys_info", prefix[:strings.Index(prefix, "\x80\x02}")] + "\x80\x02]." + good, []string{"sys_info is a list"}},
		{"count mismatch", prefix + good + keyList("7") + storageData(3, 1, 2, 3), []string{`storage "7": the file holds 3 elements, the pickle says 4`}},
		{"short data", prefix + good + keyList("7") + storageData(4, 1, 2, 3), []string{"runs past the end"}},
		{"no count", prefix + good + keyList("7") + "\x04\x00", []string{"element count at byte"}},
		{"key not used", prefix + good + keyList("7", "8") + data + storageData(4, 1, 2, 3, 4), []string{`names "8", which the pickle does not use`}},
		{"key twice", prefix + good + keyList("7", "7") + data + data, []string{`names "7" twice`}},
		{"key missing", prefix + good + keyList(), []string{`storage "7" has no data in the file`}},
		{"key list", prefix + good + "\x80\x02}.", []string{"storage key list is a dict"}},
		{"no key list", prefix + good, []string{"storage key list pickle", "truncated file?"}},
		{"view past root", prefix + legacyTensor(legacyPid("7", 4, "("+uni("v")+"K\x02K\x03t"), 0, 1) + keyList("7") + data, []string{"view (key v, offset 2, size 3) does not fit its 4 elements"}},
		{"tensor past view", prefix + legacyTensor(legacyPid("7", 4, "("+uni("v")+"K\x01K\x02t"), 0, 3) + keyList("7") + data, []string{"more elements than its storage (2)"}},
		{"view redefined", prefix + "\x80\x02(" + legacyPid("7", 4, "("+uni("v")+"K\x01K\x02t") + legacyPid("7", 4, "("+uni("v")+"K\x00K\x02t") + "t." + keyList("7") + data, []string{`storage view "v" is defined as 2 elements at 1 of "7" and as 2 at 0 of "7"`}},
		{"inconsistent root", prefix + "\x80\x02(" + legacyPid("7", 4, "N") + legacyPid("7", 9, "N") + "t." + keyList("7") + data, []string{`storage "7" is referenced as 4 × FloatStorage and as 9 × FloatStorage`}},
		{"5-tuple pid", prefix + "\x80\x02(" + uni("storage") + "ctorch\nFloatStorage\n" + uni("7") + uni("cpu") + "K\x04tQ.", []string{"want a 6-tuple"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.pth", []byte(tc.data))
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

// tarBytes is a small tar archive, as PyTorch 0.1.x's torch.save wrote.
func tarBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	if err := w.WriteHeader(&tar.Header{Name: "sys_info", Mode: 0o644, Size: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// twoRefPickle is data.pkl for {"w": key "0" as numel a, "v": key "0" as numel b}.
func twoRefPickle(a, b byte) string {
	one := func(name string, numel byte) string {
		return uni(name) + "ctorch._utils\n_rebuild_tensor_v2\n(" +
			"(" + uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") + "K" + string(numel) + "tQ" +
			"K\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR"
	}
	return "\x80\x02}(" + one("w", a) + one("v", b) + "u."
}

// BenchmarkReadLegacy reads the r18 state_dict from its legacy file and,
// for comparison, from its zip twin.
func BenchmarkReadLegacy(b *testing.B) {
	for _, c := range []struct{ name, path string }{{"legacy", "testdata/legacy.pth"}, {"zip", "testdata/r18_w1-64.pth"}} {
		b.Run(c.name, func(b *testing.B) {
			data := mustRead(b, c.path)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode("bench", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPython2Strings: SHORT_BINSTRING and BINSTRING decode as UTF-8 str,
// as torch.load (encoding="utf-8") decodes them.
func TestPython2Strings(t *testing.T) {
	for _, tc := range []struct{ pkl, want, err string }{
		{"\x80\x02U\x03abc.", "abc", ""},
		{"\x80\x02T\x04\x00\x00\x00\xc3\xa9t\xc3.", "", "not valid UTF-8"},
		{"\x80\x02T\x05\x00\x00\x00\xc3\xa9t\xc3\xa9.", "été", ""},
		{"\x80\x02T\xff\xff\xff\xff.", "", "negative length"},
		{"\x80\x02U\x09abc.", "", "unexpected end"},
	} {
		v, err := unpickle([]byte(tc.pkl), nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, %v; want an error with %q", tc.pkl, v, err, tc.err)
			}
			continue
		}
		if err != nil || v != tc.want {
			t.Errorf("%q: %v, %v; want %q", tc.pkl, v, err, tc.want)
		}
	}
}
