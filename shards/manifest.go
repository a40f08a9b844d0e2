package shards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/t2f/t2f/internal/atomicfile"
)

// ManifestName is the manifest's file name inside a shard directory.
const ManifestName = "dataset.json"

// ShardInfo describes one complete shard file.
type ShardInfo struct {
	File   string `json:"file"`   // base name, e.g. "shard-00000.arrow"
	Rows   int    `json:"rows"`   // rows in this shard
	SHA256 string `json:"sha256"` // hex SHA-256 of the whole file
}

// Skipped is one input left out by a --skip-bad build.
type Skipped struct {
	Source string `json:"source"` // file path or "file#record"
	Error  string `json:"error"`
}

// Manifest is the content of dataset.json.
type Manifest struct {
	Format      string          `json:"format"` // "t2f-shards/1"
	Dataset     string          `json:"dataset"`
	Split       string          `json:"split"`
	Classes     []string        `json:"classes"`
	ClassCounts []int64         `json:"class_counts"` // rows per label 0..len(Classes)-1
	OODCount    int64           `json:"ood_count"`    // rows with label -1
	Height      int             `json:"height"`
	Width       int             `json:"width"`
	Channels    int             `json:"channels"`
	Layout      string          `json:"layout"`
	Rows        int64           `json:"rows"`
	Shards      []ShardInfo     `json:"shards"`
	Build       json.RawMessage `json:"build,omitempty"` // producer's exact build parameters
	SkippedN    int             `json:"skipped_count"`
	Skipped     []Skipped       `json:"skipped,omitempty"`
}

// Meta returns the dataset description held by the manifest.
func (m *Manifest) Meta() Meta {
	return Meta{Dataset: m.Dataset, Split: m.Split, Classes: m.Classes, Height: m.Height,
		Width: m.Width, Channels: m.Channels, Layout: m.Layout, Rows: int(m.Rows)}
}

// ReadManifest reads and sanity-checks DIR/dataset.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("shards: %q is not a finished shard directory (no %s; an interrupted build resumes when rerun): %w", dir, ManifestName, err)
	}
	if err != nil {
		return nil, fmt.Errorf("shards: read manifest: %w", err)
	}
	return parseManifest(path, b)
}

// parseManifest decodes and sanity-checks the manifest bytes read from path.
func parseManifest(path string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("shards: parse manifest %q: %w", path, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("shards: manifest %q: format %q, want %q", path, m.Format, Format)
	}
	if err := m.Meta().validate(); err != nil {
		return nil, fmt.Errorf("shards: manifest %q: %w", path, err)
	}
	var n int64
	for _, s := range m.Shards {
		if s.File != filepath.Base(s.File) || filepath.Ext(s.File) != ".arrow" {
			return nil, fmt.Errorf("shards: manifest %q: bad shard file name %q", path, s.File)
		}
		if s.Rows < 0 {
			return nil, fmt.Errorf("shards: manifest %q: shard %q has %d rows", path, s.File, s.Rows)
		}
		n += int64(s.Rows)
	}
	if n != m.Rows {
		return nil, fmt.Errorf("shards: manifest %q: shards hold %d rows, manifest says %d", path, n, m.Rows)
	}
	return &m, nil
}

// WriteManifest writes DIR/dataset.json atomically (temp name, fsync, rename).
func WriteManifest(dir string, m *Manifest) error {
	if m.Format == "" {
		m.Format = Format
	}
	if m.Layout == "" {
		m.Layout = Layout
	}
	if m.Classes == nil {
		m.Classes = []string{}
	}
	if m.ClassCounts == nil {
		m.ClassCounts = []int64{}
	}
	if m.Shards == nil {
		m.Shards = []ShardInfo{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("shards: encode manifest: %w", err)
	}
	path := filepath.Join(dir, ManifestName)
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("shards: write %q: %w", path, err)
	}
	return nil
}
