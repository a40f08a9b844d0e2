package features

import (
	"context"
	"fmt"
)

// eachBatch loads src in batches of bs images of per values and calls fn
// with each (x, ids and labels sliced to the batch's n rows); what names
// the work in the load error ("features: extra"). progress, when set, is
// told before the first batch and after each; ctx is checked between
// batches.
func eachBatch(ctx context.Context, src Source, bs, per int, progress func(done, total int), what string,
	fn func(start, n int, x []float32, ids []int64, labels []int32) error) error {
	total := src.Len()
	x := make([]float32, bs*per)
	ids, labels := make([]int64, bs), make([]int32, bs)
	if progress != nil {
		progress(0, total)
	}
	for start := 0; start < total; start += bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(bs, total-start)
		if err := src.Load(start, x[:n*per], ids[:n], labels[:n]); err != nil {
			return fmt.Errorf("%s: load rows %d..%d: %w", what, start, start+n-1, err)
		}
		if err := fn(start, n, x[:n*per], ids[:n], labels[:n]); err != nil {
			return err
		}
		if progress != nil {
			progress(start+n, total)
		}
	}
	return nil
}
