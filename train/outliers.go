package train

import (
	"context"
	"fmt"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/train/nn"
)

// outlierSeedSalt keys the outlier loader's shuffle and augmentation apart
// from the training split's under the same Config.Seed.
const outlierSeedSalt = 0x6f75746c69657273 // "outliers"

// outlierStream hands Outlier Exposure one outlier batch per training step,
// as OpenOOD's OETrainer draws them: each training epoch restarts the
// outlier loader, which restarts again whenever it runs dry. Pass p of
// training epoch e (p = batch / per) is loader epoch e·passes + p, so the
// batch of every (epoch, batch) position is fixed by the seed alone and a
// resumed run draws exactly the batches of an uninterrupted one.
type outlierStream struct {
	l      *augment.Loader
	per    int // outlier batches per pass
	passes int // passes per training epoch: ⌈training batches / per⌉
	epoch  int // training epoch
	pass   int // pass of it running in it
	it     *augment.Iter
}

func newOutlierStream(split Split, shape augment.Shape, tf augment.Transform, cfg Config, trainBatches int) (*outlierStream, error) {
	if split.Data == nil || split.Data.Len() == 0 {
		return nil, fmt.Errorf("train: outlier split %s is empty", split.Name)
	}
	if split.Shape != shape {
		return nil, fmt.Errorf("train: outlier split %s holds %v images, training split %v; build it with the same --size and --channels", split.Name, split.Shape, shape)
	}
	for i := range split.Data.Len() {
		if l := split.Data.Label(i); l != nn.LabelOutlier {
			return nil, fmt.Errorf("train: outlier split %s row %d has label %d; outliers carry label %d (build them with --label-ood)", split.Name, i, l, nn.LabelOutlier)
		}
	}
	l, err := augment.NewLoader(split.Data, augment.Config{
		Shape: shape, Transform: tf, BatchSize: cfg.outlierBatch(), Shuffle: true, Seed: cfg.Seed ^ outlierSeedSalt, Workers: cfg.Workers,
	})
	if err != nil {
		return nil, fmt.Errorf("train: outliers %s: %w", split.Name, err)
	}
	per := l.BatchesPerEpoch()
	return &outlierStream{l: l, per: per, passes: (trainBatches + per - 1) / per}, nil
}

// start positions the stream at batch `batch` of training epoch `epoch`.
func (s *outlierStream) start(ctx context.Context, epoch, batch int) error {
	s.close()
	s.epoch, s.pass = epoch, batch/s.per
	it, err := s.l.Start(ctx, epoch*s.passes+s.pass, batch%s.per)
	if err != nil {
		return fmt.Errorf("outliers: %w", err)
	}
	s.it = it
	return nil
}

// next returns the outlier batch of the next training step; hand it back
// with release.
func (s *outlierStream) next(ctx context.Context) (*augment.Batch, error) {
	if s.it.Pos() == s.per { // this pass ran dry: the next one
		if err := s.it.Close(); err != nil {
			return nil, fmt.Errorf("outliers: %w", err)
		}
		s.it = nil
		s.pass++
		it, err := s.l.Start(ctx, s.epoch*s.passes+s.pass, 0)
		if err != nil {
			return nil, fmt.Errorf("outliers: %w", err)
		}
		s.it = it
	}
	b, err := s.it.Next()
	if err != nil {
		return nil, fmt.Errorf("outliers: %w", err)
	}
	return b, nil
}

func (s *outlierStream) release(b *augment.Batch) { s.l.Release(b) }

// close stops the running pass, if any.
func (s *outlierStream) close() error {
	if s.it == nil {
		return nil
	}
	err := s.it.Close()
	s.it = nil
	return err
}
