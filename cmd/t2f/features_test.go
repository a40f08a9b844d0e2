package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/checkpoint"
	"github.com/t2f/t2f/train/nn"
)

func runFeaturesCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"t2f", "features"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

// featShard is a written shard directory and its images.
type featShard struct {
	dir    string
	ids    []int64
	labels []int32
	images [][]uint8 // 28×28×1
}

func writeFeatShard(t *testing.T, dir, dataset, split string, classes []string, n int, seed uint64) featShard {
	t.Helper()
	meta := shards.Meta{Dataset: dataset, Split: split, Classes: classes, Height: 28, Width: 28, Channels: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := shards.NewWriter(dir, meta, shards.WithShardRows(16), shards.WithBatchRows(5))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	s := featShard{dir: dir}
	m := &shards.Manifest{Format: shards.Format, Dataset: dataset, Split: split, Classes: classes, Height: 28, Width: 28,
		Channels: 1, Layout: shards.Layout, ClassCounts: make([]int64, len(classes))}
	for i := range n {
		img := make([]uint8, 28*28)
		for j := range img {
			img[j] = uint8(rng.IntN(256))
		}
		label := int32(-1)
		if len(classes) > 0 {
			label = int32(rng.IntN(len(classes)))
			m.ClassCounts[label]++
		} else {
			m.OODCount++
		}
		id := int64(1000*seed) + int64(3*i)
		if err := w.Append(id, label, img, "mem"); err != nil {
			t.Fatal(err)
		}
		s.ids, s.labels, s.images = append(s.ids, id), append(s.labels, label), append(s.images, img)
	}
	if m.Shards, err = w.Close(); err != nil {
		t.Fatal(err)
	}
	m.Rows = int64(n)
	if err := shards.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return s
}

// featFixture is a LeNet T2FNorm checkpoint (random weights, BatchNorm-free)
// and two shard directories: digits/test (ID, 3 classes) and noise/test (OOD).
type featFixture struct {
	model    *nn.Model
	ckpt     string
	id, ood  featShard
	classes  []string
	stateDir string
}

func newFeatFixture(t *testing.T) featFixture {
	t.Helper()
	root := t.TempDir()
	classes := []string{"zero", "one", "two"}
	f := featFixture{classes: classes}
	f.id = writeFeatShard(t, filepath.Join(root, "digits-test"), "digits", "test", classes, 23, 1)
	f.ood = writeFeatShard(t, filepath.Join(root, "noise-test"), "noise", "test", nil, 11, 2)
	m, err := nn.New(cpu.New(1), nn.Config{Arch: nn.ArchLeNet, InChannels: 1, Classes: 3, Head: nn.HeadT2FNorm, Tau: 0.1}, 7)
	if err != nil {
		t.Fatal(err)
	}
	f.model = m
	f.stateDir = filepath.Join(root, "run")
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.ckpt = filepath.Join(f.stateDir, train.BestFile)
	if err := m.Save(f.ckpt, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// check compares one feature table with an eval-mode forward of the same
// images computed here (normalised by hand with mean = std = 0.5, OpenOOD's
// choice for a dataset that is not CIFAR or ImageNet, all images in one
// batch) and with the head file.
func (f featFixture) check(t *testing.T, tab *features.Table, s featShard, head *features.Head) {
	t.Helper()
	n := len(s.images)
	if tab.Len() != n || tab.Dim != 84 || tab.NumClasses != 3 {
		t.Fatalf("%s: %d rows D %d C %d, want %d rows D 84 C 3", s.dir, tab.Len(), tab.Dim, tab.NumClasses, n)
	}
	x := make([]float32, n*28*28)
	for i, img := range s.images {
		for j, v := range img {
			x[i*784+j] = (float32(v)/255 - 0.5) / 0.5
		}
	}
	out, err := f.model.ForwardHost(x, false)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n*84)
	f.model.Backend().Download(want, out.Feature)
	for i := range n {
		if tab.IDs[i] != s.ids[i] || tab.Labels[i] != s.labels[i] {
			t.Fatalf("row %d: id %d label %d, want %d %d", i, tab.IDs[i], tab.Labels[i], s.ids[i], s.labels[i])
		}
		var ss float64
		for d := range 84 {
			g, w := tab.Feature[i*84+d], want[i*84+d]
			if math.Abs(float64(g-w)) > 1e-5*math.Max(1, math.Abs(float64(w))) {
				t.Fatalf("row %d feature[%d] = %v, want %v (direct forward)", i, d, g, w)
			}
			ss += float64(g) * float64(g)
		}
		norm := math.Sqrt(ss)
		if math.Abs(float64(tab.FeatureNorm[i])-norm) > 1e-5*norm {
			t.Fatalf("row %d feature_norm %v, want %v", i, tab.FeatureNorm[i], norm)
		}
		// Both forwards recomputed from the head file in float64.
		best := 0
		var z [3]float64
		for c := range 3 {
			var wf float64
			for d := range 84 {
				wf += float64(head.Weight[c*84+d]) * float64(tab.Feature[i*84+d])
			}
			z[c] = wf/norm/head.Tau + float64(head.Bias[c])
			zood := wf/head.Tau + float64(head.Bias[c])
			if g := float64(tab.Logits[i*3+c]); math.Abs(g-z[c]) > 1e-4*math.Max(1, math.Abs(z[c])) {
				t.Fatalf("row %d logits[%d] = %v, head gives %v", i, c, g, z[c])
			}
			if g := float64(tab.LogitsOOD[i*3+c]); math.Abs(g-zood) > 1e-4*math.Max(1, math.Abs(zood)) {
				t.Fatalf("row %d logits_ood[%d] = %v, head gives %v", i, c, g, zood)
			}
			if z[c] > z[best] {
				best = c
			}
		}
		if int(tab.Preds[i]) != best {
			t.Fatalf("row %d pred %d, want %d (logits %v)", i, tab.Preds[i], best, z)
		}
	}
}

// checkDir checks the digits/test features in out, extracted from ckpt.
func (f featFixture) checkDir(t *testing.T, out, ckpt string) {
	t.Helper()
	head, err := features.ReadHead(out)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := features.ReadFile(filepath.Join(out, "digits_test.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Meta.CheckpointSHA256 != fileHash(t, ckpt) {
		t.Errorf("checkpoint sha %s, want that of %s", tab.Meta.CheckpointSHA256, ckpt)
	}
	f.check(t, tab, f.id, head)
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestFeaturesCommand(t *testing.T) {
	f := newFeatFixture(t)
	out := filepath.Join(t.TempDir(), "feats")
	// OOD first: the ID dataset (for class names and normalisation) is the
	// one with a class name per output, wherever it is.
	code, msg := runFeaturesCLI(t, "--checkpoint", f.ckpt, "--data", f.ood.dir, "--data", f.id.dir, "--out", out,
		"--batch-size", "7", "--threads", "2", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	infos, err := features.ListDir(out) // also checks head.safetensors against the files
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || filepath.Base(infos[0].Path) != "digits_test.parquet" || filepath.Base(infos[1].Path) != "noise_test.parquet" {
		t.Fatalf("feature files %v, want digits_test.parquet and noise_test.parquet", infos)
	}
	head, err := features.ReadHead(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := fileHash(t, f.ckpt)
	for i, s := range []featShard{f.id, f.ood} {
		tab, err := features.ReadFile(infos[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		m := tab.Meta
		if m.CheckpointSHA256 != sum || m.Model != "lenet" || m.Head != "t2fnorm" || m.Tau != 0.1 || m.Width != 1 ||
			strings.Join(m.Classes, ",") != "zero,one,two" {
			t.Errorf("%s meta %+v, want lenet t2fnorm τ 0.1 classes zero,one,two sha %s", infos[i].Path, m, sum)
		}
		f.check(t, tab, s, head)
	}
}

func TestFeaturesBareStateDict(t *testing.T) {
	f := newFeatFixture(t)
	// The same weights as a PyTorch state_dict: no t2f metadata, no config.yaml.
	sd, err := f.model.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bare := filepath.Join(dir, "openood.safetensors")
	if err := safetensors.Write(bare, sd, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "feats")
	// Its names and shapes say what it is: LeNet (block1, classifier1), T2FNorm (tau), 3 classes.
	code, msg := runFeaturesCLI(t, "--checkpoint", bare, "--data", f.id.dir, "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("without --model/--head: exit %d %q", code, msg)
	}
	f.checkDir(t, out, bare)
	code, msg = runFeaturesCLI(t, "--checkpoint", bare, "--model", "lenet", "--head", "t2fnorm", "--tau", "0.1",
		"--data", f.id.dir, "--out", out, "--quiet", "--workers", "1", "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	f.checkDir(t, out, bare)

	// config.yaml beside the state dict supplies the model; a contradicting flag is refused.
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("model: lenet\nwidth: 1\nhead: t2fnorm\ntau: 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "feats")
	if code, msg := runFeaturesCLI(t, "--checkpoint", bare, "--data", f.id.dir, "--out", out2, "--quiet"); code != 0 {
		t.Fatalf("with config.yaml: exit %d: %s", code, msg)
	}
	for _, tc := range []struct {
		args    []string
		code    int
		wantMsg string
	}{
		{[]string{"--head", "linear"}, exitUsage, "--head linear contradicts"},
		{[]string{"--tau", "0.5"}, exitUsage, "--tau 0.5 contradicts the checkpoint's tau 0.1"},
		{[]string{"--data", f.id.dir}, exitUsage, "are both digits/test"},
		{[]string{"--batch-size", "0"}, exitUsage, "--batch-size 0"},
	} {
		args := append([]string{"--checkpoint", bare, "--data", f.id.dir, "--out", t.TempDir(), "--quiet"}, tc.args...)
		if code, msg := runFeaturesCLI(t, args...); code != tc.code || !strings.Contains(msg, tc.wantMsg) {
			t.Errorf("%v: exit %d %q, want %d containing %q", tc.args, code, msg, tc.code, tc.wantMsg)
		}
	}
	// A linear head contradicts a T2FNorm state dict (it holds tau).
	os.Remove(filepath.Join(dir, "config.yaml"))
	code, msg = runFeaturesCLI(t, "--checkpoint", bare, "--model", "lenet", "--head", "linear", "--data", f.id.dir, "--out", t.TempDir(), "--quiet")
	if code != exitUsage || !strings.Contains(msg, "--head linear contradicts") || !strings.Contains(msg, "fc.weight") {
		t.Errorf("linear head on a T2FNorm state dict: exit %d %q, want %d: contradicts, naming fc.weight", code, msg, exitUsage)
	}
}

// BenchmarkExtract measures `t2f features` throughput (images/s) through
// features.ExtractFile with the engine adapter — shard reading, the test
// transform, the forward pass, derived columns, Parquet writing — on 2,048
// generated images, and, as the reference in the same run, the engine's
// forward pass alone on the same, already normalised batches
// (ForwardHost + Download). The ratio is the cost of everything around the
// network. Random weights: speed does not depend on them. extract-2workers
// is the default of t2f features: two model instances of one thread each.
//
//	go test ./cmd/t2f -run '^$' -bench Extract -benchtime 3x -count 5
func BenchmarkExtract(b *testing.B) {
	for _, tc := range []struct {
		arch string
		size int
		ch   int
	}{{nn.ArchLeNet, 28, 1}, {nn.ArchSmallResNet, 32, 3}} {
		const n, batch, threads = 2048, 128, 2
		dir := b.TempDir()
		meta := shards.Meta{Dataset: "bench", Split: "test", Classes: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"},
			Height: tc.size, Width: tc.size, Channels: tc.ch}
		w, err := shards.NewWriter(dir, meta)
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		img := make([]uint8, tc.size*tc.size*tc.ch)
		m := &shards.Manifest{Format: shards.Format, Dataset: "bench", Split: "test", Classes: meta.Classes, Height: tc.size,
			Width: tc.size, Channels: tc.ch, Layout: shards.Layout, ClassCounts: make([]int64, 10), Rows: n}
		for i := range n {
			for j := range img {
				img[j] = uint8(rng.IntN(256))
			}
			if err := w.Append(int64(i), int32(i%10), img, "mem"); err != nil {
				b.Fatal(err)
			}
			m.ClassCounts[i%10]++
		}
		if m.Shards, err = w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := shards.WriteManifest(dir, m); err != nil {
			b.Fatal(err)
		}
		r, err := shards.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		model, err := nn.New(cpu.New(threads), nn.Config{Arch: tc.arch, InChannels: tc.ch, ImageSize: tc.size, Classes: 10,
			Head: nn.HeadT2FNorm}, 1)
		if err != nil {
			b.Fatal(err)
		}
		net := checkpoint.Network{Model: model}
		var single [2]features.Network // two 1-thread instances, as t2f features runs by default
		for i := range single {
			m, err := nn.New(cpu.New(1), model.Config(), 1)
			if err != nil {
				b.Fatal(err)
			}
			single[i] = checkpoint.Network{Model: m}
		}
		pool, err := features.NewPool(single[:]...)
		if err != nil {
			b.Fatal(err)
		}
		norm, _ := augment.Preset("mnist")
		aug, err := augment.NewAugmenter(augment.TestTransform(norm), augment.Shape{H: tc.size, W: tc.size, C: tc.ch})
		if err != nil {
			b.Fatal(err)
		}
		src, err := features.NewShardSource(r, aug)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(b.TempDir(), "bench_test.parquet")
		b.Run(tc.arch+"/extract-2workers", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := features.ExtractFile(context.Background(), pool, src, features.Options{BatchSize: batch, Workers: 2,
					Meta: features.Meta{Dataset: "bench", Split: "test"}}, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run(tc.arch+"/extract", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := features.ExtractFile(context.Background(), net, src, features.Options{BatchSize: batch,
					Meta: features.Meta{Dataset: "bench", Split: "test"}}, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
		b.Run(tc.arch+"/forward-only", func(b *testing.B) {
			per := tc.size * tc.size * tc.ch
			x := make([]float32, n*per)
			for i := range n {
				if err := aug.Apply(x[i*per:(i+1)*per], r.Image(i), augment.Params{}); err != nil {
					b.Fatal(err)
				}
			}
			d := net.Dim()
			f, lg, lo := make([]float32, batch*d), make([]float32, batch*10), make([]float32, batch*10)
			b.ReportAllocs()
			for b.Loop() {
				for s := 0; s < n; s += batch {
					k := min(batch, n-s)
					if err := net.Forward(x[s*per:(s+k)*per], k, f[:k*d], lg[:k*10], lo[:k*10]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
