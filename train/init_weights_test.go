package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/t2f/t2f/augment"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/train/backend/cpu"
	"github.com/t2f/t2f/train/nn"
)

// writeInit saves a fresh LeNet (seed 99, linear head, 1 channel, the toy's
// 2 classes) as a t2f checkpoint and returns its path.
func writeInit(t *testing.T, dir string, arch string) string {
	t.Helper()
	m, err := nn.New(cpu.New(1), nn.Config{Arch: arch, InChannels: 1, Classes: 2}, 99)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, arch+"-init.safetensors")
	if err := m.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunStartsFromInit: a fresh run with Init starts from the file's
// weights (interrupted before its first step, last.safetensors holds them),
// records the file in config.yaml and in every checkpoint's metadata, and a
// resume neither rereads nor needs the file.
func TestRunStartsFromInit(t *testing.T) {
	tmp := t.TempDir()
	initPath := writeInit(t, tmp, nn.ArchLeNet)
	raw, err := os.ReadFile(initPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	cfg := toyConfig()
	cfg.Epochs = 1
	cfg.Init = initPath
	dir := filepath.Join(tmp, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rep *nn.PretrainedReport
	hooks := Hooks{Init: func(r nn.PretrainedReport) { rep = &r; cancel() }}
	_, err = Run(ctx, cfg, split("toy-train", newToyData(96, 1)), split("toy-val", newToyData(40, 2)), dir,
		Options{Backend: cpu.New(1), Hooks: hooks})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %v, want an interruption before the first step", err)
	}
	if rep == nil || !rep.FCLoaded || rep.Loaded != rep.Total {
		t.Fatalf("Init hook report %+v, want everything loaded", rep)
	}
	// last.safetensors (T2FNorm names) holds the file's weights (linear names).
	want := tensorsOf(t, initPath)
	got := tensorsOf(t, filepath.Join(dir, LastFile))
	for name, v := range want {
		if g, ok := got["backbone."+name]; !ok || string(g) != string(v) {
			t.Errorf("backbone.%s is not the init file's %s", name, name)
		}
	}
	f, err := safetensors.Read(filepath.Join(dir, LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata[MetaInit] != initPath || f.Metadata[MetaInitSHA256] != hex.EncodeToString(sum[:]) {
		t.Errorf("checkpoint metadata %v, want init %s sha256 %x", f.Metadata, initPath, sum)
	}
	saved, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil || saved.Init != initPath {
		t.Fatalf("config.yaml init %q (%v), want %q", saved.Init, err, initPath)
	}

	// Resume: the state comes from the run directory, the file may be gone.
	if err := os.Remove(initPath); err != nil {
		t.Fatal(err)
	}
	called := false
	_, err = Run(context.Background(), cfg, split("toy-train", newToyData(96, 1)), split("toy-val", newToyData(40, 2)), dir,
		Options{Backend: cpu.New(1), Resume: true, Hooks: Hooks{Init: func(nn.PretrainedReport) { called = true }}})
	if err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("the Init hook ran on resume")
	}
	best, err := safetensors.Read(filepath.Join(dir, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if best.Metadata[MetaInitSHA256] != hex.EncodeToString(sum[:]) {
		t.Errorf("best.safetensors after resume has metadata %v, want the init hash", best.Metadata)
	}
}

// TestRunRefusesBadInit: a missing, foreign or mismatched file is an error
// naming it, and the run directory is not created.
func TestRunRefusesBadInit(t *testing.T) {
	tmp := t.TempDir()
	garbage := filepath.Join(tmp, "garbage.pth")
	if err := os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(tmp, "absent.pth"), "absent.pth"},
		{garbage, "garbage.pth"},
		{writeInit(t, tmp, nn.ArchSmallResNet), "it is a t2f small_resnet checkpoint, the model is lenet"},
	} {
		cfg := toyConfig()
		cfg.Init = tc.path
		dir := filepath.Join(tmp, "run-"+filepath.Base(tc.path))
		_, err := Run(context.Background(), cfg, split("toy-train", newToyData(8, 1)), split("toy-val", newToyData(4, 2)), dir,
			Options{Backend: cpu.New(1)})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "train: init: ") {
			t.Errorf("init %s: error %v, want one starting train: init: and containing %q", tc.path, err, tc.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("init %s: run directory created (stat: %v)", tc.path, err)
		}
	}
}

// TestResizedCropSplitShapes: with resized_crop the training images may be
// larger than the 224×224 validation images, which must be the model input.
func TestResizedCropSplitShapes(t *testing.T) {
	cfg := Defaults()
	cfg.Augment = "resized_crop"
	d := newToyData(2, 1)
	s := func(h, c int) Split {
		return Split{Name: "s" + string(rune('0'+c)), Data: d, Shape: augment.Shape{H: h, W: h, C: c}, Classes: 2}
	}
	if err := checkSplits(cfg, s(256, 3), s(224, 3)); err != nil {
		t.Errorf("train 256, val 224: %v", err)
	}
	for _, tc := range []struct {
		train, val Split
		want       string
	}{
		{s(256, 3), s(256, 3), "build it with --resize 256 --size 224"},
		{s(256, 3), s(224, 1), "224×224×3"},
	} {
		if err := checkSplits(cfg, tc.train, tc.val); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("train %v val %v: error %v, want %q", tc.train.Shape, tc.val.Shape, err, tc.want)
		}
	}
	cfg.Augment = "crop"
	if err := checkSplits(cfg, s(256, 3), s(224, 3)); err == nil {
		t.Error("crop augmentation accepted splits of different sizes")
	}
}
