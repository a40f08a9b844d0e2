package shards

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Verify checks a shard directory end to end: the manifest parses; every
// listed shard exists, hashes to its recorded SHA-256, opens as an Arrow IPC
// file with exactly the expected schema and row count; labels lie in
// [−1, len(classes)); ids are unique; the per-class and OOD counts equal the
// manifest's; and no unfinished (".tmp") or unlisted shard files remain. It
// returns nil or an error listing every problem found.
func Verify(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	var errs []error
	listed := map[string]bool{}
	for _, s := range m.Shards {
		listed[s.File] = true
		path := filepath.Join(dir, s.File)
		sum, err := fileSHA256(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("shards: verify %q: %w", path, err))
			continue
		}
		if sum != s.SHA256 {
			errs = append(errs, fmt.Errorf("shards: verify %q: sha256 %s, manifest says %s", path, sum, s.SHA256))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("shards: verify: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, TempSuffix):
			errs = append(errs, fmt.Errorf("shards: verify %q: unfinished file %q left from an interrupted build", dir, n))
		case strings.HasSuffix(n, ".arrow") && !listed[n]:
			errs = append(errs, fmt.Errorf("shards: verify %q: shard %q is not listed in the manifest", dir, n))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r, err := Open(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	counts := make([]int64, len(m.Classes))
	var ood int64
	seen := make(map[int64]int, r.Len())
	for i := 0; i < r.Len(); i++ {
		l := r.Label(i)
		switch {
		case l == -1:
			ood++
		case l >= 0 && int(l) < len(counts):
			counts[l]++
		default:
			errs = append(errs, fmt.Errorf("shards: verify %q: row %d (source %q) label %d out of range [-1, %d)", dir, i, r.Source(i), l, len(counts)))
		}
		id := r.ID(i)
		if j, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("shards: verify %q: rows %d and %d share id %d", dir, j, i, id))
		}
		seen[id] = i
		if len(errs) > 20 {
			errs = append(errs, errors.New("shards: verify: too many errors, stopping"))
			return errors.Join(errs...)
		}
	}
	if len(m.ClassCounts) != len(counts) {
		errs = append(errs, fmt.Errorf("shards: verify %q: manifest has %d class counts for %d classes", dir, len(m.ClassCounts), len(counts)))
	} else {
		for k := range counts {
			if counts[k] != m.ClassCounts[k] {
				errs = append(errs, fmt.Errorf("shards: verify %q: class %d (%s) has %d rows, manifest says %d", dir, k, m.Classes[k], counts[k], m.ClassCounts[k]))
			}
		}
	}
	if ood != m.OODCount {
		errs = append(errs, fmt.Errorf("shards: verify %q: %d OOD rows, manifest says %d", dir, ood, m.OODCount))
	}
	return errors.Join(errs...)
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	s, err := fileSHA256(path)
	if err != nil {
		return "", fmt.Errorf("shards: hash %q: %w", path, err)
	}
	return s, nil
}
