package perf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/t2f/t2f/train/backend"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// The three models at batch 128 (PyTorch references in
// docs/benchmarks.md): LeNet 1×28×28, ResNet-18 3×32×32, and the small
// ResNet (ResNet-8: 16-32-64, one block per stage) 1×28×28.
var benchModels = []struct {
	name string
	cfg  nn.Config
}{
	{"lenet_1x28", nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 10}},
	{"small_resnet_1x28", nn.Config{Arch: nn.ArchSmallResNet, InChannels: 1, ImageSize: 28, Classes: 10}},
	{"resnet18_w0.25_1x28", nn.Config{Arch: nn.ArchResNet18_32, Width: 0.25, InChannels: 1, ImageSize: 28, Classes: 10}},
	{"resnet18_32x32_3x32", nn.Config{Arch: nn.ArchResNet18_32, Classes: 10}},
}

const benchBatch = 128

// benchSteps runs step under b.Loop and reports images/s and, on Unix,
// images per CPU-second: on a shared machine the latter is the stable
// per-core figure at one thread (at two, the helpers' polling counts too).
func benchSteps(b *testing.B, step func() error) {
	benchStepsN(b, benchBatch, step)
}

// benchStepsN is benchSteps for batches of n images.
func benchStepsN(b *testing.B, n int, step func() error) {
	if err := step(); err != nil { // buffers sized once
		b.Fatal(err)
	}
	b.ReportAllocs()
	c0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
	if c := cpuTime() - c0; c > 0 {
		b.ReportMetric(float64(b.N*n)/c.Seconds(), "images/cpu-s")
	}
}

func BenchmarkTrain(b *testing.B) {
	for _, bm := range benchModels {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", bm.name, threads), func(b *testing.B) {
				bench, err := NewBench(cpu.New(threads), bm.cfg, benchBatch, 1)
				if err != nil {
					b.Fatal(err)
				}
				benchSteps(b, bench.TrainStep)
			})
		}
	}
}

func BenchmarkInfer(b *testing.B) {
	for _, bm := range benchModels {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", bm.name, threads), func(b *testing.B) {
				bench, err := NewBench(cpu.New(threads), bm.cfg, benchBatch, 1)
				if err != nil {
					b.Fatal(err)
				}
				benchSteps(b, bench.InferStep)
			})
		}
	}
}

// BenchmarkInferResNet50 is the eval forward of torchvision's ResNet-50 at
// 224×224 (random weights) on batches of 8, what `t2f features` runs on
// ImageNet-sized checkpoints (docs/benchmarks.md "Feature extraction"
// compares it with PyTorch). A step is about 33 GFLOP: run it with
// -benchtime 2x or so, A/B by cycles (perf stat) on a shared machine.
func BenchmarkInferResNet50(b *testing.B) {
	const batch = 8
	cfg := nn.Config{Arch: nn.ArchResNet50, ImageSize: 224, Classes: 1000}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			bench, err := NewBench(cpu.New(threads), cfg, batch, 1)
			if err != nil {
				b.Fatal(err)
			}
			benchStepsN(b, batch, bench.InferStep)
		})
	}
}

func TestMeasure(t *testing.T) {
	res, err := Measure(context.Background(), Config{
		Model: nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 10},
		Batch: 4, Threads: 2, Rounds: 3, MinRound: time.Millisecond, Warmup: 1, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	// PyTorch counts 61,706 parameters for the 1-channel LeNet.
	if !(res.TrainImagesPerSec > 0) || !(res.InferImagesPerSec > 0) || res.Params != 61706 {
		t.Fatalf("result %+v", res)
	}
	if !(res.TrainMinMax[0] <= res.TrainImagesPerSec && res.TrainImagesPerSec <= res.TrainMinMax[1]) {
		t.Fatalf("median %v outside [min, max] %v", res.TrainImagesPerSec, res.TrainMinMax)
	}
	if _, err := Measure(context.Background(), Config{Model: nn.Config{Arch: nn.ArchLeNet, Classes: 10}, Batch: 1}); err == nil {
		t.Fatal("batch 1: no error")
	}
}

// BenchmarkBF16 is ResNet-18 3×32×32 training and inference steps with bf16
// products (PyTorch autocast's counterpart, docs/benchmarks.md "bf16 mixed
// precision"); compare images/cpu-s A/B on one machine, alternating builds.
func BenchmarkBF16(b *testing.B) {
	cfg := nn.Config{Arch: nn.ArchResNet18_32, Classes: 10}
	for _, threads := range []int{1, 2} {
		for _, step := range []string{"train", "infer"} {
			b.Run(fmt.Sprintf("resnet18_32x32_3x32/%s/threads=%d", step, threads), func(b *testing.B) {
				be, err := cpu.NewPrecision(threads, backend.BF16)
				if err != nil {
					b.Fatal(err)
				}
				bench, err := NewBench(be, cfg, benchBatch, 1)
				if err != nil {
					b.Fatal(err)
				}
				if step == "train" {
					benchSteps(b, bench.TrainStep)
				} else {
					benchSteps(b, bench.InferStep)
				}
			})
		}
	}
}
