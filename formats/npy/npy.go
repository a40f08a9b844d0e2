package npy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/t2f/t2f/formats/safetensors"
)

const magic = "\x93NUMPY"

// maxElements bounds one array (4 Gi elements), so a corrupt shape cannot
// ask for an absurd allocation before the size check against the data.
const maxElements = 1 << 32

// descrs maps NumPy's dtype descr to the safetensors dtype.
var descrs = map[string]string{
	"<f2": safetensors.F16, "<f4": safetensors.F32, "<f8": safetensors.F64,
	"|i1": safetensors.I8, "<i2": safetensors.I16, "<i4": safetensors.I32, "<i8": safetensors.I64,
	"|u1": safetensors.U8, "<u2": safetensors.U16, "<u4": safetensors.U32,
	"|b1": safetensors.BOOL,
}

// ReadFile reads a .npy file (one array, named by the file stem) or a .npz
// archive (every member), told apart by their first bytes.
func ReadFile(path string) ([]safetensors.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if bytes.HasPrefix(data, []byte("PK")) {
		return DecodeNPZ(path, data)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	t, err := Decode(path, name, data)
	if err != nil {
		return nil, err
	}
	return []safetensors.Tensor{t}, nil
}

// DecodeNPZ decodes a .npz archive; source names it in errors.
func DecodeNPZ(source string, data []byte) ([]safetensors.Tensor, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("npy: %s: not a .npz archive: %w", source, err)
	}
	var out []safetensors.Tensor
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			return nil, fmt.Errorf("npy: %s: member %q is not a .npy array", source, f.Name)
		}
		if f.UncompressedSize64 > uint64(maxElements)*8+1<<20 {
			return nil, fmt.Errorf("npy: %s: member %q is %d bytes, too large", source, f.Name, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npy: %s: member %q: %w", source, f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npy: %s: member %q: %w", source, f.Name, err)
		}
		t, err := Decode(source+":"+f.Name, strings.TrimSuffix(f.Name, ".npy"), b)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("npy: %s: the archive holds no arrays", source)
	}
	return out, nil
}

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// Decode decodes one .npy array called name; source names it in errors.
func Decode(source, name string, data []byte) (safetensors.Tensor, error) {
	fail := func(format string, args ...any) (safetensors.Tensor, error) {
		return safetensors.Tensor{}, fmt.Errorf("npy: %s: %s", source, fmt.Sprintf(format, args...))
	}
	if len(data) < 10 || string(data[:6]) != magic {
		return fail("not a .npy array (no \\x93NUMPY magic)")
	}
	var hlen, start int
	switch data[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:10])), 10
	case 2, 3:
		if len(data) < 12 {
			return fail("truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:12])), 12
	default:
		return fail("format version %d.%d, want 1.0, 2.0 or 3.0", data[6], data[7])
	}
	if hlen > len(data)-start {
		return fail("header of %d bytes, the file has %d after the preamble", hlen, len(data)-start)
	}
	header := string(data[start : start+hlen])
	body := data[start+hlen:]
	m := reDescr.FindStringSubmatch(header)
	if m == nil {
		return fail("header %q has no 'descr' string (an object or structured array? save plain numeric arrays)", header)
	}
	descr := m[1]
	if strings.HasPrefix(descr, "=") {
		descr = "<" + descr[1:] // native order, written on little-endian machines
	}
	if len(descr) == 3 && (descr[1] == 'b' || descr[1] == 'i' && descr[2] == '1' || descr[1] == 'u' && descr[2] == '1') {
		descr = "|" + descr[1:]
	}
	dtype, ok := descrs[descr]
	if !ok {
		hint := "save float16/32/64, int8–64, uint8–32 or bool arrays"
		if strings.HasPrefix(descr, ">") {
			hint = "big-endian data: save arr.astype(arr.dtype.newbyteorder('<'))"
		}
		return fail("dtype %q is not supported (%s)", descr, hint)
	}
	if f := reFortran.FindStringSubmatch(header); f == nil {
		return fail("header %q has no 'fortran_order'", header)
	} else if f[1] == "True" {
		return fail("the array is in Fortran order: save np.ascontiguousarray(arr)")
	}
	s := reShape.FindStringSubmatch(header)
	if s == nil {
		return fail("header %q has no 'shape' tuple", header)
	}
	var shape []int
	n := 1
	for _, p := range strings.Split(s[1], ",") {
		p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "L"))
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return fail("shape (%s): bad dimension %q", s[1], p)
		}
		shape = append(shape, d)
		if d > 0 && n > maxElements/d {
			return fail("shape %v: too many elements", shape)
		}
		n *= d
	}
	if shape == nil {
		shape = []int{}
	}
	size := n * safetensors.DTypeSize(dtype)
	if len(body) != size {
		return fail("shape %v of %s needs %d bytes of data, the file has %d", shape, descr, size, len(body))
	}
	t := safetensors.Tensor{Name: name, DType: dtype, Shape: shape, Data: body}
	if err := t.Validate(); err != nil {
		return fail("%v", err)
	}
	return t, nil
}
