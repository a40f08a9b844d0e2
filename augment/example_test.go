package augment_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/t2f/t2f/augment"
)

// grey is a tiny in-memory dataset of 28×28 grey images.
type grey struct{ n int }

func (g grey) Len() int            { return g.n }
func (g grey) Image(i int) []uint8 { return make([]uint8, 28*28) }
func (g grey) Label(i int) int32   { return int32(i % 10) }

// One training epoch the way the trainer runs it: Start (at batch 0, or at k
// to resume), Next until io.EOF, Release every batch, read the data wait.
func ExampleLoader() {
	norm, _ := augment.Preset("mnist")
	tr := augment.CropTransform(0, norm) // flip + RandomCrop(28, padding 4)
	tr.OutChannels = 3                   // feed a 3-channel model: replicate grey
	l, err := augment.NewLoader(grey{300}, augment.Config{
		Shape: augment.Shape{H: 28, W: 28, C: 1}, Transform: tr,
		BatchSize: 128, Shuffle: true, Seed: 1, Workers: 2, Prefetch: 2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	it, err := l.Start(context.Background(), 0, 0) // epoch 0 from batch 0
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("batch %d: %d×%d×%d×%d, %d labels\n", b.Pos, b.N, b.C, b.H, b.W, len(b.Labels))
		l.Release(b)
	}
	_ = it.Wait() // time spent waiting for data this epoch
	// Output:
	// batch 0: 128×3×28×28, 128 labels
	// batch 1: 128×3×28×28, 128 labels
	// batch 2: 44×3×28×28, 44 labels
}
