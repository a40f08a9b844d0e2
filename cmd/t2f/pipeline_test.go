package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runT2F(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"t2f"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPipelineCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "noise")
	code, out, errs := runT2F(t, "pipeline", "build", "--source", "synthetic", "--input", "blobs", "--count", "30",
		"--seed", "5", "--size", "16", "--shard-rows", "8", "--quiet", "--out", dir)
	if code != 0 || !strings.Contains(out, "30 rows in 4 shards") {
		t.Fatalf("build: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, _ = runT2F(t, "pipeline", "build", "--source", "synthetic", "--input", "blobs", "--count", "30",
		"--seed", "5", "--size", "16", "--shard-rows", "8", "--quiet", "--out", dir)
	if code != 0 || !strings.Contains(out, "already holds this build") {
		t.Errorf("rebuild: exit %d, %q", code, out)
	}
	code, _, errs = runT2F(t, "pipeline", "build", "--source", "synthetic", "--input", "blobs", "--count", "31", "--out", dir)
	if code != exitFailure || !strings.Contains(errs, "different parameters") {
		t.Errorf("different build into the same --out: exit %d, %q", code, errs)
	}

	code, out, _ = runT2F(t, "pipeline", "inspect", dir, "--json")
	var m struct {
		Rows     int64 `json:"rows"`
		OODCount int64 `json:"ood_count"`
		Dataset  string
	}
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m.Rows != 30 || m.OODCount != 30 || m.Dataset != "synthetic-blobs" {
		t.Errorf("inspect --json: exit %d, %+v from %q", code, m, out)
	}
	code, out, _ = runT2F(t, "pipeline", "inspect", dir)
	if code != 0 || !strings.Contains(out, "OOD") || !strings.Contains(out, "16x16x3") {
		t.Errorf("inspect: exit %d, %q", code, out)
	}

	png1 := filepath.Join(t.TempDir(), "grid.png")
	code, _, errs = runT2F(t, "pipeline", "preview", dir, "--out", png1, "--n", "10", "--cols", "5")
	if code != 0 {
		t.Fatalf("preview: exit %d, %q", code, errs)
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 5*64 || b.Dy() < 2*64 {
		t.Errorf("contact sheet of 10 images in 5 columns is %v", b)
	}

	code, out, _ = runT2F(t, "pipeline", "verify", dir)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("verify: exit %d, %q", code, out)
	}
	shard := filepath.Join(dir, "shard-00002.arrow")
	b, _ := os.ReadFile(shard)
	b[len(b)/3] ^= 0x40
	os.WriteFile(shard, b, 0o644)
	code, _, errs = runT2F(t, "pipeline", "verify", dir)
	if code != exitFailure || !strings.Contains(errs, "shard-00002.arrow") || !strings.Contains(errs, "sha256") {
		t.Errorf("verify corrupted: exit %d, %q", code, errs)
	}

	for _, args := range [][]string{
		{"pipeline", "build", "--source", "tarball", "--input", "x", "--out", dir},
		{"pipeline", "build", "--source", "mnist", "--input", "x", "--channels", "2", "--out", dir},
		{"pipeline", "build", "--source", "synthetic", "--input", "gaussian", "--out", dir},
		{"pipeline", "build", "--source", "mnist", "--input", "x", "--part", "holdout", "--out", dir},
		{"pipeline", "build", "--source", "imglist", "--input", "x", "--resize", "200", "--size", "224", "--out", dir},
		{"pipeline", "build", "--source", "synthetic", "--input", "gaussian", "--count", "3", "--resize", "40", "--out", dir},
		{"pipeline", "preview", dir},
		{"pipeline", "verify"},
	} {
		if code, _, errs := runT2F(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%q), want %d", args, code, errs, exitUsage)
		}
	}
}
