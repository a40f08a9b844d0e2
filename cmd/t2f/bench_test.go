package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchGemmJSON runs `t2f bench gemm` on one small shape and checks the
// JSON rows against the shape list.
func TestBenchGemmJSON(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"t2f", "bench", "gemm", "--shape", "lenet.fc1", "--threads", "2", "--rounds", "1", "--min-round", "1ms", "--json"}
	if code := run(context.Background(), args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var rows []gemmBenchRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("output is not a JSON array of rows: %v\n%s", err, out.String())
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1 (lenet.fc1.fwd at 2 threads)", len(rows))
	}
	r := rows[0]
	if r.Shape != "lenet.fc1.fwd" || r.M != 128 || r.N != 84 || r.K != 120 || !r.TransB || r.TransA || r.Threads != 2 {
		t.Errorf("row %+v does not describe lenet.fc1.fwd at 2 threads", r)
	}
	if !(r.GFLOPS > 0) || !(r.MedianMs > 0) || r.Kernel == "" {
		t.Errorf("row %+v has no measurement", r)
	}
}

// TestBenchGemmTable checks the default table output: both thread counts.
func TestBenchGemmTable(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"t2f", "bench", "gemm", "--shape", "lenet.conv2.fwd", "--rounds", "1", "--min-round", "1ms"}
	if code := run(context.Background(), args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "shape") {
		t.Fatalf("no table:\n%s", out.String())
	}
	if last := lines[len(lines)-1]; last != "Made by t2f "+buildStamp().String() {
		t.Errorf("last line %q does not name the build", last)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, "lenet.conv2.fwd") {
			t.Errorf("unexpected row %q", l)
		}
	}
}

// TestBenchGemmBadFlags checks that bad values are usage errors naming the flag.
func TestBenchGemmBadFlags(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"--threads", "-1"}},
		{[]string{"--rounds", "0"}},
		{[]string{"--min-round", "0s"}},
		{[]string{"--shape", "nosuchshape"}},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"t2f", "bench", "gemm"}, tc.args...)
		if code := run(context.Background(), args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, exitUsage, errb.String())
		}
		if !strings.Contains(errb.String(), tc.args[0]) {
			t.Errorf("%v: stderr %q does not name the flag", tc.args, errb.String())
		}
	}
}

func TestScalingCheck(t *testing.T) {
	rows := []gemmBenchRow{
		{Shape: "square.1024", Threads: 1, GFLOPS: 100},
		{Shape: "lenet.fc1.fwd", Threads: 2, GFLOPS: 50},
		{Shape: "square.1024", Threads: 2, GFLOPS: 190},
	}
	if got := scalingCheck(rows); !strings.Contains(got, "2 threads run at 1.90× 1 thread") {
		t.Errorf("scalingCheck = %q, want the 1.90× ratio of square.1024", got)
	}
	if got := scalingCheck(rows[:2]); got != "" {
		t.Errorf("scalingCheck without both square rows = %q, want empty", got)
	}
}
