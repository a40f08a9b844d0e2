package dirlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// file but not the lock. The holder is this test binary, re-run as a child.
func TestKilledHolderFreesLock(t *testing.T) {
	if dir := os.Getenv("DIRLOCK_TEST_HOLD"); dir != "" {
		if _, err := Acquire(dir, "the killed holder"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderFreesLock$")
	cmd.Env = append(os.Environ(), "DIRLOCK_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", line)
	}
	if _, err := Acquire(dir, "probe"); err == nil || !strings.Contains(err.Error(), "the killed holder") {
		t.Fatalf("while the child holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "t2f train")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}
