// Package dirlock takes an advisory, exclusive lock on an output directory so
// that two t2f processes never write one directory at once (one run's config
// next to the other's weights). The lock is flock(2) on DIR/.t2f.lock: the
// kernel releases it when the holder exits, however it exits (SIGKILL
// included), so a stale lock file never blocks anyone. The file holds a line
// naming the holder (pid, host, command, start time) for the error message
// of the process that is refused; it stays in the directory afterwards.
//
// Any package that writes a directory may import dirlock; commands lock
// every directory they write before writing anything in it.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Name is the lock file's name inside a locked directory. Directory
// checks ("is this directory empty?", "which files are left over?") ignore it.
const Name = ".t2f.lock"

// HeldError is returned when another process holds the lock.
type HeldError struct {
	Dir    string
	Holder string // the holder's own description, "" if it had not written it yet
}

func (e *HeldError) Error() string {
	h := e.Holder
	if h == "" {
		h = "another process"
	}
	return fmt.Sprintf("dirlock: %s is in use by %s; wait for it to finish or stop it, or choose another directory", e.Dir, h)
}

// Lock is a held directory lock.
type Lock struct {
	f *os.File
}

// Acquire creates dir (and its parents) when missing and locks it for this
// process, recording what (e.g. "t2f train") as the holder's command. It
// never waits: when another process holds the lock it returns a *HeldError
// naming that process.
func Acquire(dir, what string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	path := filepath.Join(dir, Name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 512)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Dir: dir, Holder: strings.TrimSpace(string(b[:n]))}
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	line := fmt.Sprintf("pid %d on %s (%s, since %s)\n", os.Getpid(), host, what, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(line), 0) // the description is informative only
	}
	return &Lock{f: f}, nil
}

// Release unlocks the directory. It is safe to call on a nil Lock and more
// than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	return err
}
