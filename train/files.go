package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/train/backend"
)

// EpochRecord is one row of epochs.csv.
type EpochRecord struct {
	Epoch          int           // from 1
	Step           int           // steps done at the end of the epoch
	LR             float64       // learning rate of the epoch's last step
	TrainLoss      float64       // mean cross-entropy over the epoch's batches
	TrainAcc       float64       // training accuracy (augmented inputs, training forward)
	ValAcc         float64       // validation accuracy of the plain forward, eval mode
	ValFeatureNorm float64       // mean ‖f‖ of the validation features
	ImagesPerSec   float64       // training throughput (data + compute)
	DataWait       time.Duration // time the trainer waited for augmented batches
	Duration       time.Duration // wall time of the epoch, validation included
	Best           bool          // best.safetensors was written at this epoch
	ResumedAtBatch int           // > 0 when the epoch was resumed mid-way (timings cover the rest only)
	Code           string        // the t2f build that ran the epoch (provenance.Stamp's String)
	Precision      string        // the run's Config.Precision ("" in logs written before precisions existed)
}

// Collapsed reports a network whose validation features are all 0: every
// ReLU before the penultimate layer is dead (typically after a divergent
// step early in training), so the logits are the bias alone and no later
// step can revive it.
func (r EpochRecord) Collapsed() bool { return r.ValFeatureNorm == 0 }

var epochHeader = []string{"epoch", "step", "lr", "train_loss", "train_acc", "val_acc", "val_feature_norm", "images_per_s", "data_wait_s", "epoch_s", "best", "resumed_at_batch", "code", "precision"}

func writeEpochLog(path string, recs []EpochRecord) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	_ = w.Write(epochHeader)
	for _, r := range recs {
		_ = w.Write([]string{
			strconv.Itoa(r.Epoch), strconv.Itoa(r.Step), f(r.LR), f(r.TrainLoss), f(r.TrainAcc), f(r.ValAcc), f(r.ValFeatureNorm),
			f(r.ImagesPerSec), f(r.DataWait.Seconds()), f(r.Duration.Seconds()), strconv.FormatBool(r.Best), strconv.Itoa(r.ResumedAtBatch), r.Code, r.Precision,
		})
	}
	w.Flush()
	return writeFileAtomic(path, buf.Bytes())
}

// readEpochLog reads epochs.csv; a missing file is an empty log.
func readEpochLog(path string) ([]EpochRecord, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	var recs []EpochRecord
	for i, row := range rows {
		if i == 0 {
			continue
		}
		// Logs written before the code and precision columns have fewer fields.
		for len(row) >= len(epochHeader)-2 && len(row) < len(epochHeader) {
			row = append(row, "")
		}
		if len(row) != len(epochHeader) {
			return nil, fmt.Errorf("train: %s line %d: %d fields, want %d", path, i+1, len(row), len(epochHeader))
		}
		var errs []error
		n := func(s string) int { v, err := strconv.Atoi(s); errs = append(errs, err); return v }
		f := func(s string) float64 { v, err := strconv.ParseFloat(s, 64); errs = append(errs, err); return v }
		d := func(s string) time.Duration { return time.Duration(f(s) * float64(time.Second)) }
		best, err := strconv.ParseBool(row[10])
		errs = append(errs, err)
		recs = append(recs, EpochRecord{
			Epoch: n(row[0]), Step: n(row[1]), LR: f(row[2]), TrainLoss: f(row[3]), TrainAcc: f(row[4]), ValAcc: f(row[5]),
			ValFeatureNorm: f(row[6]), ImagesPerSec: f(row[7]), DataWait: d(row[8]), Duration: d(row[9]), Best: best, ResumedAtBatch: n(row[11]),
			Code: row[12], Precision: row[13],
		})
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
		}
	}
	return recs, nil
}

// ReadConfig reads a run's config.yaml.
func ReadConfig(path string) (Config, error) { return readConfig(path) }

func readConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data, path)
}

// ParseConfig parses YAML on top of Defaults: keys that are absent keep
// their default; unknown keys are an error (a typo must not silently train
// the default recipe). name is used in errors.
func ParseConfig(data []byte, name string) (Config, error) {
	c := Defaults()
	c.Precision = "" // a config.yaml written before precisions existed is fp32
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("train: config %s: %w", name, err)
	}
	if c.Precision == "" {
		c.Precision = string(backend.FP32)
	}
	return c, nil
}

func writeConfig(path string, c Config) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return writeFileAtomic(path, append([]byte("# t2f training run: the resolved configuration (defaults + config file + flags)\n"), data...))
}

// writeFileAtomic writes data so readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	return nil
}

// initMetadata is the checkpoint metadata naming the pretrained weights a
// run started from: the path as configured and the file's SHA-256.
func initMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: init: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("train: init: hash %s: %w", path, err)
	}
	return map[string]string{MetaInit: path, MetaInitSHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
