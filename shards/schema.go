package shards

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/t2f/t2f/internal/safename"
)

// Format is the value of the "t2f.format" schema key and the manifest's
// "format" field.
const Format = "t2f-shards/1"

// Layout is the only pixel layout written: height, width, channel.
const Layout = "HWC"

// Column names, in schema order.
const (
	ColID     = "id"
	ColLabel  = "label"
	ColImage  = "image"
	ColSource = "source"
)

// Schema metadata keys of a shard, in the order Schema writes them.
const (
	keyFormat   = "t2f.format"
	keyDataset  = "dataset"
	keySplit    = "split"
	keyClasses  = "classes"
	keyHeight   = "height"
	keyWidth    = "width"
	keyChannels = "channels"
	keyLayout   = "layout"
)

// Meta describes a shard directory: what every shard's schema metadata holds.
type Meta struct {
	Dataset  string   // dataset name, e.g. "mnist"
	Split    string   // split name, e.g. "train"
	Classes  []string // class names; label k names Classes[k]; empty for OOD-only sets
	Height   int
	Width    int
	Channels int    // 1 or 3
	Layout   string // always Layout ("HWC")
	Rows     int    // total rows (set by the reader; ignored by the writer)
}

// ImageLen is the number of bytes in one image: H·W·C.
func (m Meta) ImageLen() int { return m.Height * m.Width * m.Channels }

// MaxSide bounds a shard image's height and width, and MaxClasses the
// number of classes, so that sizes read from files stay far below what
// readers could allocate (one image of MaxSide² × 3 bytes is 48 MiB).
const (
	MaxSide    = 4096
	MaxClasses = 1 << 16
)

func (m Meta) validate() error {
	if m.Height <= 0 || m.Width <= 0 || m.Height > MaxSide || m.Width > MaxSide {
		return fmt.Errorf("shards: image size %dx%d must lie in [1, %d]", m.Height, m.Width, MaxSide)
	}
	for _, n := range []struct{ what, name string }{{"dataset name", m.Dataset}, {"split name", m.Split}} {
		if n.name != "" {
			if err := safename.Check(n.what, n.name); err != nil {
				return fmt.Errorf("shards: %w", err)
			}
		}
	}
	if len(m.Classes) > MaxClasses {
		return fmt.Errorf("shards: %d classes, at most %d", len(m.Classes), MaxClasses)
	}
	if m.Channels != 1 && m.Channels != 3 {
		return fmt.Errorf("shards: channels %d, want 1 or 3", m.Channels)
	}
	if m.Layout != "" && m.Layout != Layout {
		return fmt.Errorf("shards: layout %q, want %q", m.Layout, Layout)
	}
	return nil
}

// Schema returns the Arrow schema of a shard holding images described by m.
func Schema(m Meta) *arrow.Schema {
	classes, _ := json.Marshal(nonNil(m.Classes))
	md := arrow.NewMetadata(
		[]string{keyFormat, keyDataset, keySplit, keyClasses, keyHeight, keyWidth, keyChannels, keyLayout},
		[]string{Format, m.Dataset, m.Split, string(classes),
			strconv.Itoa(m.Height), strconv.Itoa(m.Width), strconv.Itoa(m.Channels), Layout},
	)
	return arrow.NewSchema([]arrow.Field{
		{Name: ColID, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColImage, Type: arrow.FixedSizeListOfNonNullable(int32(m.ImageLen()), arrow.PrimitiveTypes.Uint8)},
		{Name: ColSource, Type: arrow.BinaryTypes.String},
	}, &md)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// metaFromSchema parses the schema metadata written by [Schema].
func metaFromSchema(s *arrow.Schema) (Meta, error) {
	md := s.Metadata()
	get := func(k string) (string, error) {
		i := md.FindKey(k)
		if i < 0 {
			return "", fmt.Errorf("schema metadata has no %q key", k)
		}
		return md.Values()[i], nil
	}
	var m Meta
	f, err := get(keyFormat)
	if err != nil {
		return m, err
	}
	if f != Format {
		return m, fmt.Errorf("schema format %q, want %q", f, Format)
	}
	if m.Dataset, err = get(keyDataset); err != nil {
		return m, err
	}
	if m.Split, err = get(keySplit); err != nil {
		return m, err
	}
	c, err := get(keyClasses)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(c), &m.Classes); err != nil {
		return m, fmt.Errorf("schema metadata %s: %w", keyClasses, err)
	}
	for _, kv := range []struct {
		k string
		p *int
	}{{keyHeight, &m.Height}, {keyWidth, &m.Width}, {keyChannels, &m.Channels}} {
		v, err := get(kv.k)
		if err != nil {
			return m, err
		}
		if *kv.p, err = strconv.Atoi(v); err != nil {
			return m, fmt.Errorf("schema metadata %s: %w", kv.k, err)
		}
	}
	if m.Layout, err = get(keyLayout); err != nil {
		return m, err
	}
	return m, m.validate()
}

// checkSchema reports whether s is exactly the schema [Schema] builds for m.
func checkSchema(s *arrow.Schema, m Meta) error {
	want := Schema(m)
	if !s.Equal(want) {
		return fmt.Errorf("columns %v, want %v", s.Fields(), want.Fields())
	}
	got, err := metaFromSchema(s)
	if err != nil {
		return err
	}
	if got.Dataset != m.Dataset || got.Split != m.Split || got.Height != m.Height ||
		got.Width != m.Width || got.Channels != m.Channels || !equalStrings(got.Classes, m.Classes) {
		return fmt.Errorf("schema metadata %+v does not match manifest %+v", got, m)
	}
	return nil
}

func equalStrings(a, b []string) bool {
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
