package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/internal/dirlock"
	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/nn"
)

// Files of a run directory.
const (
	ConfigFile = "config.yaml"
	LastFile   = "last.safetensors"
	BestFile   = "best.safetensors"
	StateFile  = "state.safetensors"
	EpochsFile = "epochs.csv"
)

// ErrInterrupted is returned (wrapping the context's error) when the context
// is cancelled: the run directory then holds a resumable state.
var ErrInterrupted = errors.New("train: interrupted")

// Split is one dataset split the trainer reads.
type Split struct {
	Name    string          // shown in errors, e.g. the shard directory
	Dataset string          // dataset name (picks the normalisation when it is NormalizationAuto)
	Data    augment.Dataset // rows of Shape-sized uint8 HWC images
	Shape   augment.Shape   // stored image shape
	Classes int             // number of classes the labels index
}

// Progress is reported after every training step.
type Progress struct {
	Epoch, Epochs  int     // current epoch, from 1
	Batch, Batches int     // batches done in this epoch, batches per epoch
	Step, Steps    int     // steps done in the run, total steps
	Loss, Acc      float64 // running means over this epoch so far
	LR             float64 // learning rate of the last step
	ImagesPerSec   float64 // this epoch so far
}

// Hooks receive progress; nil hooks are skipped. They run on the training
// goroutine, so keep them cheap.
type Hooks struct {
	Step  func(Progress)
	Epoch func(EpochRecord)
	// Init receives what was loaded from Config.Init when a fresh run
	// starts from pretrained weights (not called on resume).
	Init func(nn.PretrainedReport)
}

// Options are the explicit dependencies of Run.
type Options struct {
	Backend backend.Backend // where the model computes (required)
	Resume  bool            // continue the run in the directory instead of refusing it
	Hooks   Hooks
	// Outliers is the auxiliary outlier split Outlier Exposure draws a
	// batch from at every step (Config.Loss "oe"; every label −1, images of
	// the training split's shape). Other losses ignore it.
	Outliers *Split
}

// Summary describes a finished (or interrupted) run.
type Summary struct {
	Epochs     int     // epochs completed
	Steps      int     // steps completed
	BestEpoch  int     // epoch of best.safetensors (from 1)
	BestValAcc float64 // its validation accuracy
	LastValAcc float64
}

// position is the resumable training position, stored in state.safetensors.
type position struct {
	epoch, batch, step int     // next epoch (from 0), next batch in it, steps done
	lossSum            float64 // Σ loss·n over the epoch's finished batches
	correct, seen      int     // training predictions over those batches
	bestAcc            float64 // best validation accuracy so far (−1: none)
	bestEpoch          int
}

func (p position) meta() map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return map[string]string{
		"epoch": strconv.Itoa(p.epoch), "batch": strconv.Itoa(p.batch), "step": strconv.Itoa(p.step),
		"loss_sum": f(p.lossSum), "correct": strconv.Itoa(p.correct), "seen": strconv.Itoa(p.seen),
		"best_acc": f(p.bestAcc), "best_epoch": strconv.Itoa(p.bestEpoch),
	}
}

func parsePosition(md map[string]string) (position, error) {
	var p position
	var errs []error
	i := func(k string) int {
		v, err := strconv.Atoi(md[k])
		errs = append(errs, err)
		return v
	}
	f := func(k string) float64 {
		v, err := strconv.ParseFloat(md[k], 64)
		errs = append(errs, err)
		return v
	}
	p.epoch, p.batch, p.step = i("epoch"), i("batch"), i("step")
	p.lossSum, p.correct, p.seen = f("loss_sum"), i("correct"), i("seen")
	p.bestAcc, p.bestEpoch = f("best_acc"), i("best_epoch")
	return p, errors.Join(errs...)
}

// check refuses a position this run cannot have reached: negative counts,
// beyond the configured epochs, or a step count that does not match.
func (p position) check(epochs, batches int) error {
	switch {
	case p.epoch < 0 || p.epoch > epochs || p.batch < 0 || p.batch > batches || (p.epoch == epochs && p.batch != 0):
		return fmt.Errorf("position epoch %d batch %d does not fit %d epochs of %d batches", p.epoch, p.batch, epochs, batches)
	case p.step != p.epoch*batches+p.batch:
		return fmt.Errorf("position step %d, want epoch·batches + batch = %d", p.step, p.epoch*batches+p.batch)
	case p.seen < 0 || p.correct < 0 || p.correct > p.seen || p.bestEpoch < 0 || p.bestEpoch > p.epoch:
		return fmt.Errorf("position counts seen %d correct %d best epoch %d out of range", p.seen, p.correct, p.bestEpoch)
	}
	return nil
}

// Run trains a model as cfg says on trainSet, selecting on valSet, and keeps
// its state in runDir (see the package comment). Cancelling ctx stops at the
// next step boundary, saves a resumable state and returns an error wrapping
// ErrInterrupted.
func Run(ctx context.Context, cfg Config, trainSet, valSet Split, runDir string, opts Options) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if opts.Backend == nil {
		return Summary{}, errors.New("train: no backend")
	}
	if p := opts.Backend.Precision(); string(p) != cfg.Precision {
		return Summary{}, fmt.Errorf("train: config precision %s, but the %s backend computes in %s", cfg.Precision, opts.Backend.Name(), p)
	}
	if err := checkSplits(cfg, trainSet, valSet); err != nil {
		return Summary{}, err
	}
	if cfg.Normalization == NormalizationAuto {
		cfg.Normalization = NormalizationFor(trainSet.Dataset)
	}
	shape := trainSet.Shape
	inC := cfg.InChannels
	if inC == 0 {
		inC = shape.C
	}
	norm, _ := augment.Preset(cfg.Normalization) // validated
	var tf augment.Transform
	size := shape.H
	switch cfg.Augment {
	case AugmentCrop:
		tf = augment.CropTransform(0, norm)
		tf.Padding = cfg.Padding
	case AugmentResizedCrop:
		size = resizedCropSize
		tf = augment.ResizedCropTransform(size, norm)
	}
	tf.NoFlip = cfg.NoFlip
	tf.OutChannels = inC
	evalTF := augment.TestTransform(norm)
	evalTF.OutChannels = inC

	model, err := nn.New(opts.Backend, nn.Config{
		Arch: cfg.Model, Width: cfg.Width, InChannels: inC, ImageSize: size,
		Classes: trainSet.Classes, Head: cfg.Head, Tau: float32(cfg.Tau),
	}, cfg.Seed)
	if err != nil {
		return Summary{}, fmt.Errorf("train: model for %s (%v images, %d classes): %w", trainSet.Name, shape, trainSet.Classes, err)
	}
	var outliers *outlierStream
	if cfg.Loss == LossOE {
		if opts.Outliers == nil {
			return Summary{}, fmt.Errorf("train: loss oe needs an outlier split (config outliers = %q)", cfg.Outliers)
		}
		trainBatches := (trainSet.Data.Len() + cfg.BatchSize - 1) / cfg.BatchSize // the loader's, drop_last=False
		if outliers, err = newOutlierStream(*opts.Outliers, shape, tf, cfg, trainBatches); err != nil {
			return Summary{}, err
		}
	}
	// A run killed before its first save has a config.yaml and no state:
	// --resume starts it again from step 0, which ends exactly where an
	// uninterrupted run ends.
	restart := opts.Resume && !exists(filepath.Join(runDir, StateFile))
	var initMeta map[string]string
	if cfg.Init != "" && (!opts.Resume || restart) {
		// Before the run directory is written: a bad file leaves nothing behind.
		rep, err := model.LoadPretrained(cfg.Init)
		if err != nil {
			return Summary{}, fmt.Errorf("train: init: %w", err)
		}
		if initMeta, err = initMetadata(cfg.Init); err != nil {
			return Summary{}, err
		}
		if opts.Hooks.Init != nil {
			opts.Hooks.Init(rep)
		}
	}
	// The run directory is locked for the whole run: a second process on
	// the same directory is refused instead of mixing its files with ours.
	lock, err := dirlock.Acquire(runDir, "t2f train")
	if err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	defer lock.Release()
	if err := prepareRunDir(runDir, cfg, opts.Resume); err != nil {
		return Summary{}, err
	}
	opt, err := nn.NewSGD(model, nn.SGDConfig{Momentum: float32(cfg.Momentum), WeightDecay: float32(cfg.WeightDecay), Nesterov: cfg.Nesterov})
	if err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	loader, err := augment.NewLoader(trainSet.Data, augment.Config{
		Shape: shape, Transform: tf, BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, Workers: cfg.Workers,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("train: %s: %w", trainSet.Name, err)
	}
	valLoader, err := augment.NewLoader(valSet.Data, augment.Config{
		Shape: valSet.Shape, Transform: evalTF, BatchSize: 200, Workers: cfg.Workers,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("train: %s: %w", valSet.Name, err)
	}

	r := &runner{
		cfg: cfg, dir: runDir, model: model, opt: opt, loader: loader, valLoader: valLoader, hooks: opts.Hooks,
		batches: loader.BatchesPerEpoch(), pos: position{bestAcc: -1}, initMeta: initMeta, outliers: outliers,
	}
	r.steps = cfg.Epochs * r.batches
	r.warmup = int(math.Round(cfg.WarmupEpochs * float64(r.batches)))
	if opts.Resume && !restart {
		if err := r.restore(); err != nil {
			return Summary{}, err
		}
	}
	return r.loop(ctx)
}

// resizedCropSize is the side of the "resized_crop" training crops and so
// the model's input (OpenOOD's RandomResizedCrop(224)).
const resizedCropSize = 224

// checkSplits refuses data the model cannot be trained on, before any work.
// With "resized_crop" the training images may be larger than the model's
// 224×224 input (RandomResizedCrop samples from the stored image, e.g. a
// 256×256 one), while the validation images are the model's input (built
// with the test transform, Resize(256) → CenterCrop(224)); otherwise both
// splits hold images of one shape.
func checkSplits(cfg Config, trainSet, valSet Split) error {
	for _, s := range []Split{trainSet, valSet} {
		if s.Data == nil || s.Data.Len() == 0 {
			return fmt.Errorf("train: split %s is empty", s.Name)
		}
		if s.Classes < 1 {
			return fmt.Errorf("train: split %s has %d classes; a training split needs class names in its metadata", s.Name, s.Classes)
		}
		if s.Shape.H != s.Shape.W {
			return fmt.Errorf("train: split %s holds %v images; the models need square inputs", s.Name, s.Shape)
		}
		for i := range s.Data.Len() {
			if l := s.Data.Label(i); l < 0 || int(l) >= trainSet.Classes {
				return fmt.Errorf("train: split %s row %d has label %d, outside the %d classes [0, %d)", s.Name, i, l, trainSet.Classes, trainSet.Classes)
			}
		}
	}
	if cfg.Augment == AugmentResizedCrop {
		if want := (augment.Shape{H: resizedCropSize, W: resizedCropSize, C: trainSet.Shape.C}); valSet.Shape != want {
			return fmt.Errorf("train: validation split %s holds %v images; with resized_crop augmentation the model takes %v (build it with --resize 256 --size 224)", valSet.Name, valSet.Shape, want)
		}
	} else if trainSet.Shape != valSet.Shape {
		return fmt.Errorf("train: validation split %s holds %v images, training split %s holds %v", valSet.Name, valSet.Shape, trainSet.Name, trainSet.Shape)
	}
	if trainSet.Classes != valSet.Classes {
		return fmt.Errorf("train: validation split %s has %d classes, training split %s has %d", valSet.Name, valSet.Classes, trainSet.Name, trainSet.Classes)
	}
	return nil
}

// prepareRunDir creates the run directory and its config.yaml, or checks
// that an existing one holds this very run when resuming.
func prepareRunDir(dir string, cfg Config, resume bool) error {
	path := filepath.Join(dir, ConfigFile)
	old, err := readConfig(path)
	switch {
	case err == nil && !resume:
		return fmt.Errorf("train: %s already holds a run (%s); pass --resume to continue it, or choose another output directory", dir, ConfigFile)
	case err == nil:
		if err := sameRun(old, cfg); err != nil {
			return fmt.Errorf("%w; resume it with the same settings", err)
		}
		cfg.Code = old.Code                                 // the build that started the run
		if err := atomicfile.RemoveTemps(dir); err != nil { // left by a killed run
			return fmt.Errorf("train: %w", err)
		}
		return writeConfig(path, cfg) // execution settings may have changed
	case !errors.Is(err, os.ErrNotExist):
		return err
	case resume:
		return fmt.Errorf("train: --resume: %s holds no run to resume (no %s); start it without --resume", dir, ConfigFile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: create run directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("train: run directory: %w", err)
	}
	for _, e := range ents {
		if e.Name() != dirlock.Name && !atomicfile.IsTemp(e.Name()) {
			return fmt.Errorf("train: --out %s is not empty and holds no t2f run (found %q); choose an empty or new directory", dir, e.Name())
		}
	}
	return writeConfig(path, cfg)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

type runner struct {
	cfg               Config
	dir               string
	model             *nn.Model
	opt               *nn.SGD
	loader, valLoader *augment.Loader
	hooks             Hooks
	batches           int
	steps, warmup     int
	pos               position
	log               []EpochRecord
	initMeta          map[string]string // MetaInit*, copied into every checkpoint
	logits            []float32         // host copy of a batch's logits
	feats             []float32
	savedStep         int            // step of the last saved last.safetensors
	outliers          *outlierStream // Outlier Exposure's batches (loss oe)
	oeIn              []float32      // an OE step's [ID; outliers] input
	oeLabels          []int32        // and its labels (outliers: −1)
}

// restore loads the model, the optimiser and the position from
// state.safetensors (older runs: the model from last.safetensors).
func (r *runner) restore() error {
	state := filepath.Join(r.dir, StateFile)
	f, err := safetensors.Read(state)
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	isModel := func(name string) bool { return strings.HasPrefix(name, stateModelPrefix) }
	md, err := r.opt.LoadStateFile(f, isModel)
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	if r.pos, err = parsePosition(md); err != nil {
		return fmt.Errorf("train: resume: %s: bad training position: %w", state, err)
	}
	if err := r.pos.check(r.cfg.Epochs, r.batches); err != nil {
		return fmt.Errorf("train: resume: %s: %w; it was not written by this run: delete %s to start the run again from the beginning with --resume", state, err, state)
	}
	for k, key := range map[string]string{stateInit: MetaInit, stateInitSHA256: MetaInitSHA256} {
		if v, ok := md[k]; ok {
			if r.initMeta == nil {
				r.initMeta = map[string]string{}
			}
			r.initMeta[key] = v
		}
	}
	if err := r.restoreModel(f, isModel, md["step"]); err != nil {
		return err
	}
	// A kill between the state and last renames leaves last.safetensors a
	// save behind; the next save rewrites it, but after the final epoch
	// there is none, so bring it up to the state now.
	last := filepath.Join(r.dir, LastFile)
	if lf, err := safetensors.Read(last); err != nil || lf.Metadata[metaStep] != md["step"] {
		if err := r.model.Save(last, r.checkpointMeta(nil)); err != nil {
			return fmt.Errorf("train: resume: %w", err)
		}
	}
	if r.log, err = readEpochLog(filepath.Join(r.dir, EpochsFile)); err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	if len(r.log) > r.pos.epoch {
		r.log = r.log[:r.pos.epoch]
	}
	if len(r.log) < r.pos.epoch {
		return fmt.Errorf("train: resume: %s holds %d epochs, %s is at epoch %d; delete %s to start the run again from the beginning with --resume",
			EpochsFile, len(r.log), state, r.pos.epoch, state)
	}
	r.savedStep = r.pos.step
	return nil
}

// restoreModel loads the weights saved in the state file, or, for a state
// file without them (written before they were kept there), last.safetensors
// when it is at the same step.
func (r *runner) restoreModel(f *safetensors.File, isModel func(string) bool, step string) error {
	var ts []safetensors.Tensor
	for _, t := range f.Tensors() {
		if isModel(t.Name) {
			t.Name = strings.TrimPrefix(t.Name, stateModelPrefix)
			ts = append(ts, t)
		}
	}
	if len(ts) > 0 {
		data, err := safetensors.Marshal(ts, nil)
		if err == nil {
			var mf *safetensors.File
			if mf, err = safetensors.Parse(f.Source, data); err == nil {
				err = r.model.LoadStateDict(mf)
			}
		}
		if err != nil {
			return fmt.Errorf("train: resume: %s: %w", f.Source, err)
		}
		return nil
	}
	last := filepath.Join(r.dir, LastFile)
	lf, err := safetensors.Read(last)
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	if err := r.model.LoadStateDict(lf); err != nil {
		return fmt.Errorf("train: resume: %s: %w", last, err)
	}
	for _, k := range []string{MetaInit, MetaInitSHA256} {
		if v, ok := lf.Metadata[k]; ok {
			if r.initMeta == nil {
				r.initMeta = map[string]string{}
			}
			r.initMeta[k] = v
		}
	}
	if lf.Metadata[metaStep] != step {
		return fmt.Errorf("train: resume: %s is at step %s but %s at step %s; delete %s to start the run again from the beginning with --resume",
			last, lf.Metadata[metaStep], f.Source, step, f.Source)
	}
	return nil
}

// State file layout: the optimiser's tensors and metadata (nn.SGD.State),
// the position keys, the model's state dict under stateModelPrefix, and
// the pretrained-weights keys under stateInit*.
const (
	stateModelPrefix = "model/"
	stateInit        = "init"
	stateInitSHA256  = "init_sha256"
)

// metaStep is the checkpoint metadata key holding the steps done.
const metaStep = "t2f.train.step"

// Checkpoint metadata of a run started from pretrained weights
// (Config.Init): the path as configured and the file's SHA-256, so every
// best/last checkpoint records what it was fine-tuned from.
const (
	MetaInit       = "t2f.train.init"
	MetaInitSHA256 = "t2f.train.init_sha256"
)

// MetaMethod is the checkpoint metadata key naming the training method
// (Config.Method: ce, t2fnorm, logitnorm, oe, t2fnorm+oe), which tells
// feature extraction and scoring how the model is meant to be read.
const MetaMethod = "t2f.method"

// checkpointMeta is the metadata of a checkpoint at the current position
// plus extra.
func (r *runner) checkpointMeta(extra map[string]string) map[string]string {
	md := map[string]string{metaStep: strconv.Itoa(r.pos.step), "t2f.train.epoch": strconv.Itoa(r.pos.epoch), MetaMethod: r.cfg.Method()}
	for k, v := range r.initMeta {
		md[k] = v
	}
	for k, v := range extra {
		md[k] = v
	}
	return md
}

func (r *runner) summary() Summary {
	sum := Summary{Epochs: r.pos.epoch, Steps: r.pos.step, BestEpoch: r.pos.bestEpoch, BestValAcc: r.pos.bestAcc}
	if len(r.log) > 0 {
		sum.LastValAcc = r.log[len(r.log)-1].ValAcc
	}
	return sum
}

// save writes state.safetensors, then last.safetensors, at the current
// position. The state file alone is the resume point — one atomic file with
// the optimiser, the model and the position — so a kill at any moment
// leaves either the old or the new state, and a last.safetensors older than
// it is rewritten by the next save.
func (r *runner) save() error {
	md := r.pos.meta()
	for k, key := range map[string]string{stateInit: MetaInit, stateInitSHA256: MetaInitSHA256} {
		if v, ok := r.initMeta[key]; ok {
			md[k] = v
		}
	}
	ts, smd, err := r.opt.State(md)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	model, err := r.model.StateDict()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, t := range model {
		t.Name = stateModelPrefix + t.Name
		ts = append(ts, t)
	}
	if err := safetensors.Write(filepath.Join(r.dir, StateFile), ts, smd); err != nil {
		return fmt.Errorf("train: save state: %w", err)
	}
	if err := r.model.Save(filepath.Join(r.dir, LastFile), r.checkpointMeta(nil)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.savedStep = r.pos.step
	return nil
}

func (r *runner) loop(ctx context.Context) (Summary, error) {
	if err := r.recordDivergence(nil); err != nil { // a resumed run starts undiverged
		return r.summary(), err
	}
	for r.pos.epoch < r.cfg.Epochs {
		if err := r.epoch(ctx); err != nil {
			if derr := r.recordDivergence(err); derr != nil {
				err = fmt.Errorf("%w (recording it also failed: %v)", err, derr)
			}
			return r.summary(), err
		}
	}
	return r.summary(), nil
}

// epoch runs (the rest of) epoch r.pos.epoch, validates and saves.
func (r *runner) epoch(ctx context.Context) error {
	e := r.pos.epoch
	start := time.Now()
	rec := EpochRecord{Epoch: e + 1, ResumedAtBatch: r.pos.batch, Code: r.cfg.Code, Precision: r.cfg.Precision}
	if r.pos.batch < r.batches { // else only the validation was left to do
		if err := r.trainEpoch(ctx, start, &rec); err != nil {
			return err
		}
	}
	rec.ImagesPerSec /= time.Since(start).Seconds() // images → images/s
	valAcc, norm, err := r.validate(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r.interrupt(ctx)
		}
		return fmt.Errorf("train: epoch %d validation: %w", e+1, err)
	}
	rec.Step = r.pos.step
	rec.LR = r.cfg.StepLR(r.pos.step-1, r.steps, r.warmup)
	rec.TrainLoss = r.pos.lossSum / float64(r.pos.seen)
	rec.TrainAcc = float64(r.pos.correct) / float64(r.pos.seen)
	rec.ValAcc, rec.ValFeatureNorm = valAcc, norm
	rec.Duration = time.Since(start)
	r.pos = position{epoch: e + 1, step: r.pos.step, bestAcc: r.pos.bestAcc, bestEpoch: r.pos.bestEpoch}
	if valAcc >= r.pos.bestAcc { // OpenOOD keeps the later epoch on ties
		rec.Best = true
		r.pos.bestAcc, r.pos.bestEpoch = valAcc, e+1
		extra := r.checkpointMeta(map[string]string{"t2f.train.val_acc": strconv.FormatFloat(valAcc, 'g', -1, 64)})
		if err := r.model.Save(filepath.Join(r.dir, BestFile), extra); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	// The log goes first: a kill before the state is saved leaves a log one
	// epoch ahead, which resume trims.
	r.log = append(r.log, rec)
	if err := writeEpochLog(filepath.Join(r.dir, EpochsFile), r.log); err != nil {
		return err
	}
	if err := r.save(); err != nil {
		return err
	}
	if r.hooks.Epoch != nil {
		r.hooks.Epoch(rec)
	}
	return nil
}

// trainEpoch runs the remaining steps of the current epoch. It counts the
// images it trained on in rec.ImagesPerSec and the data wait in
// rec.DataWait.
func (r *runner) trainEpoch(ctx context.Context, start time.Time, rec *EpochRecord) error {
	e := r.pos.epoch
	it, err := r.loader.Start(ctx, e, r.pos.batch)
	if err != nil {
		return fmt.Errorf("train: epoch %d: %w", e+1, err)
	}
	defer it.Close()
	if r.outliers != nil {
		if err := r.outliers.start(ctx, e, r.pos.batch); err != nil {
			return fmt.Errorf("train: epoch %d: %w", e+1, err)
		}
		defer r.outliers.close()
	}
	for r.pos.batch < r.batches {
		if ctx.Err() != nil {
			return r.interrupt(ctx)
		}
		b, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return r.interrupt(ctx)
			}
			// A data error (e.g. a shard truncated while training): keep the
			// position reached, so the run resumes once the data is fixed.
			if serr := r.save(); serr != nil {
				return fmt.Errorf("train: epoch %d batch %d: %w (saving the state also failed: %v)", e+1, r.pos.batch+1, err, serr)
			}
			return fmt.Errorf("train: epoch %d batch %d: %w; the state at step %d is saved: fix the data and continue with --resume", e+1, r.pos.batch+1, err, r.pos.step)
		}
		var ub *augment.Batch
		if r.outliers != nil {
			if ub, err = r.outliers.next(ctx); err != nil {
				r.loader.Release(b)
				if ctx.Err() != nil {
					return r.interrupt(ctx)
				}
				return fmt.Errorf("train: epoch %d batch %d: %w", e+1, r.pos.batch+1, err)
			}
		}
		lr := r.cfg.StepLR(r.pos.step, r.steps, r.warmup)
		loss, correct, err := r.step(b, ub, lr)
		n := b.N
		r.loader.Release(b)
		if ub != nil {
			r.outliers.release(ub)
		}
		if err != nil {
			good := fmt.Sprintf("%s holds the last good state (step %d)", filepath.Join(r.dir, LastFile), r.savedStep)
			if r.savedStep == 0 {
				good = "no checkpoint had been saved yet"
			}
			return fmt.Errorf("train: step %d (epoch %d, batch %d) failed, so training stopped; %s: %w", r.pos.step+1, e+1, r.pos.batch+1, good, err)
		}
		r.pos.step++
		r.pos.batch++
		r.pos.lossSum += loss * float64(n)
		r.pos.correct += correct
		r.pos.seen += n
		rec.ImagesPerSec += float64(n)
		if r.hooks.Step != nil {
			r.hooks.Step(Progress{
				Epoch: e + 1, Epochs: r.cfg.Epochs, Batch: r.pos.batch, Batches: r.batches, Step: r.pos.step, Steps: r.steps,
				Loss: r.pos.lossSum / float64(r.pos.seen), Acc: float64(r.pos.correct) / float64(r.pos.seen), LR: lr,
				ImagesPerSec: rec.ImagesPerSec / time.Since(start).Seconds(),
			})
		}
	}
	rec.DataWait = it.Wait()
	if err := it.Close(); err != nil {
		return fmt.Errorf("train: epoch %d: %w", e+1, err)
	}
	if r.outliers != nil {
		if err := r.outliers.close(); err != nil {
			return fmt.Errorf("train: epoch %d: outliers: %w", e+1, err)
		}
	}
	return nil
}

// interrupt saves the position reached and reports the interruption.
func (r *runner) interrupt(ctx context.Context) error {
	if err := r.save(); err != nil {
		return fmt.Errorf("%w; saving the resumable state also failed: %w", ctx.Err(), err)
	}
	return fmt.Errorf("%w at epoch %d, batch %d of %d (step %d); resume with --resume: %w",
		ErrInterrupted, r.pos.epoch+1, r.pos.batch, r.batches, r.pos.step, ctx.Err())
}

// step runs one SGD step on b (and, for Outlier Exposure, the outlier
// batch ub, forwarded together with b as OpenOOD does: BatchNorm sees both)
// and returns the batch loss and the number of correct training predictions
// on b.
func (r *runner) step(b, ub *augment.Batch, lr float64) (loss float64, correct int, err error) {
	x := b.Data
	if ub != nil {
		r.oeIn = append(append(r.oeIn[:0], b.Data...), ub.Data...)
		r.oeLabels = append(r.oeLabels[:0], b.Labels...)
		for range ub.N {
			r.oeLabels = append(r.oeLabels, nn.LabelOutlier)
		}
		x = r.oeIn
	}
	out, err := r.model.ForwardHost(x, true)
	if err != nil {
		return 0, 0, err
	}
	var dlogits *backend.Tensor
	switch r.cfg.Loss {
	case LossLogitNorm:
		loss, dlogits, err = r.model.LogitNorm(b.Labels, r.cfg.LogitNormTau)
	case LossOE:
		loss, dlogits, err = r.model.OutlierExposure(r.oeLabels, r.cfg.LambdaOE)
	default:
		loss, dlogits, err = r.model.CrossEntropy(b.Labels)
	}
	if err != nil {
		return 0, 0, err
	}
	if err := r.model.Backward(dlogits); err != nil {
		return 0, 0, err
	}
	if err := r.opt.Step(float32(lr)); err != nil {
		return 0, 0, err
	}
	return loss, r.countCorrect(out.Logits, b.Labels), nil
}

func (r *runner) countCorrect(logits *backend.Tensor, labels []int32) int {
	k := logits.Shape()[1]
	r.logits = grow(r.logits, logits.Numel())
	r.model.Backend().Download(r.logits, logits)
	correct := 0
	for i, l := range labels {
		if argmax(r.logits[i*k:(i+1)*k]) == int(l) {
			correct++
		}
	}
	return correct
}

// validate returns the accuracy of the plain forward (eval mode) on the
// validation split and the mean ‖f‖ of its penultimate features.
func (r *runner) validate(ctx context.Context) (acc, meanNorm float64, err error) {
	it, err := r.valLoader.Start(ctx, 0, 0)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	var correct, seen int
	var normSum float64
	for range r.valLoader.BatchesPerEpoch() {
		b, err := it.Next()
		if err != nil {
			return 0, 0, err
		}
		out, err := r.model.ForwardHost(b.Data, false)
		if err != nil {
			r.valLoader.Release(b)
			return 0, 0, err
		}
		correct += r.countCorrect(out.Logits, b.Labels)
		d := out.Feature.Shape()[1]
		r.feats = grow(r.feats, out.Feature.Numel())
		r.model.Backend().Download(r.feats, out.Feature)
		for i := range b.N {
			var s float64
			for _, v := range r.feats[i*d : (i+1)*d] {
				s += float64(v) * float64(v)
			}
			normSum += math.Sqrt(s)
		}
		seen += b.N
		r.valLoader.Release(b)
	}
	return float64(correct) / float64(seen), normSum / float64(seen), it.Close()
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
