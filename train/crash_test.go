package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/internal/dirlock"
)

// TestSecondRunOnOneDirRefused: while one process holds the run directory,
// another Run on it fails naming the holder and writes nothing.
func TestSecondRunOnOneDirRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := dirlock.Acquire(dir, "t2f train (the first run)")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = runToy(t, toyConfig(), dir, false, -1)
	var held *dirlock.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "the first run") {
		t.Fatalf("second run: %v, want a HeldError naming the holder", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		t.Error("the refused run wrote config.yaml")
	}
}

// TestForeignDirRefused: a non-empty directory that holds no run is not
// overwritten.
func TestForeignDirRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, BestFile), []byte("someone else's weights"), 0o644)
	_, err := runToy(t, toyConfig(), dir, false, -1)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("run on a foreign directory: %v, want a not-empty error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != "someone else's weights" {
		t.Error("best.safetensors was overwritten")
	}
}

// TestCrashWindowsResume simulates a kill at each point of the save
// sequence (best → epochs.csv → state → last) and before the first save;
// every one must resume to the uninterrupted run's weights.
func TestCrashWindowsResume(t *testing.T) {
	cfg := toyConfig()
	whole := t.TempDir()
	if _, err := runToy(t, cfg, whole, false, -1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, dir, before string)
	}{
		{"killed in epoch 1 before any save", func(t *testing.T, dir, _ string) {
			for _, f := range []string{StateFile, LastFile, BestFile, EpochsFile} {
				os.Remove(filepath.Join(dir, f))
			}
		}},
		{"killed between the state and last renames", func(t *testing.T, dir, before string) {
			copyFile(t, filepath.Join(before, LastFile), filepath.Join(dir, LastFile))
		}},
		{"killed between epochs.csv and state", func(t *testing.T, dir, before string) {
			copyFile(t, filepath.Join(before, StateFile), filepath.Join(dir, StateFile))
			copyFile(t, filepath.Join(before, LastFile), filepath.Join(dir, LastFile))
		}},
		{"killed with a temporary file left", func(t *testing.T, dir, _ string) {
			os.WriteFile(filepath.Join(dir, "."+StateFile+".tmp123"), []byte("partial"), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, before := t.TempDir(), t.TempDir()
			// Epoch 1 ends at step 6; stop at step 7, keep a copy of the files,
			// then stop again at step 10.
			if _, err := runToy(t, cfg, dir, false, 7); !errors.Is(err, ErrInterrupted) {
				t.Fatal(err)
			}
			for _, f := range []string{StateFile, LastFile, BestFile, EpochsFile, ConfigFile} {
				copyFile(t, filepath.Join(dir, f), filepath.Join(before, f))
			}
			if _, err := runToy(t, cfg, dir, true, 10); !errors.Is(err, ErrInterrupted) {
				t.Fatal(err)
			}
			tc.crash(t, dir, before)
			if _, err := runToy(t, cfg, dir, true, -1); err != nil {
				t.Fatalf("resume after the crash: %v", err)
			}
			sameTensors(t, filepath.Join(whole, LastFile), filepath.Join(dir, LastFile))
			sameTensors(t, filepath.Join(whole, BestFile), filepath.Join(dir, BestFile))
			noTempFiles(t, dir)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResumeRefusesBadPosition: a state file whose position cannot come
// from this run (epoch −1, a step count that does not add up) is an error
// saying how to restart, never a panic.
func TestResumeRefusesBadPosition(t *testing.T) {
	cfg := toyConfig()
	for _, tc := range []struct{ key, value string }{{"epoch", "-1"}, {"batch", "-3"}, {"step", "999"}, {"epoch", "99"}, {"correct", "-1"}} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := runToy(t, cfg, dir, false, 4); !errors.Is(err, ErrInterrupted) {
				t.Fatal(err)
			}
			path := filepath.Join(dir, StateFile)
			f, err := safetensors.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Metadata[tc.key] = tc.value
			if err := safetensors.Write(path, f.Tensors(), f.Metadata); err != nil {
				t.Fatal(err)
			}
			_, err = runToy(t, cfg, dir, true, -1)
			if err == nil || !strings.Contains(err.Error(), "delete "+path) {
				t.Fatalf("resume from %s=%s: %v, want an error saying how to restart", tc.key, tc.value, err)
			}
		})
	}
}

// TestKillAfterFinalStateRename: a kill between the last epoch's state and
// last renames leaves an old last.safetensors; --resume has no epoch left
// to run and must still bring last.safetensors up to the state.
func TestKillAfterFinalStateRename(t *testing.T) {
	cfg := toyConfig()
	whole, dir := t.TempDir(), t.TempDir()
	if _, err := runToy(t, cfg, whole, false, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := runToy(t, cfg, dir, false, 14); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), LastFile)
	copyFile(t, filepath.Join(dir, LastFile), old)
	if _, err := runToy(t, cfg, dir, true, -1); err != nil {
		t.Fatal(err)
	}
	copyFile(t, old, filepath.Join(dir, LastFile)) // the kill: state is final, last is not
	if _, err := runToy(t, cfg, dir, true, -1); err != nil {
		t.Fatalf("resume of a finished run: %v", err)
	}
	sameTensors(t, filepath.Join(whole, LastFile), filepath.Join(dir, LastFile))
}
