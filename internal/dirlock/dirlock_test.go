package dirlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecondHolderRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "run")
	l, err := Acquire(dir, "t2f train")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: a second open in this
	// process conflicts exactly as another process would.
	_, err = Acquire(dir, "t2f features")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: %v, want *HeldError", err)
	}
	if !strings.Contains(err.Error(), "t2f train") || !strings.Contains(err.Error(), "pid ") {
		t.Errorf("error %q does not name the holder", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir, "t2f features")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
	l2.Release() // twice is fine
}

// TestKilledHolderFreesLock: a holder killed with SIGKILL leaves the lock
// file but not the lock.
func TestKilledHolderFreesLock(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("flock", "--exclusive", "--close", filepath.Join(dir, Name), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("flock(1) not available: %v", err)
	}
	// Wait until the child holds it.
	for i := 0; ; i++ {
		l, err := Acquire(dir, "probe")
		if err != nil {
			break
		}
		l.Release()
		if i > 200 {
			cmd.Process.Kill()
			t.Fatal("child never took the lock")
		}
		exec.Command("sleep", "0.01").Run()
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "t2f train")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
	if _, err := os.Stat(filepath.Join(dir, Name)); err != nil {
		t.Errorf("lock file: %v", err)
	}
}
