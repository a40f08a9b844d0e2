package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/t2f/t2f/train/nn"
)

// DivergedFile marks a run whose weights diverged (NaN or Inf in the
// activations, loss or gradient). The run stops there; resuming it would
// replay the same steps and diverge again, so a plan of many runs (the
// demo, the replication) leaves it out of its tables and says so.
const DivergedFile = "diverged.json"

// maxDivergedBytes bounds the read of a DivergedFile (a few hundred bytes
// when t2f wrote it).
const maxDivergedBytes = 64 << 10

// Divergence is the content of DivergedFile.
type Divergence struct {
	Epoch        int    `json:"epoch"`          // epoch of the failed step, from 1
	Step         int    `json:"step"`           // the failed step, from 1
	LastGoodStep int    `json:"last_good_step"` // step of last.safetensors; 0 when none was saved
	Error        string `json:"error"`          // the error that stopped the run
	Code         string `json:"code"`           // the t2f build that ran the step
}

// String is the one-line account used in logs and reports.
func (d Divergence) String() string {
	return fmt.Sprintf("diverged at step %d (epoch %d): %s", d.Step, d.Epoch, d.Error)
}

// ReadDivergence reads dir's DivergedFile; ok is false when the run has
// not diverged (no such file).
func ReadDivergence(dir string) (d Divergence, ok bool, err error) {
	path := filepath.Join(dir, DivergedFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Divergence{}, false, nil
	}
	if err != nil {
		return Divergence{}, false, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDivergedBytes+1))
	if err != nil {
		return Divergence{}, false, fmt.Errorf("train: %s: %w", path, err)
	}
	if len(data) > maxDivergedBytes {
		return Divergence{}, false, fmt.Errorf("train: %s: larger than %d bytes; not a file t2f wrote", path, maxDivergedBytes)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return Divergence{}, false, fmt.Errorf("train: %s: %w", path, err)
	}
	if d.Epoch < 1 || d.Step < 1 || d.LastGoodStep < 0 || d.LastGoodStep >= d.Step {
		return Divergence{}, false, fmt.Errorf("train: %s: epoch %d, step %d, last good step %d: not a divergence t2f records", path, d.Epoch, d.Step, d.LastGoodStep)
	}
	return d, true, nil
}

// recordDivergence writes DivergedFile when err is a divergence; with a
// nil err it removes a stale one (a run that starts or resumes).
func (r *runner) recordDivergence(err error) error {
	path := filepath.Join(r.dir, DivergedFile)
	if err == nil {
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			return fmt.Errorf("train: %w", rmErr)
		}
		return nil
	}
	if !errors.Is(err, nn.ErrDiverged) {
		return nil
	}
	step := r.pos.step + 1 // a training step failed
	if r.pos.batch >= r.batches {
		step = r.pos.step // the validation after the epoch's last step found it
	}
	data, jerr := json.MarshalIndent(Divergence{
		Epoch: r.pos.epoch + 1, Step: step, LastGoodStep: r.savedStep, Error: err.Error(), Code: r.cfg.Code,
	}, "", "  ")
	if jerr != nil {
		return fmt.Errorf("train: %w", jerr)
	}
	return writeFileAtomic(path, append(data, '\n'))
}
