package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
)

// toyBackend is the CPU backend in the precision cfg asks for.
func toyBackend(t *testing.T, cfg Config) *cpu.Backend {
	t.Helper()
	be, err := cpu.NewPrecision(cfg.Threads, backend.Precision(cfg.Precision))
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// TestBF16ResumeEqualsUninterrupted: a bf16 run interrupted and resumed ends
// bit for bit where the uninterrupted one does, records its precision in
// config.yaml and epochs.csv, and really differs from the fp32 run.
func TestBF16ResumeEqualsUninterrupted(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 2
	cfg.Precision = string(backend.BF16)
	whole := t.TempDir()
	sum, err := runToy(t, cfg, whole, false, -1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.LastValAcc < 0.9 {
		t.Errorf("bf16 validation accuracy %.3f on a separable toy set, want ≥ 0.9", sum.LastValAcc)
	}
	parts := t.TempDir()
	for i, stop := range []int{4, 9, -1} {
		if _, err := runToy(t, cfg, parts, i > 0, stop); stop > 0 && !errors.Is(err, ErrInterrupted) || stop < 0 && err != nil {
			t.Fatalf("part %d (stop at step %d): %v", i, stop, err)
		}
	}
	sameTensors(t, filepath.Join(whole, LastFile), filepath.Join(parts, LastFile))
	sameTensors(t, filepath.Join(whole, StateFile), filepath.Join(parts, StateFile))

	got, err := ReadConfig(filepath.Join(parts, ConfigFile))
	if err != nil || got.Precision != "bf16" {
		t.Errorf("config.yaml precision %q (%v), want bf16", got.Precision, err)
	}
	log, err := readEpochLog(filepath.Join(parts, EpochsFile))
	if err != nil || len(log) != 2 || log[0].Precision != "bf16" || log[1].Precision != "bf16" {
		t.Errorf("epochs.csv %+v (%v), want 2 rows with precision bf16", log, err)
	}

	fp := toyConfig()
	fp.Epochs = 2
	fp32Dir := t.TempDir()
	if _, err := runToy(t, fp, fp32Dir, false, -1); err != nil {
		t.Fatal(err)
	}
	a, b := tensorsOf(t, filepath.Join(whole, LastFile)), tensorsOf(t, filepath.Join(fp32Dir, LastFile))
	if bytes.Equal(a["backbone.block1.0.weight"], b["backbone.block1.0.weight"]) {
		t.Error("bf16 and fp32 runs end with identical weights: the bf16 products were not used")
	}
}

// TestPrecisionMismatch: the backend must compute in the configured
// precision, and a run resumes only in its own precision.
func TestPrecisionMismatch(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 1
	cfg.Precision = "bf16"
	s := split("toy", newToyData(32, 1))
	_, err := Run(context.Background(), cfg, s, s, t.TempDir(), Options{Backend: cpu.New(1)})
	if err == nil || !strings.Contains(err.Error(), "precision bf16") {
		t.Fatalf("bf16 config on an fp32 backend: error %v", err)
	}
	dir := t.TempDir()
	fp := toyConfig()
	fp.Epochs = 1
	if _, err := runToy(t, fp, dir, false, 2); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	if _, err := runToy(t, cfg, dir, true, -1); err == nil || !strings.Contains(err.Error(), "different run") {
		t.Fatalf("resuming an fp32 run in bf16: error %v", err)
	}
	cfg.Precision = "fp16"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Fatalf("precision fp16: error %v", err)
	}
}

// TestOldRunFiles: a config.yaml without a precision is fp32, and an
// epochs.csv without the precision column still reads.
func TestOldRunFiles(t *testing.T) {
	c, err := ParseConfig([]byte("model: lenet\n"), "old.yaml")
	if err != nil || c.Precision != "fp32" {
		t.Fatalf("config without precision: %q, %v; want fp32", c.Precision, err)
	}
	path := filepath.Join(t.TempDir(), EpochsFile)
	old := strings.Join(epochHeader[:len(epochHeader)-1], ",") + "\n1,6,0.05,0.5,0.9,0.95,3.5,100,0.1,1.5,true,0,0123456789ab\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := readEpochLog(path)
	if err != nil || len(recs) != 1 || recs[0].Precision != "" || recs[0].Code != "0123456789ab" || recs[0].ValAcc != 0.95 {
		t.Fatalf("old epochs.csv: %+v, %v", recs, err)
	}
}
