package pth

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadLimitBeforeAllocating: storages and tensors count against the
// caller's byte bound before they are allocated.
func TestReadLimitBeforeAllocating(t *testing.T) {
	if _, err := ReadLimit("testdata/views.pth", DefaultMaxBytes); err != nil {
		t.Fatal(err)
	}
	_, err := ReadLimit("testdata/views.pth", 64)
	if err == nil || !strings.Contains(err.Error(), "exceeds the 64 bytes allowed") {
		t.Fatalf("ReadLimit 64: %v", err)
	}
}

// TestCompressedStorageBomb: a small deflated record claiming a huge
// storage is refused from its declared size, not read.
func TestCompressedStorageBomb(t *testing.T) {
	const numel = 64 << 20 // 256 MiB of float32 zeros, a few hundred KB deflated
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte, method uint16) {
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	pkl := "\x80\x02}(" + uni("w") + "ctorch._utils\n_rebuild_tensor_v2\n(" +
		"(" + uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") + "J\x00\x00\x00\x04tQ" +
		"K\x00J\x00\x00\x00\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rt" + "Ru."
	add("archive/data.pkl", []byte(pkl), zip.Store)
	add("archive/data/0", make([]byte, 4*numel), zip.Deflate)
	w.Close()
	path := filepath.Join(t.TempDir(), "bomb.pth")
	os.WriteFile(path, buf.Bytes(), 0o644)
	_, err := ReadLimit(path, 16<<20)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("%d-byte file claiming %d bytes: %v", buf.Len(), 4*numel, err)
	}
}
