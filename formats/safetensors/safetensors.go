package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/t2f/t2f/internal/atomicfile"
)

// Dtype names as they appear in the header.
const (
	BOOL       = "BOOL"
	U8         = "U8"
	I8         = "I8"
	F8E5M2     = "F8_E5M2"
	F8E4M3     = "F8_E4M3"
	F8E8M0     = "F8_E8M0"
	F8E4M3FNUZ = "F8_E4M3FNUZ"
	F8E5M2FNUZ = "F8_E5M2FNUZ"
	I16        = "I16"
	U16        = "U16"
	F16        = "F16"
	BF16       = "BF16"
	I32        = "I32"
	U32        = "U32"
	F32        = "F32"
	C64        = "C64"
	F64        = "F64"
	I64        = "I64"
	U64        = "U64"
	metaKey    = "__metadata__"
)

// MaxHeaderSize is the largest header Read accepts, as in the reference
// implementation.
const MaxHeaderSize = 100_000_000

// dtypes lists the known dtypes in the order of the reference implementation's
// Dtype enum (huggingface/safetensors tensor.rs, increasing alignment); Write
// lays tensors out in descending rank. The reference's sub-byte dtypes (F4,
// F6_E2M3, F6_E3M2) are not supported.
var dtypes = []struct {
	name string
	size int
}{
	{BOOL, 1}, {U8, 1}, {I8, 1}, {F8E5M2, 1}, {F8E4M3, 1}, {F8E8M0, 1}, {F8E4M3FNUZ, 1},
	{F8E5M2FNUZ, 1}, {I16, 2}, {U16, 2}, {F16, 2}, {BF16, 2}, {I32, 4}, {U32, 4},
	{F32, 4}, {C64, 8}, {F64, 8}, {I64, 8}, {U64, 8},
}

// dtypeInfo returns the element size in bytes and the enum rank of dtype, or
// ok=false for an unknown dtype.
func dtypeInfo(dtype string) (size, rank int, ok bool) {
	for i, d := range dtypes {
		if d.name == dtype {
			return d.size, i, true
		}
	}
	return 0, 0, false
}

// DTypeSize returns the size in bytes of one element of dtype, or 0 for an
// unknown dtype.
func DTypeSize(dtype string) int {
	size, _, _ := dtypeInfo(dtype)
	return size
}

// Tensor is one named tensor: Data holds product(Shape) little-endian
// elements of DType, row-major. Shape [] (or nil) is a scalar.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// NumElements returns product(Shape) (1 for a scalar), or -1 when a dimension
// is negative or the product overflows.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

// Validate checks the name, the dtype, and that len(Data) equals
// product(Shape)·(dtype size).
func (t *Tensor) Validate() error {
	if t.Name == "" {
		return errors.New("safetensors: tensor with an empty name")
	}
	if t.Name == metaKey {
		return fmt.Errorf("safetensors: tensor name %q is reserved for metadata", t.Name)
	}
	size, _, ok := dtypeInfo(t.DType)
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n := t.NumElements()
	if n < 0 || n > math.MaxInt/size {
		return fmt.Errorf("safetensors: tensor %q: invalid shape %v", t.Name, t.Shape)
	}
	if len(t.Data) != n*size {
		return fmt.Errorf("safetensors: tensor %q: %s %v needs %d bytes, data has %d",
			t.Name, t.DType, t.Shape, n*size, len(t.Data))
	}
	return nil
}

func (t *Tensor) checkDType(want string) error {
	if t.DType != want {
		return fmt.Errorf("safetensors: tensor %q has dtype %s %v, want %s", t.Name, t.DType, t.Shape, want)
	}
	n := t.NumElements()
	if n < 0 || len(t.Data) != n*DTypeSize(want) {
		return fmt.Errorf("safetensors: tensor %q: %s %v does not match %d data bytes", t.Name, t.DType, t.Shape, len(t.Data))
	}
	return nil
}

// Float32s decodes an F32 tensor into a new slice.
func (t *Tensor) Float32s() ([]float32, error) {
	if err := t.checkDType(F32); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Float64s decodes an F64 tensor into a new slice.
func (t *Tensor) Float64s() ([]float64, error) {
	if err := t.checkDType(F64); err != nil {
		return nil, err
	}
	out := make([]float64, len(t.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int64s decodes an I64 tensor into a new slice.
func (t *Tensor) Int64s() ([]int64, error) {
	if err := t.checkDType(I64); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int32s decodes an I32 tensor into a new slice.
func (t *Tensor) Int32s() ([]int32, error) {
	if err := t.checkDType(I32); err != nil {
		return nil, err
	}
	out := make([]int32, len(t.Data)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// FromFloat32s returns an F32 tensor holding a copy of v. It does not check
// that len(v) matches shape; Write and Validate do.
func FromFloat32s(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: append([]int{}, shape...), Data: data}
}

// FromFloat64s returns an F64 tensor holding a copy of v.
func FromFloat64s(name string, shape []int, v []float64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: F64, Shape: append([]int{}, shape...), Data: data}
}

// FromInt64s returns an I64 tensor holding a copy of v.
func FromInt64s(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: append([]int{}, shape...), Data: data}
}

// FromInt32s returns an I32 tensor holding a copy of v.
func FromInt32s(name string, shape []int, v []int32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: I32, Shape: append([]int{}, shape...), Data: data}
}

// File is a parsed safetensors file. Its tensors are in data-offset order and
// their Data slices share one buffer, the file's contents.
type File struct {
	// Source is the path (or the label given to Parse) used in errors.
	Source string
	// Metadata is the "__metadata__" object; nil when the file has none.
	Metadata map[string]string
	tensors  []Tensor
	index    map[string]int
}

// Names returns the tensor names in data-offset order.
func (f *File) Names() []string {
	names := make([]string, len(f.tensors))
	for i := range f.tensors {
		names[i] = f.tensors[i].Name
	}
	return names
}

// Tensors returns the tensors in data-offset order. The slice is the file's
// own; do not modify it.
func (f *File) Tensors() []Tensor { return f.tensors }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.tensors) }

// Tensor returns the tensor called name, or an error naming the file.
func (f *File) Tensor(name string) (*Tensor, error) {
	i, ok := f.index[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %q: no tensor %q", f.Source, name)
	}
	return &f.tensors[i], nil
}

// Has reports whether the file holds a tensor called name.
func (f *File) Has(name string) bool {
	_, ok := f.index[name]
	return ok
}

// Read reads and validates the safetensors file at path. The whole file is
// held in memory.
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %q: %w", path, err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %q: file is %d bytes, shorter than the 8-byte header length", path, size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(fh, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %q: read header length: %w", path, err)
	}
	if n := binary.LittleEndian.Uint64(lenBuf[:]); n > MaxHeaderSize || n > uint64(size-8) {
		if torchFile(lenBuf[:]) {
			return nil, fmt.Errorf("safetensors: %q is a PyTorch torch.save file (.pth/.pt/.ckpt), not safetensors; give a .safetensors file (t2f train --init reads .pth)", path)
		}
		return nil, fmt.Errorf("safetensors: %q: header length %d exceeds the file (%d bytes) or the limit %d",
			path, n, size, MaxHeaderSize)
	}
	data := make([]byte, size)
	copy(data, lenBuf[:])
	if _, err := io.ReadFull(fh, data[8:]); err != nil {
		return nil, fmt.Errorf("safetensors: %q: read: %w", path, err)
	}
	return Parse(path, data)
}

// Parse validates a whole safetensors file held in data; source names it in
// errors. The returned tensors alias data.
func Parse(source string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: %q: file is %d bytes, shorter than the 8-byte header length", source, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %q: header length %d exceeds the limit %d", source, n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: %q: header length %d exceeds the %d bytes after it (truncated file?)",
			source, n, len(data)-8)
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	f := &File{Source: source, index: map[string]int{}}
	entries, err := f.parseHeader(header)
	if err != nil {
		return nil, err
	}
	if err := f.place(entries, buf); err != nil {
		return nil, err
	}
	return f, nil
}

// entry is one tensor's header record before placement.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64
}

func (f *File) parseHeader(header []byte) ([]entry, error) {
	if !utf8.Valid(header) {
		return nil, fmt.Errorf("safetensors: %q: header is not valid UTF-8", f.Source)
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, fmt.Errorf("safetensors: %q: header does not start with '{'", f.Source)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	bad := func(err error) error {
		return fmt.Errorf("safetensors: %q: invalid header JSON: %w", f.Source, err)
	}
	if _, err := dec.Token(); err != nil { // '{'
		return nil, bad(err)
	}
	var entries []entry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, bad(fmt.Errorf("key %v is not a string", tok))
		}
		if seen[key] {
			return nil, fmt.Errorf("safetensors: %q: %q appears twice in the header", f.Source, key)
		}
		seen[key] = true
		if key == metaKey {
			meta, err := readStringMap(dec)
			if err != nil {
				return nil, fmt.Errorf("safetensors: %q: %s: %w", f.Source, metaKey, err)
			}
			f.Metadata = meta
			continue
		}
		e, err := readEntry(dec)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %q: tensor %q: %w", f.Source, key, err)
		}
		e.name = key
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, bad(err)
	}
	// Only padding may follow the object.
	if rest := header[dec.InputOffset():]; len(bytes.TrimRight(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("safetensors: %q: header has %d bytes of trailing data after the JSON object", f.Source, len(rest))
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	f.tensors = make([]Tensor, len(entries))
	for i, e := range entries {
		f.tensors[i] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape}
		f.index[e.name] = i
	}
	return entries, nil
}

// readStringMap reads a JSON object of string values, rejecting duplicates.
func readStringMap(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil { // "__metadata__": null, which the reference reads as absent
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want an object of strings, got %v", tok)
	}
	m := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("key %v is not a string", tok)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("key %q appears twice", k)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("value of %q is not a string", k)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return m, nil
}

// readEntry reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
func readEntry(dec *json.Decoder) (entry, error) {
	var raw struct {
		DType       *string       `json:"dtype"`
		Shape       []json.Number `json:"shape"`
		DataOffsets []json.Number `json:"data_offsets"`
	}
	if err := dec.Decode(&raw); err != nil {
		return entry{}, fmt.Errorf("invalid header JSON: %w", err)
	}
	var e entry
	switch {
	case raw.DType == nil:
		return e, errors.New("missing dtype")
	case raw.Shape == nil:
		return e, errors.New("missing shape")
	case raw.DataOffsets == nil:
		return e, errors.New("missing data_offsets")
	case len(raw.DataOffsets) != 2:
		return e, fmt.Errorf("data_offsets has %d numbers, want 2", len(raw.DataOffsets))
	}
	e.dtype = *raw.DType
	if _, _, ok := dtypeInfo(e.dtype); !ok {
		return e, fmt.Errorf("unknown dtype %q", e.dtype)
	}
	e.shape = make([]int, len(raw.Shape))
	for i, s := range raw.Shape {
		v, err := strconv.ParseUint(string(s), 10, 63)
		if err != nil {
			return e, fmt.Errorf("shape %v: dimension %d is not a non-negative integer", raw.Shape, i)
		}
		e.shape[i] = int(v)
	}
	var err error
	if e.begin, err = strconv.ParseUint(string(raw.DataOffsets[0]), 10, 64); err != nil {
		return e, fmt.Errorf("data_offsets %v: not non-negative integers", raw.DataOffsets)
	}
	if e.end, err = strconv.ParseUint(string(raw.DataOffsets[1]), 10, 64); err != nil {
		return e, fmt.Errorf("data_offsets %v: not non-negative integers", raw.DataOffsets)
	}
	return e, nil
}

// place checks that the tensors tile buf exactly and points their Data at it.
func (f *File) place(entries []entry, buf []byte) error {
	var next uint64
	for i := range f.tensors {
		t := &f.tensors[i]
		e := entries[i]
		if e.begin != next || e.end < e.begin {
			if e.begin < next {
				return fmt.Errorf("safetensors: %q: tensor %q: data_offsets [%d %d] overlap the previous tensor, which ends at %d",
					f.Source, t.Name, e.begin, e.end, next)
			}
			if e.end < e.begin {
				return fmt.Errorf("safetensors: %q: tensor %q: data_offsets [%d %d] end before they begin",
					f.Source, t.Name, e.begin, e.end)
			}
			return fmt.Errorf("safetensors: %q: tensor %q: data_offsets [%d %d] leave a gap after offset %d",
				f.Source, t.Name, e.begin, e.end, next)
		}
		size, _, _ := dtypeInfo(t.DType)
		n := t.NumElements()
		if n < 0 || n > math.MaxInt/size || uint64(n*size) != e.end-e.begin {
			return fmt.Errorf("safetensors: %q: tensor %q: data_offsets [%d %d] hold %d bytes, %s %v needs %d",
				f.Source, t.Name, e.begin, e.end, e.end-e.begin, t.DType, t.Shape, uint64(n)*uint64(size))
		}
		if e.end > uint64(len(buf)) {
			return fmt.Errorf("safetensors: %q: tensor %q: data_offsets [%d %d] run past the %d-byte data buffer (truncated file?)",
				f.Source, t.Name, e.begin, e.end, len(buf))
		}
		t.Data = buf[e.begin:e.end:e.end]
		next = e.end
	}
	if next != uint64(len(buf)) {
		return fmt.Errorf("safetensors: %q: tensors cover %d bytes of the %d-byte data buffer (trailing bytes)",
			f.Source, next, len(buf))
	}
	return nil
}

// order returns tensors sorted as the reference writer lays them out:
// descending dtype rank, then name.
func order(tensors []Tensor) []*Tensor {
	out := make([]*Tensor, len(tensors))
	for i := range tensors {
		out[i] = &tensors[i]
	}
	sort.SliceStable(out, func(i, j int) bool {
		_, ri, _ := dtypeInfo(out[i].DType)
		_, rj, _ := dtypeInfo(out[j].DType)
		if ri != rj {
			return ri > rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Header returns the padded JSON header that Encode writes for tensors and
// meta (nil meta: no "__metadata__"), after validating the tensors.
func Header(tensors []Tensor, meta map[string]string) ([]byte, error) {
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		if err := tensors[i].Validate(); err != nil {
			return nil, err
		}
		if seen[tensors[i].Name] {
			return nil, fmt.Errorf("safetensors: tensor %q given twice", tensors[i].Name)
		}
		seen[tensors[i].Name] = true
	}
	var h bytes.Buffer
	h.WriteByte('{')
	if meta != nil {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeString(&h, metaKey)
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeString(&h, k)
			h.WriteByte(':')
			writeString(&h, meta[k])
		}
		h.WriteByte('}')
	}
	var off int
	for i, t := range order(tensors) {
		if i > 0 || meta != nil {
			h.WriteByte(',')
		}
		writeString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeString(&h, t.DType)
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+len(t.Data))
		off += len(t.Data)
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), nil
}

// writeString writes s as a JSON string the way serde_json does: only '"',
// '\\' and control characters are escaped; other bytes pass through.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Encode writes tensors and meta (nil: no "__metadata__") in safetensors
// format to w.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header, err := Header(tensors, meta)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range order(tensors) {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// Marshal returns the safetensors encoding of tensors and meta.
func Marshal(tensors []Tensor, meta map[string]string) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, tensors, meta); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes tensors and meta (nil: no "__metadata__") to path atomically:
// the bytes go to a temporary file in path's directory, which is fsynced and
// renamed to path, with mode 0644. On error path is untouched and the
// temporary file removed.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	if _, err := Header(tensors, meta); err != nil {
		return fmt.Errorf("safetensors: write %q: %w", path, err)
	}
	err := atomicfile.WriteWith(path, func(w io.Writer) error { return Encode(w, tensors, meta) })
	if err != nil {
		return fmt.Errorf("safetensors: write %q: %w", path, err)
	}
	return nil
}

// torchFile reports whether a file starting with head looks like a
// torch.save file: a zip archive (PyTorch ≥ 1.6) or a pickle (legacy).
func torchFile(head []byte) bool {
	return len(head) >= 4 && (string(head[:4]) == "PK\x03\x04" || head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
}
