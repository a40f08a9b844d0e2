package augment

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkLoader measures the whole loader, one worker (one core), batch
// 128, crop + flip + normalise: images/s is what the trainer can draw.
// Compare with scripts/bench_torchvision_loader.py run alongside.
func BenchmarkLoader(b *testing.B) {
	for _, tc := range []struct {
		name  string
		shape Shape
		norm  string
	}{
		{"32x32x3", Shape{32, 32, 3}, "cifar10"},
		{"28x28x1", Shape{28, 28, 1}, "mnist"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ds := newMem(10000, tc.shape, 1)
			l, err := NewLoader(ds, Config{Shape: tc.shape, Transform: CropTransform(0, mustPreset(b, tc.norm)),
				BatchSize: 128, Shuffle: true, Seed: 1, Workers: 1, Prefetch: 2})
			if err != nil {
				b.Fatal(err)
			}
			epoch := 0
			it, err := l.Start(context.Background(), epoch, 0)
			if err != nil {
				b.Fatal(err)
			}
			images := 0
			b.ReportAllocs()
			b.SetBytes(int64(128 * tc.shape.H * tc.shape.W * tc.shape.C))
			cpu0 := cpuTime()
			for b.Loop() {
				bt, err := it.Next()
				if err == io.EOF {
					epoch++
					if it, err = l.Start(context.Background(), epoch, 0); err != nil {
						b.Fatal(err)
					}
					bt, err = it.Next()
				}
				if err != nil {
					b.Fatal(err)
				}
				images += bt.N
				l.Release(bt)
			}
			it.Close()
			reportRates(b, images, cpu0)
		})
	}
}

// BenchmarkApply measures Draw + Apply of one sample on the calling goroutine.
func BenchmarkApply(b *testing.B) {
	cifar, imagenet, mnist := mustPreset(b, "cifar10"), mustPreset(b, "imagenet"), mustPreset(b, "mnist")
	for _, tc := range []struct {
		name  string
		shape Shape
		tr    Transform
	}{
		{"crop-32x32x3", Shape{32, 32, 3}, CropTransform(0, cifar)},
		{"crop-28x28x1", Shape{28, 28, 1}, CropTransform(0, mnist)},
		{"test-32x32x3", Shape{32, 32, 3}, TestTransform(cifar)},
		{"resized-crop-256x320x3-to-224", Shape{256, 320, 3}, ResizedCropTransform(224, imagenet)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 512
			ds := newMem(n, tc.shape, 2)
			a, err := NewAugmenter(tc.tr, tc.shape)
			if err != nil {
				b.Fatal(err)
			}
			c, h, w := a.OutShape()
			dst := make([]float32, c*h*w)
			b.ReportAllocs()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				row := i % n
				if err := a.Apply(dst, ds.Image(row), a.Draw(1, i/n, row)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportRates(b, i, cpu0)
		})
	}
}

// reportRates reports images per wall second and per CPU second of the whole
// process (all goroutines: workers, consumer, runtime). On the shared
// development machine the second is the per-core figure to quote: wall time
// there mostly measures how much CPU the scheduler granted.
func reportRates(b *testing.B, images int, cpu0 time.Duration) {
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
	if cpu := cpuTime() - cpu0; cpu0 > 0 && cpu > 0 {
		b.ReportMetric(float64(images)/cpu.Seconds(), "images/cpu-s")
	}
}
