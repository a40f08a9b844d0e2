package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/t2f/t2f/formats/safetensors"
)

// MaxPickleSize is the largest data.pkl (zip format) or run of pickles
// before the storages (legacy format) Read accepts (a ResNet-50
// state_dict's is about 30 KB).
const MaxPickleSize = 256 << 20

// wrapperKeys are the keys under which training scripts commonly nest the
// state_dict, in the order they are tried.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model", "net"}

// Read reads the state_dict in the PyTorch checkpoint at path (see the
// package comment for the accepted files) and returns its tensors in the
// dict's order: floating-point tensors converted to F32, integer and bool
// tensors with their own dtype (num_batches_tracked is an I64 scalar).
//
// Read allows DefaultMaxBytes of storages and tensors; ReadLimit takes the
// bound from the caller (e.g. the size of the model the weights are for).
func Read(path string) ([]safetensors.Tensor, error) { return ReadLimit(path, DefaultMaxBytes) }

// DefaultMaxBytes is Read's bound on the bytes of storages read plus
// tensors built (a ResNet-50 needs about 200 MB).
const DefaultMaxBytes = 1 << 30

// ReadLimit is Read with a bound on the bytes of storages read plus tensors
// built, checked before each is allocated: a small file whose compressed
// storages claim gigabytes, or many views copying one storage, is an error
// instead of an out-of-memory kill.
func ReadLimit(path string, maxBytes int64) ([]safetensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pth: %q: %w", path, err)
	}
	return decode(path, f, st.Size(), maxBytes)
}

// Decode is Read for a checkpoint held in memory; source names it in errors.
func Decode(source string, data []byte) ([]safetensors.Tensor, error) {
	return decode(source, bytes.NewReader(data), int64(len(data)), DefaultMaxBytes)
}

func decode(source string, r io.ReaderAt, size, maxBytes int64) ([]safetensors.Tensor, error) {
	var head [512]byte
	n, err := r.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pth: %q: %w", source, err)
	}
	legacy, err := sniff(source, head[:n])
	if err != nil {
		return nil, err
	}
	if legacy {
		return decodeLegacy(source, r, size, legacyHeadChunk, maxBytes)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("pth: %q: not a readable zip archive (truncated or corrupt file?): %w", source, err)
	}
	a, err := openArchive(source, zr)
	if err != nil {
		return nil, err
	}
	a.maxBytes = maxBytes
	return a.stateDict()
}

// sniff tells a torch.save zip file from a legacy one (a binary pickle
// stream: legacy is true) and refuses anything else, with what to do instead.
func sniff(source string, head []byte) (legacy bool, err error) {
	resave := "re-save it with torch ≥ 1.6: python -c \"import torch; torch.save(torch.load('OLD.pth'), 'NEW.pth')\""
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return false, nil
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return true, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return false, fmt.Errorf("pth: %q is a tar archive (PyTorch's oldest serialisation format, torch 0.1.x), which t2f does not read; %s", source, resave)
	case len(head) >= 9 && head[8] == '{':
		return false, fmt.Errorf("pth: %q looks like a safetensors file, not a PyTorch checkpoint", source)
	case len(head) == 0:
		return false, fmt.Errorf("pth: %q is empty", source)
	}
	return false, fmt.Errorf("pth: %q is not a PyTorch checkpoint (a torch.save file starts with \"PK\" or, in the legacy format, with a binary pickle; this starts with % x)", source, head[:min(len(head), 8)])
}

// archive is an opened torch.save zip file.
type archive struct {
	maxBytes int64 // see ReadLimit
	source   string
	prefix   string // the records' folder, "<name>/"
	files    map[string]*zip.File
	refs     map[string]*storage // storage key → its first persistent id
	storage  map[string][]byte   // storage key → raw bytes, read on demand
}

func openArchive(source string, zr *zip.Reader) (*archive, error) {
	a := &archive{source: source, files: map[string]*zip.File{}, refs: map[string]*storage{}, storage: map[string][]byte{}}
	var pkl []string
	for _, f := range zr.File {
		a.files[f.Name] = f
		if i := strings.IndexByte(f.Name, '/'); i > 0 && f.Name[i+1:] == "data.pkl" {
			pkl = append(pkl, f.Name)
		}
	}
	switch len(pkl) {
	case 0:
		if _, ok := a.files["model.json"]; ok {
			return nil, fmt.Errorf("pth: %q is a TorchScript archive, not a torch.save checkpoint; save model.state_dict() with torch.save", source)
		}
		return nil, fmt.Errorf("pth: %q is a zip file without a <name>/data.pkl record: not a torch.save checkpoint", source)
	case 1:
	default:
		return nil, fmt.Errorf("pth: %q holds %d data.pkl records (%s, ...), want one", source, len(pkl), pkl[0])
	}
	a.prefix = strings.TrimSuffix(pkl[0], "data.pkl")
	if _, ok := a.files[a.prefix+"constants.pkl"]; ok {
		return nil, fmt.Errorf("pth: %q is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save model.state_dict() with torch.save", source)
	}
	if f, ok := a.files[a.prefix+"byteorder"]; ok {
		b, err := a.readFile(f, 16)
		if err != nil {
			return nil, fmt.Errorf("pth: %q: %w", source, err)
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("pth: %q was written on a %q-endian machine; only little-endian checkpoints are read", source, s)
		}
	}
	return a, nil
}

// readFile reads a whole record of at most limit bytes (errors name the
// record, not the file).
func (a *archive) readFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("record %s is %d bytes, more than the %d allowed", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("record %s (truncated file?): %w", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("record %s is longer than the %d bytes allowed", f.Name, limit)
	}
	return b, nil
}

// persistent resolves ('storage', StorageType, key, location, numel).
func (a *archive) persistent(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want a 5-tuple ('storage', type, key, location, numel)", typeName(pid))
	}
	info, err := storageType(t)
	if err != nil {
		return nil, err
	}
	key, ok1 := t[2].(string)
	loc, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("malformed persistent id (key %v, location %v, numel %v)", t[2], t[3], t[4])
	}
	if _, ok := a.files[a.prefix+"data/"+key]; !ok {
		return nil, fmt.Errorf("storage %q has no record %sdata/%s", key, a.prefix, key)
	}
	st := &storage{dtype: info, key: key, location: loc, numel: numel}
	if err := sameStorage(a.refs, st); err != nil {
		return nil, err
	}
	return st, nil
}

// sameStorage records st in refs, or checks that it agrees with the
// earlier reference to the same storage key (torch uses the first one; a
// later reference with another type or size would read past the data).
func sameStorage(refs map[string]*storage, st *storage) error {
	first, ok := refs[st.key]
	if !ok {
		refs[st.key] = st
		return nil
	}
	if first.dtype != st.dtype || first.numel != st.numel {
		return fmt.Errorf("storage %q is referenced as %d × %s and as %d × %s", st.key, first.numel, first.dtype.storage, st.numel, st.dtype.storage)
	}
	return nil
}

// storageBytes reads (once) the raw bytes of st.
func (a *archive) storageBytes(st *storage) ([]byte, error) {
	if b, ok := a.storage[st.key]; ok {
		return b, nil
	}
	if st.numel > math.MaxInt64/int64(st.dtype.size) {
		return nil, fmt.Errorf("storage %q of %d elements is too large", st.key, st.numel)
	}
	want := st.numel * int64(st.dtype.size)
	f := a.files[a.prefix+"data/"+st.key]
	if f.UncompressedSize64 != uint64(want) {
		return nil, fmt.Errorf("storage %q (%d × %s) needs %d bytes, record %s has %d", st.key, st.numel, st.dtype.storage, want, f.Name, f.UncompressedSize64)
	}
	b, err := a.readFile(f, want)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != want {
		return nil, fmt.Errorf("storage %q: record %s holds %d bytes, want %d (truncated file?)", st.key, f.Name, len(b), want)
	}
	a.storage[st.key] = b
	return b, nil
}

// stateDict unpickles data.pkl and materialises the state_dict's tensors.
func (a *archive) stateDict() ([]safetensors.Tensor, error) {
	pkl, err := a.readFile(a.files[a.prefix+"data.pkl"], MaxPickleSize)
	if err != nil {
		return nil, fmt.Errorf("pth: %q: %w", a.source, err)
	}
	v, err := unpickle(pkl, a.persistent)
	if err != nil {
		return nil, fmt.Errorf("pth: %q: %w", a.source, err)
	}
	out, err := buildStateDict(v, a.storageBytes, a.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("pth: %q: %w", a.source, err)
	}
	return out, nil
}

// storageReader returns the raw bytes of st: st.numel elements.
type storageReader func(st *storage) ([]byte, error)

// buildStateDict finds the state_dict in the unpickled value v and
// materialises its tensors from the storages read returns.
// Storages (once each) and the tensors built from them count against
// maxBytes before they are allocated.
func buildStateDict(v any, read storageReader, maxBytes int64) ([]safetensors.Tensor, error) {
	d, err := findStateDict(v)
	if err != nil {
		return nil, err
	}
	var used int64
	seen := map[string]bool{}
	spend := func(what string, n int64) error {
		if n < 0 || n > maxBytes-used {
			return fmt.Errorf("%s of %d bytes exceeds the %d bytes allowed for this checkpoint (%d used); a file this large does not fit the model", what, n, maxBytes, used)
		}
		used += n
		return nil
	}
	unbudgeted := read
	budgeted := func(st *storage) ([]byte, error) {
		if !seen[st.key] {
			if st.numel > math.MaxInt64/8 {
				return nil, fmt.Errorf("storage %q of %d elements is too large", st.key, st.numel)
			}
			if err := spend(fmt.Sprintf("storage %q", st.key), st.numel*int64(st.dtype.size)); err != nil {
				return nil, err
			}
			seen[st.key] = true
		}
		return unbudgeted(st)
	}
	read = budgeted
	out := make([]safetensors.Tensor, 0, len(d.keys))
	for i, k := range d.keys {
		name := k.(string) // findStateDict checked
		ref := d.vals[i].(*tensorRef)
		numel := int64(1)
		for _, s := range ref.size {
			if s < 0 || s != 0 && numel > math.MaxInt64/8/s {
				return nil, fmt.Errorf("tensor %q: size %v is too large", name, ref.size)
			}
			numel *= s
		}
		if err := spend(fmt.Sprintf("tensor %q", name), 2*numel*int64(ref.st.dtype.size)); err != nil {
			return nil, err
		}
		t, err := materialise(name, ref, read)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// findStateDict returns the dict of name → tensor: v itself, or v's entry
// under one of wrapperKeys.
func findStateDict(v any) (*pyDict, error) {
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the checkpoint holds %s, not a state_dict (a dict of name → tensor)", withArticle(typeName(v)))
	}
	notStateDict := checkTensorDict(d)
	if notStateDict == nil {
		return d, nil
	}
	for _, k := range wrapperKeys {
		inner, ok := d.get(k)
		if !ok {
			continue
		}
		id, ok := inner.(*pyDict)
		if !ok {
			continue
		}
		if err := checkTensorDict(id); err != nil {
			return nil, fmt.Errorf("entry %q: %w", k, err)
		}
		return id, nil
	}
	return nil, fmt.Errorf("not a state_dict: %w (nor does it hold one under %s)", notStateDict, strings.Join(quoteAll(wrapperKeys), ", "))
}

func checkTensorDict(d *pyDict) error {
	if len(d.keys) == 0 {
		return errors.New("the dict is empty")
	}
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("key %v is %s, not a str", k, withArticle(typeName(k)))
		}
		if _, ok := d.vals[i].(*tensorRef); !ok {
			return fmt.Errorf("entry %q is %s, not a tensor", name, withArticle(typeName(d.vals[i])))
		}
	}
	return nil
}

// withArticle prefixes a type name with "a" or "an" ("None" stays bare).
func withArticle(name string) string {
	switch {
	case name == "None":
		return name
	case strings.ContainsAny(name[:1], "aeiou"):
		return "an " + name
	}
	return "a " + name
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// materialise copies the view t of its storage into a row-major tensor,
// converting floating-point dtypes to F32.
func materialise(name string, t *tensorRef, read storageReader) (safetensors.Tensor, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	raw, err := read(t.st)
	if err != nil {
		return safetensors.Tensor{}, err
	}
	if int64(len(raw)) != t.st.numel*int64(t.st.dtype.size) {
		panic("pth: storage reader returned the wrong byte count")
	}
	numel := int64(1)
	for _, s := range t.size {
		if s != 0 && numel > math.MaxInt64/s {
			return safetensors.Tensor{}, bad("size %v is too large", t.size)
		}
		numel *= s
	}
	if numel > t.st.numel {
		return safetensors.Tensor{}, bad("view of size %v has more elements than its storage (%d): an expanded tensor; save tensor.contiguous() instead", t.size, t.st.numel)
	}
	if numel > 0 {
		if t.offset >= t.st.numel {
			return safetensors.Tensor{}, bad("storage offset %d is past its storage of %d elements", t.offset, t.st.numel)
		}
		last := t.offset
		for i, s := range t.size {
			if t.stride[i] > t.st.numel {
				return safetensors.Tensor{}, bad("stride %v does not fit its storage of %d elements", t.stride, t.st.numel)
			}
			last += (s - 1) * t.stride[i] // ≤ numel·storage numel: no overflow
			if last >= t.st.numel {
				break
			}
		}
		if last >= t.st.numel {
			return safetensors.Tensor{}, bad("view (offset %d, size %v, stride %v) reaches past its storage of %d elements", t.offset, t.size, t.stride, t.st.numel)
		}
	}
	es := int64(t.st.dtype.size)
	data := make([]byte, numel*es)
	if numel > 0 {
		if contiguous(t.size, t.stride) {
			copy(data, raw[t.offset*es:(t.offset+numel)*es])
		} else {
			gather(data, raw, t, es)
		}
	}
	shape := make([]int, len(t.size))
	for i, s := range t.size {
		shape[i] = int(s)
	}
	out := safetensors.Tensor{Name: name, DType: t.st.dtype.dtype, Shape: shape, Data: data}
	switch out.DType {
	case safetensors.F64, safetensors.F16, safetensors.BF16:
		v, err := Float32s(&out)
		if err != nil {
			return safetensors.Tensor{}, bad("%v", err)
		}
		out = safetensors.FromFloat32s(name, shape, v)
	}
	return out, nil
}

// contiguous reports whether stride is the row-major stride of size
// (dimensions of size 1 may have any stride, as in PyTorch).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// gather copies a strided view element by element in row-major order.
func gather(dst, src []byte, t *tensorRef, es int64) {
	idx := make([]int64, len(t.size))
	off := t.offset
	for o := int64(0); o < int64(len(dst)); o += es {
		copy(dst[o:o+es], src[off*es:(off+1)*es])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			off += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			off -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
}

// Float32s decodes a floating-point tensor (F32, F64, F16 or BF16) into
// float32 values, rounding F64 to nearest.
func Float32s(t *safetensors.Tensor) ([]float32, error) {
	size := safetensors.DTypeSize(t.DType)
	n := t.NumElements()
	if n < 0 || size == 0 || len(t.Data) != n*size {
		return nil, fmt.Errorf("pth: tensor %q: %s %v does not match %d data bytes", t.Name, t.DType, t.Shape, len(t.Data))
	}
	out := make([]float32, n)
	switch t.DType {
	case safetensors.F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case safetensors.F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	case safetensors.F16:
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case safetensors.BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16)
		}
	default:
		return nil, fmt.Errorf("pth: tensor %q has dtype %s, not a floating-point type", t.Name, t.DType)
	}
	return out, nil
}

// halfToFloat32 converts IEEE 754 binary16 bits to float32 (exactly: every
// half value is a float32 value).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: mant · 2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}
