// Package crashpoint marks the moments around every rename that publishes a
// file, so the kill test (cmd/t2f kill_test.go) can SIGKILL a process
// exactly there and check that every file under a final name is whole and
// that a rerun or --resume ends where an uninterrupted run ends.
//
// Hit does nothing unless a test binary installed a hook with SetHook; the
// t2f binary never does, so users cannot reach it. Packages that rename
// files into place (internal/atomicfile, shards) call Hit; only tests call
// SetHook.
package crashpoint

import "sync/atomic"

var hook atomic.Pointer[func(label string)]

// Hit reports the crash point label to the installed hook, if any.
func Hit(label string) {
	if h := hook.Load(); h != nil {
		(*h)(label)
	}
}

// SetHook installs h (nil removes it). For tests only.
func SetHook(h func(label string)) {
	if h == nil {
		hook.Store(nil)
		return
	}
	hook.Store(&h)
}
