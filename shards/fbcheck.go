package shards

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Arrow's IPC reader trusts the flatbuffers of a file: a corrupt vector
// length becomes a slice allocation of up to 64 GiB, a fatal out-of-memory
// error no recover can catch. checkArrowFile walks every flatbuffer table,
// vector and string the reader will touch — the footer with its schema and
// block lists, and every record batch message — and refuses any that
// reaches outside its buffer, before the file is handed to Arrow. The table
// layouts are those of Arrow's format/File.fbs, Schema.fbs and Message.fbs.

var errFlatbuffer = errors.New("malformed flatbuffer")

type fbuf []byte

func (b fbuf) u32(pos int) (int, bool) {
	if pos < 0 || pos+4 > len(b) {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(b[pos:])), true
}

// table checks the table at pos and returns its vtable position and size.
type fbTable struct {
	b       fbuf
	pos, vt int
	vtSize  int
	objSize int
}

func (b fbuf) table(pos int) (fbTable, error) {
	if pos < 0 || pos+4 > len(b) {
		return fbTable{}, errFlatbuffer
	}
	soff := int32(binary.LittleEndian.Uint32(b[pos:]))
	vt := pos - int(soff)
	if vt < 0 || vt+4 > len(b) {
		return fbTable{}, errFlatbuffer
	}
	vtSize := int(binary.LittleEndian.Uint16(b[vt:]))
	objSize := int(binary.LittleEndian.Uint16(b[vt+2:]))
	if vtSize < 4 || vtSize%2 != 0 || vt+vtSize > len(b) || objSize < 4 || pos+objSize > len(b) {
		return fbTable{}, errFlatbuffer
	}
	return fbTable{b: b, pos: pos, vt: vt, vtSize: vtSize, objSize: objSize}, nil
}

// field returns the position of slot i's value and whether it is present;
// size is the value's size inside the table.
func (t fbTable) field(i, size int) (int, bool, error) {
	vo := 4 + 2*i
	if vo+2 > t.vtSize {
		return 0, false, nil
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vt+vo:]))
	if off == 0 {
		return 0, false, nil
	}
	if off+size > t.objSize {
		return 0, false, errFlatbuffer
	}
	return t.pos + off, true, nil
}

// ref follows slot i's uoffset (a table, vector or string).
func (t fbTable) ref(i int) (int, bool, error) {
	p, ok, err := t.field(i, 4)
	if !ok || err != nil {
		return 0, ok, err
	}
	u, _ := t.b.u32(p)
	target := p + u
	if u == 0 || target >= len(t.b) {
		return 0, false, errFlatbuffer
	}
	return target, true, nil
}

// vector checks the vector at slot i with elements of elem bytes and
// returns its first element's position and length.
func (t fbTable) vector(i, elem int) (start, n int, err error) {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return 0, 0, err
	}
	n, ok = t.b.u32(p)
	if !ok || n > (len(t.b)-p-4)/elem {
		return 0, 0, errFlatbuffer
	}
	return p + 4, n, nil
}

// tables checks a vector of tables at slot i, calling each on every one.
func (t fbTable) tables(i int, each func(fbTable) error) error {
	start, n, err := t.vector(i, 4)
	if err != nil {
		return err
	}
	for k := range n {
		p := start + 4*k
		u, _ := t.b.u32(p)
		sub, err := t.b.table(p + u)
		if err != nil {
			return err
		}
		if err := each(sub); err != nil {
			return err
		}
	}
	return nil
}

func (t fbTable) str(i int) error {
	_, _, err := t.vector(i, 1)
	return err
}

func (t fbTable) sub(i int, each func(fbTable) error) error {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return err
	}
	sub, err := t.b.table(p)
	if err != nil {
		return err
	}
	if each == nil {
		return nil
	}
	return each(sub)
}

func checkKeyValues(t fbTable, slot int) error {
	return t.tables(slot, func(kv fbTable) error {
		if err := kv.str(0); err != nil {
			return err
		}
		return kv.str(1)
	})
}

// checkField checks a Schema.fbs Field (children to a bounded depth).
func checkField(depth int) func(fbTable) error {
	return func(f fbTable) error {
		if depth > 8 {
			return errFlatbuffer
		}
		if err := f.str(0); err != nil {
			return err
		}
		if err := f.sub(3, nil); err != nil { // type union value
			return err
		}
		if err := f.sub(4, func(d fbTable) error { return d.sub(1, nil) }); err != nil { // dictionary, its index type
			return err
		}
		if err := f.tables(5, checkField(depth+1)); err != nil {
			return err
		}
		return checkKeyValues(f, 6)
	}
}

func checkSchemaFB(s fbTable) error {
	if err := s.tables(1, checkField(0)); err != nil {
		return err
	}
	if err := checkKeyValues(s, 2); err != nil {
		return err
	}
	_, _, err := s.vector(3, 8)
	return err
}

// checkMessageFB checks a Message.fbs Message whose header is a schema,
// record batch or dictionary batch.
func checkMessageFB(b fbuf) error {
	root, _ := b.u32(0)
	m, err := b.table(root)
	if err != nil {
		return err
	}
	if err := checkKeyValues(m, 4); err != nil {
		return err
	}
	hp, ok, err := m.field(1, 1)
	if err != nil {
		return err
	}
	var htype byte
	if ok {
		htype = b[hp]
	}
	checkBatch := func(rb fbTable) error {
		for slot, elem := range map[int]int{1: 16, 2: 16, 4: 8} { // nodes, buffers, variadic counts
			if _, _, err := rb.vector(slot, elem); err != nil {
				return err
			}
		}
		return rb.sub(3, nil) // compression
	}
	return m.sub(2, func(h fbTable) error {
		switch htype {
		case 1: // Schema
			return checkSchemaFB(h)
		case 2: // DictionaryBatch: id, data (RecordBatch), isDelta
			return h.sub(1, checkBatch)
		case 3: // RecordBatch
			return checkBatch(h)
		}
		return nil
	})
}

// checkArrowFile checks the footer and every block's message of the Arrow
// IPC file in data.
func checkArrowFile(data []byte) error {
	const magic = "ARROW1"
	if len(data) < 2*len(magic)+4+8 || string(data[len(data)-6:]) != magic || string(data[:6]) != magic {
		return errors.New("not an Arrow IPC file (magic bytes missing)")
	}
	size := int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	if size <= 0 || size > len(data)-10-8 {
		return fmt.Errorf("footer length %d does not fit the file", size)
	}
	footer := fbuf(data[len(data)-10-size : len(data)-10])
	u, _ := footer.u32(0)
	f, err := footer.table(u)
	if err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	if err := f.sub(1, checkSchemaFB); err != nil {
		return fmt.Errorf("footer schema: %w", err)
	}
	if err := checkKeyValues(f, 4); err != nil {
		return fmt.Errorf("footer metadata: %w", err)
	}
	for _, slot := range []int{2, 3} { // dictionaries, record batches: Block structs
		start, n, err := f.vector(slot, 24)
		if err != nil {
			return fmt.Errorf("footer blocks: %w", err)
		}
		for k := range n {
			p := start + 24*k
			off := int64(binary.LittleEndian.Uint64(footer[p:]))
			meta := int64(int32(binary.LittleEndian.Uint32(footer[p+8:])))
			body := int64(binary.LittleEndian.Uint64(footer[p+16:]))
			if off < 0 || meta < 8 || body < 0 || off > int64(len(data)) || meta > int64(len(data))-off || body > int64(len(data))-off-meta {
				return fmt.Errorf("block %d (offset %d, metadata %d, body %d bytes) does not fit the file", k, off, meta, body)
			}
			mb := data[off : off+meta]
			prefix := 4
			if binary.LittleEndian.Uint32(mb) == 0xFFFFFFFF {
				prefix = 8
			}
			if err := checkMessageFB(fbuf(mb[prefix:])); err != nil {
				return fmt.Errorf("block %d message: %w", k, err)
			}
		}
	}
	return nil
}
