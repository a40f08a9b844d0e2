package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"

	"github.com/t2f/t2f/formats/safetensors"
)

// The legacy format (torch.save before 1.6, or with
// _use_new_zipfile_serialization=False; torch/serialization.py _legacy_save
// and _legacy_load): consecutive pickles, then the storages' bytes.
//
//	pickle  magic number 0x1950a86a20f9469cfc6c
//	pickle  protocol version 1001
//	pickle  sys_info {"protocol_version", "little_endian", "type_sizes"}
//	pickle  the object; a storage is the persistent id ('storage',
//	        torch.FloatStorage, root_key, location, numel, view_metadata),
//	        view_metadata None or (view_key, offset, size) in elements
//	pickle  the list of root keys, in the order their data follows
//	for each key: int64 element count (little-endian), then that many
//	        little-endian elements

// legacyProtocol is the only legacy protocol version torch writes and reads.
const legacyProtocol = 1001

// legacyMagic is the first pickle of every legacy file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyHeadChunk is how much of a legacy file is read first in the hope
// that it holds all five pickles (a ResNet-50's take about 35 KB); the read
// grows up to MaxPickleSize when they are longer.
const legacyHeadChunk = 1 << 20

// legacyRoot is one root storage of a legacy file.
type legacyRoot struct {
	ref     *storage // the first persistent id naming it (base 0, numel: the root's)
	dataOff int64    // file offset of its elements; -1 until the key list names it
	data    []byte   // read on demand
}

// legacyView is a storage view's definition (view_metadata).
type legacyView struct {
	root         string
	offset, size int64
}

type legacyFile struct {
	source string
	r      io.ReaderAt
	size   int64
	chunk  int64    // the first read's length
	head   []byte   // the file's first bytes (all pickles, maybe some data)
	order  []string // the storage key list
	roots  map[string]*legacyRoot
	views  map[string]legacyView
}

// errorf is an error about the legacy file, naming it and its format.
func (l *legacyFile) errorf(format string, args ...any) error {
	return fmt.Errorf("pth: %q (PyTorch's legacy (pre-1.6) format): %w", l.source, fmt.Errorf(format, args...))
}

// decodeLegacy reads a legacy file, first reading chunk bytes of it for the
// pickles (legacyHeadChunk; tests use less).
func decodeLegacy(source string, r io.ReaderAt, size, chunk, maxBytes int64) ([]safetensors.Tensor, error) {
	l := &legacyFile{source: source, r: r, size: size, chunk: chunk}
	v, dataStart, err := l.readPickles()
	if err != nil {
		return nil, err
	}
	if err := l.locateStorages(dataStart); err != nil {
		return nil, err
	}
	out, err := buildStateDict(v, l.storageBytes, maxBytes)
	if err != nil {
		return nil, l.errorf("%w", err)
	}
	return out, nil
}

// readPickles reads the five pickles and returns the object and the file
// offset where the storages' data begins; the storage key list goes to
// l.order.
func (l *legacyFile) readPickles() (obj any, dataStart int64, err error) {
	n := min(l.size, max(l.chunk, 1))
	for {
		l.head = make([]byte, n)
		m, err := l.r.ReadAt(l.head, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, l.errorf("%w", err)
		}
		l.head = l.head[:m]
		obj, dataStart, err = l.parsePickles()
		if err == nil || !errors.Is(err, errTruncated) || n == l.size {
			return obj, dataStart, err
		}
		if n >= MaxPickleSize {
			return nil, 0, l.errorf("its pickles are longer than the %d bytes allowed", MaxPickleSize)
		}
		n = min(l.size, 4*n, MaxPickleSize)
	}
}

// parsePickles interprets the pickles in l.head (from scratch: a retry
// with a longer head starts over).
func (l *legacyFile) parsePickles() (obj any, dataStart int64, err error) {
	l.roots = map[string]*legacyRoot{}
	l.views = map[string]legacyView{}
	pos := 0
	next := func(what string, persistent persistentLoader) (any, error) {
		v, n, err := unpickleFrom(l.head[pos:], persistent)
		if err != nil {
			if errors.Is(err, errTruncated) && len(l.head) == int(l.size) {
				return nil, l.errorf("%s pickle at byte %d: %w (truncated file?)", what, pos, err)
			}
			return nil, l.errorf("%s pickle at byte %d: %w", what, pos, err)
		}
		pos += n
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, 0, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, 0, fmt.Errorf("pth: %q is a pickle file but not one written by torch.save (it does not start with PyTorch's legacy magic number); only state_dicts saved with torch.save can be read", l.source)
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, 0, err
	}
	if p, ok := proto.(int64); !ok || p != legacyProtocol {
		return nil, 0, l.errorf("protocol version %v, want %d", proto, legacyProtocol)
	}
	info, err := next("sys_info", nil)
	if err != nil {
		return nil, 0, err
	}
	d, ok := info.(*pyDict)
	if !ok {
		return nil, 0, l.errorf("sys_info is %s, not a dict", withArticle(typeName(info)))
	}
	if le, ok := d.get("little_endian"); ok && le != true {
		return nil, 0, fmt.Errorf("pth: %q was written on a big-endian machine (sys_info little_endian=%v); only little-endian checkpoints are read", l.source, le)
	}
	obj, err = next("object", l.persistent)
	if err != nil {
		return nil, 0, err
	}
	keysV, err := next("storage key list", nil)
	if err != nil {
		return nil, 0, err
	}
	list, ok := keysV.(*pyList)
	if !ok {
		return nil, 0, l.errorf("the storage key list is %s, not a list", withArticle(typeName(keysV)))
	}
	order := make([]string, len(list.items))
	for i, k := range list.items {
		s, ok := legacyKey(k)
		if !ok {
			return nil, 0, l.errorf("storage key %d is %s, not a str", i, withArticle(typeName(k)))
		}
		order[i] = s
	}
	l.order = order
	return obj, int64(pos), nil
}

// legacyKey accepts a storage key as torch writes it (a str) or as a
// Python int.
func legacyKey(v any) (string, bool) {
	switch k := v.(type) {
	case string:
		return k, true
	case int64:
		return fmt.Sprint(k), true
	}
	return "", false
}

// persistent resolves ('storage', StorageType, root_key, location, numel,
// view_metadata).
func (l *legacyFile) persistent(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if ok && len(t) > 0 && t[0] == "module" {
		return nil, errors.New("the file holds a whole pickled model, not a state_dict; re-save it with torch.save(model.state_dict(), path)")
	}
	if !ok || len(t) != 6 {
		return nil, fmt.Errorf("persistent id is a %s, want a 6-tuple ('storage', type, root_key, location, numel, view_metadata)", typeName(pid))
	}
	info, err := storageType(t)
	if err != nil {
		return nil, err
	}
	key, ok1 := legacyKey(t[2])
	loc, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("malformed persistent id (root key %v, location %v, numel %v)", t[2], t[3], t[4])
	}
	if numel > math.MaxInt64/int64(info.size) {
		return nil, fmt.Errorf("storage %q of %d elements is too large", key, numel)
	}
	root := &storage{dtype: info, key: key, location: loc, numel: numel}
	if r, ok := l.roots[key]; ok {
		if r.ref.dtype != info || r.ref.numel != numel {
			return nil, fmt.Errorf("storage %q is referenced as %d × %s and as %d × %s", key, r.ref.numel, r.ref.dtype.storage, numel, info.storage)
		}
	} else {
		l.roots[key] = &legacyRoot{ref: root, dataOff: -1}
	}
	if t[5] == nil {
		return root, nil
	}
	vm, ok := t[5].(pyTuple)
	if !ok || len(vm) != 3 {
		return nil, fmt.Errorf("storage %q: view metadata is %s, want None or (view_key, offset, size)", key, withArticle(typeName(t[5])))
	}
	vkey, ok1 := legacyKey(vm[0])
	off, ok2 := vm[1].(int64)
	size, ok3 := vm[2].(int64)
	if !ok1 || !ok2 || !ok3 || off < 0 || size < 0 || off > numel || size > numel-off {
		return nil, fmt.Errorf("storage %q: view (key %v, offset %v, size %v) does not fit its %d elements", key, vm[0], vm[1], vm[2], numel)
	}
	v := legacyView{root: key, offset: off, size: size}
	if first, ok := l.views[vkey]; ok && first != v {
		return nil, fmt.Errorf("storage view %q is defined as %d elements at %d of %q and as %d at %d of %q", vkey, first.size, first.offset, first.root, size, off, key)
	}
	l.views[vkey] = v
	return &storage{dtype: info, key: key, location: loc, numel: size, base: off}, nil
}

// locateStorages walks the storages' headers from dataStart in the key
// list's order, checking each element count against the pickle's.
func (l *legacyFile) locateStorages(dataStart int64) error {
	off := dataStart
	for _, key := range l.order {
		r, ok := l.roots[key]
		if !ok {
			return l.errorf("the storage key list names %q, which the pickle does not use", key)
		}
		if r.dataOff >= 0 {
			return l.errorf("the storage key list names %q twice", key)
		}
		var hdr [8]byte
		if err := l.readAt(hdr[:], off); err != nil {
			return l.errorf("storage %q: element count at byte %d: %w", key, off, err)
		}
		count := int64(binary.LittleEndian.Uint64(hdr[:]))
		if count != r.ref.numel {
			return l.errorf("storage %q: the file holds %d elements, the pickle says %d (corrupt file?)", key, count, r.ref.numel)
		}
		nbytes := count * int64(r.ref.dtype.size) // persistent checked the overflow
		if nbytes > l.size-off-8 {
			return l.errorf("storage %q: %d × %s at byte %d runs past the end of the %d-byte file (truncated file?)", key, count, r.ref.dtype.storage, off+8, l.size)
		}
		r.dataOff = off + 8
		off += 8 + nbytes
	}
	return nil
}

// readAt fills b from the file at off (from the head when it holds them).
func (l *legacyFile) readAt(b []byte, off int64) error {
	if off >= 0 && off <= int64(len(l.head)) && int64(len(b)) <= int64(len(l.head))-off {
		copy(b, l.head[off:])
		return nil
	}
	if int64(len(b)) > l.size-off {
		return errors.New("past the end of the file (truncated file?)")
	}
	// A ReaderAt may report io.EOF with a full read at the end of the file.
	if n, err := l.r.ReadAt(b, off); n < len(b) {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("short read (truncated file?)")
		}
		return err
	}
	return nil
}

// storageBytes reads (once) st's root storage and returns st's elements.
func (l *legacyFile) storageBytes(st *storage) ([]byte, error) {
	r := l.roots[st.key] // persistent registered every storage it returned
	if r.dataOff < 0 {
		return nil, fmt.Errorf("storage %q has no data in the file (the storage key list does not name it)", st.key)
	}
	es := int64(st.dtype.size)
	if r.data == nil {
		b := make([]byte, r.ref.numel*es)
		if err := l.readAt(b, r.dataOff); err != nil {
			return nil, fmt.Errorf("storage %q: %w", st.key, err)
		}
		r.data = b
	}
	return r.data[st.base*es : (st.base+st.numel)*es], nil
}
