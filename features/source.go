package features

import (
	"fmt"

	"github.com/t2f/t2f/augment"
)

// Images is what ShardSource needs from a dataset of stored images;
// *shards.Reader has these methods. Image(i) is H·W·C uint8 bytes in HWC
// order.
type Images interface {
	Len() int
	Image(i int) []uint8
	Label(i int) int32
	ID(i int) int64
}

// ShardSource is the Source of extraction: the images of one dataset split
// through the test-time transform (augment.KindTest: ToTensor and Normalize
// of the stored, already resized and centre-cropped pixels), in row order.
type ShardSource struct {
	imgs Images
	aug  *augment.Augmenter
}

// NewShardSource returns a Source over imgs with aug, which must be a test
// transform (extraction never augments). The Source owns aug: it is not used
// concurrently, as Extract calls Load from one goroutine.
func NewShardSource(imgs Images, aug *augment.Augmenter) (*ShardSource, error) {
	if k := aug.Transform().Kind; k != augment.KindTest {
		return nil, fmt.Errorf("features: extraction needs the test transform, got %v", k)
	}
	return &ShardSource{imgs: imgs, aug: aug}, nil
}

// Len is the number of images.
func (s *ShardSource) Len() int { return s.imgs.Len() }

// Shape is the transformed image shape.
func (s *ShardSource) Shape() (c, h, w int) { return s.aug.OutShape() }

// Load implements Source.
func (s *ShardSource) Load(start int, x []float32, ids []int64, labels []int32) error {
	c, h, w := s.aug.OutShape()
	per := c * h * w
	if len(ids) != len(labels) || len(x) != len(ids)*per || start < 0 || start+len(ids) > s.imgs.Len() {
		return fmt.Errorf("features: load %d rows from %d into %d values (%d×%d×%d each): want rows within [0, %d)",
			len(ids), start, len(x), c, h, w, s.imgs.Len())
	}
	for i := range ids {
		r := start + i
		if err := s.aug.Apply(x[i*per:(i+1)*per], s.imgs.Image(r), augment.Params{}); err != nil {
			return fmt.Errorf("features: row %d: %w", r, err)
		}
		ids[i], labels[i] = s.imgs.ID(r), s.imgs.Label(r)
	}
	return nil
}

// Labels returns the label of every row, without the transform (what
// TrainGramStats needs before its forward passes).
func (s *ShardSource) Labels() []int32 {
	out := make([]int32, s.imgs.Len())
	for i := range out {
		out[i] = s.imgs.Label(i)
	}
	return out
}
