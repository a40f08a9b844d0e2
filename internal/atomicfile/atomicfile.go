// Package atomicfile writes files so that a reader, or a crash, never sees a
// partial one: the bytes go to a temporary file in the target's directory
// (named "."+base+".tmp*"), which is flushed, fsynced, given mode 0644 and
// renamed over the target only when everything succeeded. On failure the
// target is untouched and the temporary file removed.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/t2f/t2f/internal/crashpoint"
)

// File is a file being written. Write to it, then Commit to publish it at
// its path or Abort to discard it. It is not safe for concurrent use.
type File struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	done bool
}

// Create starts writing path through a buffered temporary file.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f, bw: bufio.NewWriterSize(f, 1<<20)}, nil
}

// Write appends p (buffered).
func (a *File) Write(p []byte) (int, error) {
	if a.done {
		return 0, errors.New("atomicfile: write after Commit or Abort")
	}
	return a.bw.Write(p)
}

// Commit flushes, fsyncs and renames the file to its path. After an error
// the temporary file is gone and the path untouched.
func (a *File) Commit() error {
	if a.done {
		return errors.New("atomicfile: Commit after Commit or Abort")
	}
	a.done = true
	err := a.bw.Flush()
	if err == nil {
		err = a.f.Chmod(0o644) // CreateTemp makes 0600; these are ordinary files
	}
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		crashpoint.Hit("before rename " + filepath.Base(a.path))
		err = os.Rename(a.f.Name(), a.path)
		crashpoint.Hit("after rename " + filepath.Base(a.path))
	}
	if err != nil {
		os.Remove(a.f.Name())
		return err
	}
	if d, derr := os.Open(filepath.Dir(a.path)); derr == nil {
		// Best effort: persist the rename itself; some file systems refuse
		// to sync a directory, and the file's bytes are already durable.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Abort discards the file; the path is untouched. It is a no-op after
// Commit, so `defer f.Abort()` is safe.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	return WriteWith(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith writes whatever write produces to path atomically; an error
// from write discards the file.
func WriteWith(path string, write func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}

// IsTemp reports whether name is a temporary file this package creates
// (".<base>.tmp<random>"), e.g. one left behind by a killed process.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	if !strings.HasPrefix(name, ".") || i <= 1 {
		return false
	}
	for _, c := range name[i+len(".tmp"):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RemoveTemps removes the temporary files a killed writer left in dir (its
// own files only, see IsTemp). Call it only while no other process writes
// dir, e.g. holding the directory's lock.
func RemoveTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
