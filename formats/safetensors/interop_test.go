package safetensors

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"testing"
)

// TestReadPythonWrittenFile reads testdata/interop.safetensors, written by
// testdata/gen_interop.py (numpy values, hand-written format), and checks
// every value against the literals the script used, then that Marshal of the
// same tensors reproduces the file byte for byte.
func TestReadPythonWrittenFile(t *testing.T) {
	const path = "testdata/interop.safetensors"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"idx", "num_batches_tracked", "f64", "empty", "tau", "weight", "i32", "half", "bytes"}
	if got := f.Names(); !reflect.DeepEqual(got, wantNames) {
		t.Fatalf("Names: got %v, want %v", got, wantNames)
	}
	if want := map[string]string{"format": "pt", "note": "interop"}; !reflect.DeepEqual(f.Metadata, want) {
		t.Errorf("metadata: got %v, want %v", f.Metadata, want)
	}
	shapes := map[string][]int{
		"idx": {4}, "num_batches_tracked": {}, "f64": {3}, "empty": {0, 4}, "tau": {},
		"weight": {2, 3}, "i32": {2, 2}, "half": {2}, "bytes": {5},
	}
	for name, want := range shapes {
		if got := mustTensor(t, f, name).Shape; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: shape %v, want %v", name, got, want)
		}
	}
	w, err := mustTensor(t, f, "weight").Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{-0.625, -0.375, -0.125, 0.125, 0.375, 0.625}; !reflect.DeepEqual(w, want) {
		t.Errorf("weight: got %v, want %v", w, want)
	}
	tau, _ := mustTensor(t, f, "tau").Float32s()
	if len(tau) != 1 || tau[0] != float32(0.1) {
		t.Errorf("tau: got %v, want [0.1]", tau)
	}
	nbt, _ := mustTensor(t, f, "num_batches_tracked").Int64s()
	if !reflect.DeepEqual(nbt, []int64{3}) {
		t.Errorf("num_batches_tracked: got %v", nbt)
	}
	idx, _ := mustTensor(t, f, "idx").Int64s()
	if want := []int64{-3, 0, 1 << 40, -(1 << 62)}; !reflect.DeepEqual(idx, want) {
		t.Errorf("idx: got %v, want %v", idx, want)
	}
	f64, _ := mustTensor(t, f, "f64").Float64s()
	if want := []float64{1.0 / 3.0, -2.5, 1e300}; !reflect.DeepEqual(f64, want) {
		t.Errorf("f64: got %v, want %v", f64, want)
	}
	i32, _ := mustTensor(t, f, "i32").Int32s()
	if want := []int32{1, -1, math.MaxInt32, math.MinInt32}; !reflect.DeepEqual(i32, want) {
		t.Errorf("i32: got %v, want %v", i32, want)
	}
	if got := mustTensor(t, f, "bytes").Data; !bytes.Equal(got, []byte{0, 1, 127, 128, 255}) {
		t.Errorf("bytes: got %v", got)
	}
	if got := mustTensor(t, f, "half"); got.DType != BF16 || !bytes.Equal(got.Data, []byte{0x80, 0x3f, 0x00, 0xc0}) {
		t.Errorf("half: got %s %x", got.DType, got.Data)
	}
	if got := mustTensor(t, f, "empty"); got.DType != F32 || len(got.Data) != 0 {
		t.Errorf("empty: got %s %d bytes", got.DType, len(got.Data))
	}
	again, err := Marshal(f.Tensors(), f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, raw) {
		t.Errorf("Marshal of the read tensors differs from the Python-written file:\n got %q\nwant %q", again, raw)
	}
}
