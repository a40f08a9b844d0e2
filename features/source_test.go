package features

import (
	"math"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
)

// memImages is n images of 2×2×3 uint8 (HWC): pixel (y, x) channel k of
// image r is 10r + 4y + 2x + k.
type memImages int

func (m memImages) Len() int { return int(m) }
func (m memImages) Image(r int) []uint8 {
	img := make([]uint8, 12)
	for y := range 2 {
		for x := range 2 {
			for k := range 3 {
				img[(y*2+x)*3+k] = uint8(10*r + 4*y + 2*x + k)
			}
		}
	}
	return img
}
func (m memImages) Label(r int) int32 { return int32(r) - 1 }
func (m memImages) ID(r int) int64    { return int64(500 + r) }

func TestShardSource(t *testing.T) {
	norm := augment.Norm{Name: "test", Mean: []float64{0.5, 0.25, 0}, Std: []float64{0.5, 0.25, 2}}
	aug, err := augment.NewAugmenter(augment.TestTransform(norm), augment.Shape{H: 2, W: 2, C: 3})
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewShardSource(memImages(5), aug)
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := src.Shape(); c != 3 || h != 2 || w != 2 || src.Len() != 5 {
		t.Fatalf("shape %d×%d×%d len %d, want 3×2×2 len 5", c, h, w, src.Len())
	}
	x := make([]float32, 2*12)
	ids := make([]int64, 2)
	labels := make([]int32, 2)
	if err := src.Load(3, x, ids, labels); err != nil {
		t.Fatal(err)
	}
	if ids[0] != 503 || ids[1] != 504 || labels[0] != 2 || labels[1] != 3 {
		t.Errorf("ids %v labels %v, want [503 504] [2 3]", ids, labels)
	}
	// NCHW: x[i][k][y][x] = (v/255 − mean[k]) / std[k].
	for i := range 2 {
		for k := range 3 {
			for y := range 2 {
				for xx := range 2 {
					v := float64(10*(3+i) + 4*y + 2*xx + k)
					want := (v/255 - norm.Mean[k]) / norm.Std[k]
					got := x[i*12+k*4+y*2+xx]
					if math.Abs(float64(got)-want) > 1e-6 {
						t.Fatalf("x[%d][%d][%d][%d] = %v, want %v", i, k, y, xx, got, want)
					}
				}
			}
		}
	}
	if err := src.Load(4, x, ids, labels); err == nil || !strings.Contains(err.Error(), "within [0, 5)") {
		t.Errorf("Load past the end: error %v, want one naming the range", err)
	}
	crop, err := augment.NewAugmenter(augment.CropTransform(0, norm), augment.Shape{H: 2, W: 2, C: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewShardSource(memImages(1), crop); err == nil || !strings.Contains(err.Error(), "test transform") {
		t.Errorf("NewShardSource with a crop transform: error %v, want one asking for the test transform", err)
	}
}
