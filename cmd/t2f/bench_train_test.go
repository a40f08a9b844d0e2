package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchTrainJSON(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"t2f", "bench", "train", "--model", "lenet", "--batch-size", "4", "--threads", "2",
		"--rounds", "1", "--min-round", "1ms", "--json"}
	if code := run(context.Background(), args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"train_images_per_s", "infer_images_per_s"} {
		if v, ok := got[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number", k, got[k])
		}
	}
	if got["channels"] != float64(1) || got["size"] != float64(28) || got["batch"] != float64(4) || got["threads"] != float64(2) {
		t.Errorf("shape fields %v, want lenet 1×28, batch 4, 2 threads", got)
	}
}

func TestBenchTrainUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "vgg"}, `unknown architecture "vgg"`},
		{[]string{"--model", "lenet", "--width", "0.5"}, "lenet has no width multiplier"},
		{[]string{"--model", "lenet", "--batch-size", "1"}, "--batch-size 1"},
		{[]string{"--model", "resnet18_32x32", "--head", "cos"}, `unknown head "cos"`},
		{[]string{"--model", "lenet", "--method", "mixup"}, `--method "mixup"`},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"t2f", "bench", "train"}, tc.args...)
		if code := run(context.Background(), args, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}

// TestBenchTrainMethods times each training method briefly: OE's rate
// counts the ID images of its batches.
func TestBenchTrainMethods(t *testing.T) {
	for _, m := range []string{"logitnorm", "oe"} {
		var out, errb bytes.Buffer
		args := []string{"t2f", "bench", "train", "--model", "lenet", "--batch-size", "4", "--threads", "1",
			"--rounds", "1", "--min-round", "1ms", "--method", m, "--json"}
		if code := run(context.Background(), args, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d, stderr %q", m, code, errb.String())
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if v, ok := got["train_images_per_s"].(float64); !ok || !(v > 0) || got["method"] != m {
			t.Errorf("%s: %v", m, got)
		}
		if m == "oe" && got["outliers"] != float64(8) {
			t.Errorf("oe outliers %v, want twice the batch (8)", got["outliers"])
		}
	}
}
