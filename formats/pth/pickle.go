package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// The restricted unpickler. It interprets the pickle opcodes torch.save
// emits (protocol 2, plus the protocol 3–5 opcodes a newer pickler may use
// for the same values) and builds inert Go values; it never calls anything.
// A GLOBAL is resolved against the allow-list in allowedGlobals and any
// other global is an error naming it, before any further opcode runs.

// Pickle values.
type (
	pyGlobal struct{ module, name string }
	pyTuple  []any
	pyList   struct{ items []any }
	pyDict   struct {
		keys  []any
		vals  []any
		index map[any]int
	}
	// pyMark is the MARK opcode's stack entry.
	pyMark struct{}
	// storage is what a persistent id resolves to: numel elements of the
	// storage record key, starting at element base (0 except for a legacy
	// file's storage views).
	storage struct {
		dtype    dtypeInfo
		key      string
		location string
		numel    int64
		base     int64
	}
	// tensorRef is a view of a storage (torch._utils._rebuild_tensor_v2).
	tensorRef struct {
		st     *storage
		offset int64
		size   []int64
		stride []int64
	}
)

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

// set inserts or replaces key. Keys must be hashable scalars.
func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, nil, float64:
	default:
		return fmt.Errorf("dict key of type %s", typeName(k))
	}
	if f, ok := k.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		k = int64(f) // Python: 1.0 and 1 are the same key
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// dtypeInfo describes a torch storage type.
type dtypeInfo struct {
	storage string // torch class name, e.g. "FloatStorage"
	dtype   string // safetensors dtype of the raw elements
	size    int    // bytes per element
}

// storageTypes are the typed storages a state_dict may hold.
var storageTypes = map[string]dtypeInfo{
	"FloatStorage":    {"FloatStorage", "F32", 4},
	"DoubleStorage":   {"DoubleStorage", "F64", 8},
	"HalfStorage":     {"HalfStorage", "F16", 2},
	"BFloat16Storage": {"BFloat16Storage", "BF16", 2},
	"LongStorage":     {"LongStorage", "I64", 8},
	"IntStorage":      {"IntStorage", "I32", 4},
	"ShortStorage":    {"ShortStorage", "I16", 2},
	"CharStorage":     {"CharStorage", "I8", 1},
	"ByteStorage":     {"ByteStorage", "U8", 1},
	"BoolStorage":     {"BoolStorage", "BOOL", 1},
}

// storageType checks the head of a persistent id, ('storage',
// torch.<Type>Storage, ...), and returns the storage's element type. Both
// archive formats share it.
func storageType(t pyTuple) (dtypeInfo, error) {
	if s, _ := t[0].(string); s != "storage" {
		return dtypeInfo{}, fmt.Errorf("persistent id of kind %v, want 'storage'", t[0])
	}
	g, ok := t[1].(pyGlobal)
	info, known := storageTypes[g.name]
	if !ok || g.module != "torch" || !known {
		return dtypeInfo{}, fmt.Errorf("persistent id storage type %s is not a typed storage", typeName(t[1]))
	}
	return info, nil
}

// Allowed callables.
const (
	fnOrderedDict     = "collections.OrderedDict"
	fnRebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
	fnRebuildTensor   = "torch._utils._rebuild_tensor"
	fnRebuildParam    = "torch._utils._rebuild_parameter"
)

// allowedGlobal reports whether module.name may be loaded: the callables
// above and the storage types.
func allowedGlobal(module, name string) bool {
	switch module + "." + name {
	case fnOrderedDict, fnRebuildTensorV2, fnRebuildTensor, fnRebuildParam:
		return true
	}
	_, ok := storageTypes[name]
	return module == "torch" && ok
}

// globalError explains a refused global.
func globalError(module, name string) error {
	full := module + "." + name
	hint := "only a state_dict of tensors can be read; save model.state_dict() with torch.save"
	switch {
	case strings.HasPrefix(module, "__torch__"):
		hint = "this looks like a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead"
	case strings.HasPrefix(module, "torch.nn.modules") || strings.HasPrefix(module, "__main__"):
		hint = "the file holds a whole pickled model, not a state_dict; re-save it with torch.save(model.state_dict(), path)"
	case strings.HasPrefix(module, "numpy"):
		hint = "the file holds numpy objects; save only the model's state_dict (torch.save(model.state_dict(), path))"
	}
	return fmt.Errorf("refusing pickle global %s (it is not one of the classes a state_dict needs; nothing was executed): %s", full, hint)
}

// persistentLoader resolves a BINPERSID id.
type persistentLoader func(pid any) (any, error)

// maxMemo bounds the memo index a pickle may use (torch's pickles stay far
// below it).
const maxMemo = 1 << 28

// unpickle interprets data and returns the value STOP leaves on the stack.
// Errors carry the byte offset of the failing opcode.
func unpickle(data []byte, persistent persistentLoader) (result any, err error) {
	v, _, err := unpickleFrom(data, persistent)
	return v, err
}

// unpickleFrom is unpickle for a pickle at the start of data that may be
// followed by more bytes (a legacy file's pickles are consecutive): it also
// returns the number of bytes up to and including STOP. An error wrapping
// errTruncated means data ended inside the pickle.
func unpickleFrom(data []byte, persistent persistentLoader) (result any, n int, err error) {
	u := &unpickler{data: data, memo: map[uint32]any{}, persistent: persistent}
	v, err := u.run()
	return v, u.pos, err
}

type unpickler struct {
	data       []byte
	pos        int
	stack      []any
	marks      []int // stack lengths at each MARK
	memo       map[uint32]any
	persistent persistentLoader
	work       int // values pushed and copied so far; bounded by workLimit
}

// workLimit bounds the values a pickle of n bytes may push or copy: every
// opcode pushes at most one value, so honest pickles stay far below it,
// while a small pickle that copies its stack again and again (a memory
// bomb) is stopped.
func workLimit(n int) int { return 64*n + 1<<16 }

var errTruncated = errors.New("unexpected end of pickle data")

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errTruncated
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v); u.work++ }

func (u *unpickler) pop() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && n <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[n-1]
	u.stack = u.stack[:n-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && n <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[n-1], nil
}

// popMark returns the items above the last MARK and removes them and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	u.work += len(items)
	return items, nil
}

// topAs returns the stack top as the container an opcode (named op) updates.
func topAs[T any](u *unpickler, op string) (T, error) {
	var zero T
	t, err := u.top()
	if err != nil {
		return zero, err
	}
	c, ok := t.(T)
	if !ok {
		return zero, fmt.Errorf("%s on a %s", op, typeName(t))
	}
	return c, nil
}

func (u *unpickler) memoPut(i uint32) error {
	if i >= maxMemo {
		return fmt.Errorf("memo index %d too large", i)
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo index %d was never stored", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("pickle: %w (no STOP opcode)", errTruncated)
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err == nil && u.work > workLimit(len(u.data)) {
			err = fmt.Errorf("the pickle does more work than its %d bytes allow (a memory bomb?)", len(u.data))
		}
		if err != nil {
			return nil, fmt.Errorf("pickle: opcode 0x%02x at byte %d: %w", op, at, err)
		}
		if done {
			if len(u.marks) > 0 {
				return nil, fmt.Errorf("pickle: STOP at byte %d with an open MARK", at)
			}
			if len(u.stack) != 1 {
				return nil, fmt.Errorf("pickle: STOP at byte %d leaves %d values on the stack, want 1", at, len(u.stack))
			}
			return u.stack[0], nil
		}
	}
}

// step executes one opcode; done is true after STOP.
func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case 0x80: // PROTO
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		if b[0] < 2 || b[0] > 5 {
			return false, fmt.Errorf("pickle protocol %d, want 2 to 5", b[0])
		}
	case 0x95: // FRAME (protocol 4): an 8-byte length we need not use
		if _, err := u.read(8); err != nil {
			return false, err
		}
	case '.': // STOP
		return true, nil
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case ')': // EMPTY_TUPLE
		u.push(pyTuple{})
	case ']': // EMPTY_LIST
		u.push(&pyList{})
	case '}': // EMPTY_DICT
		u.push(newDict())
	case 'N': // NONE
		u.push(nil)
	case 0x88: // NEWTRUE
		u.push(true)
	case 0x89: // NEWFALSE
		u.push(false)
	case 'J': // BININT
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case 'K': // BININT1
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		u.push(int64(b[0]))
	case 'M': // BININT2
		b, err := u.read(2)
		if err != nil {
			return false, err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case 0x8a, 0x8b: // LONG1, LONG4
		var n int
		if op == 0x8a {
			b, err := u.read(1)
			if err != nil {
				return false, err
			}
			n = int(b[0])
		} else {
			b, err := u.read(4)
			if err != nil {
				return false, err
			}
			n = int(int32(binary.LittleEndian.Uint32(b)))
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		v, err := decodeLong(b)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		n, err := u.readLen(op, 'X', 0x8c)
		if err != nil {
			return false, err
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		if !utf8.Valid(b) {
			return false, errors.New("string is not valid UTF-8")
		}
		u.push(string(b))
	case 'T', 'U': // BINSTRING, SHORT_BINSTRING: Python 2's str, which
		// torch.load decodes as UTF-8 (legacy files written under Python 2)
		n, err := u.readLen(op, 'T', 'U')
		if err != nil {
			return false, err
		}
		if n >= 1<<31 { // BINSTRING's length is a signed int32
			return false, errors.New("BINSTRING with a negative length")
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		if !utf8.Valid(b) {
			return false, errors.New("Python 2 string is not valid UTF-8")
		}
		u.push(string(b))
	case 'B', 'C', 0x8e: // BINBYTES, SHORT_BINBYTES, BINBYTES8
		n, err := u.readLen(op, 'B', 'C')
		if err != nil {
			return false, err
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		u.push(append([]byte(nil), b...))
	case 'c': // GLOBAL module\nname\n
		module, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		if !allowedGlobal(module, name) {
			return false, globalError(module, name)
		}
		u.push(pyGlobal{module, name})
	case 0x93: // STACK_GLOBAL
		nameV, err := u.pop()
		if err != nil {
			return false, err
		}
		modV, err := u.pop()
		if err != nil {
			return false, err
		}
		module, ok1 := modV.(string)
		name, ok2 := nameV.(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL operands are not strings")
		}
		if !allowedGlobal(module, name) {
			return false, globalError(module, name)
		}
		u.push(pyGlobal{module, name})
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistent == nil {
			return false, errors.New("persistent id in a pickle that may not have one")
		}
		v, err := u.persistent(pid)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		items := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			if items[i], err = u.pop(); err != nil {
				return false, err
			}
		}
		u.push(items)
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, err
		}
		u.push(d)
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		var err error
		if op == 'a' {
			var v any
			v, err = u.pop()
			items = []any{v}
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return false, err
		}
		l, err := topAs[*pyList](u, map[byte]string{'a': "APPEND", 'e': "APPENDS"}[op])
		if err != nil {
			return false, err
		}
		l.items = append(l.items, items...)
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		var err error
		if op == 's' {
			var k, v any
			if v, err = u.pop(); err == nil {
				k, err = u.pop()
			}
			items = []any{k, v}
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return false, err
		}
		d, err := topAs[*pyDict](u, map[byte]string{'s': "SETITEM", 'u': "SETITEMS"}[op])
		if err != nil {
			return false, err
		}
		if err := setItems(d, items); err != nil {
			return false, err
		}
	case 'R': // REDUCE
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		fn, err := u.pop()
		if err != nil {
			return false, err
		}
		g, ok := fn.(pyGlobal)
		if !ok {
			return false, fmt.Errorf("REDUCE calls a %s, not a global", typeName(fn))
		}
		t, ok := args.(pyTuple)
		if !ok {
			return false, fmt.Errorf("REDUCE arguments are a %s, not a tuple", typeName(args))
		}
		v, err := call(g, t)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'b': // BUILD: set state on the object below. A state_dict's
		// OrderedDict carries _metadata (module versions); tensors may carry
		// Python attributes. Neither matters for the values, so the state is
		// checked to be inert data and dropped.
		if _, err := u.pop(); err != nil {
			return false, err
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		switch t.(type) {
		case *pyDict, *tensorRef:
		default:
			return false, fmt.Errorf("BUILD on a %s", typeName(t))
		}
	case 'q': // BINPUT
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(uint32(b[0]))
	case 'r': // LONG_BINPUT
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(binary.LittleEndian.Uint32(b))
	case 0x94: // MEMOIZE
		return false, u.memoPut(uint32(len(u.memo)))
	case 'h': // BINGET
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(uint32(b[0]))
	case 'j': // LONG_BINGET
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(binary.LittleEndian.Uint32(b))
	case '0': // POP
		if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			u.marks = u.marks[:len(u.marks)-1] // POP of a MARK
			return false, nil
		}
		_, err := u.pop()
		return false, err
	case '1': // POP_MARK
		_, err := u.popMark()
		return false, err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.push(v)
	default:
		return false, fmt.Errorf("unsupported pickle opcode (a state_dict written by torch.save does not use it)")
	}
	return false, nil
}

// readLen reads the length operand of a string/bytes opcode: 4 bytes for
// the long form op4, 1 byte for op1, 8 bytes otherwise.
func (u *unpickler) readLen(op, op4, op1 byte) (int, error) {
	switch op {
	case op4:
		b, err := u.read(4)
		if err != nil {
			return 0, err
		}
		return int(binary.LittleEndian.Uint32(b)), nil
	case op1:
		b, err := u.read(1)
		if err != nil {
			return 0, err
		}
		return int(b[0]), nil
	}
	b, err := u.read(8)
	if err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(u.data)) {
		return 0, errTruncated
	}
	return int(n), nil
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number (%d) of dict items", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer (LONG1/LONG4):
// an int64 when it fits, else a *big.Int (kept as inert data; no tensor
// argument may be one).
func decodeLong(b []byte) (any, error) {
	if len(b) == 0 {
		return int64(0), nil
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if !v.IsInt64() {
		return v, nil
	}
	return v.Int64(), nil
}

// call applies an allowed callable to its arguments.
func call(g pyGlobal, args pyTuple) (any, error) {
	full := g.module + "." + g.name
	switch full {
	case fnOrderedDict:
		d := newDict()
		if len(args) == 0 {
			return d, nil
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("%s with %d arguments", full, len(args))
		}
		var pairs []any
		switch a := args[0].(type) {
		case *pyList:
			pairs = a.items
		case pyTuple:
			pairs = a
		default:
			return nil, fmt.Errorf("%s of a %s", full, typeName(args[0]))
		}
		for _, p := range pairs {
			kv, ok := p.(pyTuple)
			if !ok || len(kv) != 2 {
				return nil, fmt.Errorf("%s item is a %s, not a (key, value) pair", full, typeName(p))
			}
			if err := d.set(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
		return d, nil
	case fnRebuildTensorV2, fnRebuildTensor:
		// _rebuild_tensor_v2(storage, storage_offset, size, stride,
		// requires_grad, backward_hooks[, metadata]); _rebuild_tensor has
		// the first four.
		if full == fnRebuildTensor && len(args) != 4 || full == fnRebuildTensorV2 && len(args) != 6 && len(args) != 7 {
			return nil, fmt.Errorf("%s with %d arguments", full, len(args))
		}
		st, ok := args[0].(*storage)
		if !ok {
			return nil, fmt.Errorf("%s: storage argument is a %s", full, typeName(args[0]))
		}
		off, ok := args[1].(int64)
		if !ok || off < 0 {
			return nil, fmt.Errorf("%s: storage offset %v", full, args[1])
		}
		size, err := intTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("%s: size: %w", full, err)
		}
		stride, err := intTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("%s: stride: %w", full, err)
		}
		if len(size) != len(stride) {
			return nil, fmt.Errorf("%s: size %v and stride %v differ in length", full, size, stride)
		}
		return &tensorRef{st: st, offset: off, size: size, stride: stride}, nil
	case fnRebuildParam:
		// _rebuild_parameter(data, requires_grad, backward_hooks)
		if len(args) != 3 {
			return nil, fmt.Errorf("%s with %d arguments", full, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s of a %s", full, typeName(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s is not callable", full)
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, not a tuple", typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("element %d is %v, want a non-negative integer", i, x)
		}
		out[i] = n
	}
	return out, nil
}

// typeName is a Python-ish name of a pickle value, for errors.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return x.module + "." + x.name
	case *storage:
		return "torch." + x.dtype.storage
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}
