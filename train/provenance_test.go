package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The run records the build that started it in config.yaml and the build of
// every epoch in epochs.csv; a resume by another build keeps the first and
// names the second in the epochs it ran.
func TestRunRecordsTheCodeThatRanIt(t *testing.T) {
	cfg := toyConfig()
	cfg.Epochs = 2
	dir := t.TempDir()
	cfg.Code = "0123456789ab"
	if _, err := runToy(t, cfg, dir, false, 4); err == nil {
		t.Fatal("run stopped at step 4 returned no error")
	}
	cfg.Code = "ba9876543210-dirty"
	if _, err := runToy(t, cfg, dir, true, -1); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if got.Code != "0123456789ab" {
		t.Errorf("config.yaml code %q, want the starting build 0123456789ab", got.Code)
	}
	log, err := readEpochLog(filepath.Join(dir, EpochsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Code != "ba9876543210-dirty" || log[1].Code != "ba9876543210-dirty" {
		t.Errorf("epoch log codes %+v, want both epochs by ba9876543210-dirty (epoch 1 finished after the resume)", log)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, EpochsFile))
	if header, _, _ := strings.Cut(string(raw), "\n"); !strings.Contains(header+",", ",code,") {
		t.Errorf("epochs.csv header %q has no code column", header)
	}
}

// Logs written before the code column still read.
func TestEpochLogWithoutCodeColumnReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), EpochsFile)
	data := "epoch,step,lr,train_loss,train_acc,val_acc,val_feature_norm,images_per_s,data_wait_s,epoch_s,best,resumed_at_batch\n" +
		"1,10,0.1,2.3,0.1,0.2,3.5,100,0.01,1.5,true,0\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := readEpochLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Step != 10 || log[0].Code != "" || !log[0].Best {
		t.Errorf("read %+v, want one epoch of step 10, best, no code", log)
	}
}
