package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// bench train --precision bf16 measures the bf16 products and says so; an
// unknown precision is a usage error on every command that takes the flag.
func TestPrecisionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"t2f", "bench", "train", "--model", "lenet", "--batch-size", "4", "--threads", "1",
		"--rounds", "1", "--min-round", "1ms", "--json", "--precision", "bf16"}
	if code := run(context.Background(), args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out.String())
	}
	if got["precision"] != "bf16" {
		t.Errorf("precision %v, want bf16 (output %v)", got["precision"], got)
	}
	for _, cmd := range [][]string{
		{"bench", "train", "--model", "lenet"},
		{"train", "--train", "x", "--val", "y", "--out", t.TempDir()},
		{"features", "--checkpoint", "x.safetensors", "--data", "d", "--out", t.TempDir()},
	} {
		var out, errb bytes.Buffer
		args := append(append([]string{"t2f"}, cmd...), "--precision", "fp16")
		code := run(context.Background(), args, &out, &errb)
		if code == exitOK || !strings.Contains(errb.String(), "fp16") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming fp16", cmd, code, errb.String())
		}
	}
}
