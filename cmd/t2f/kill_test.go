package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/t2f/t2f/features"
	"github.com/t2f/t2f/formats/safetensors"
	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/internal/crashpoint"
	"github.com/t2f/t2f/internal/dirlock"
	"github.com/t2f/t2f/shards"
	"github.com/t2f/t2f/train"
)

// The kill test runs pipeline build, train and features as child processes
// (this test binary, re-run as TestKillChild) and SIGKILLs them at every
// injected crash point around a rename (internal/crashpoint) and at random
// moments. After each kill every file under a final name must parse, and a
// rerun (train: --resume when the run has its config.yaml) must end with
// exactly the files of an uninterrupted run.
//
// The CI version samples a few points per command; T2F_KILLTEST=long (task
// test:kill) kills at every point and at many random moments, several
// rounds, and logs the count.

// TestKillChild is the child process: it runs the t2f command line in
// T2F_KILLTEST_ARGS with the crash-point hook of T2F_KILL_AT/T2F_KILL_LOG.
func TestKillChild(t *testing.T) {
	raw := os.Getenv("T2F_KILLTEST_ARGS")
	if raw == "" {
		t.Skip("only run as the kill test's child process")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		os.Exit(99)
	}
	at, _ := strconv.Atoi(os.Getenv("T2F_KILL_AT"))
	logPath := os.Getenv("T2F_KILL_LOG")
	var n atomic.Int64
	crashpoint.SetHook(func(label string) {
		k := n.Add(1)
		if logPath != "" {
			if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.WriteString(label + "\n")
				f.Close()
			}
		}
		if int(k) == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	})
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"t2f"}, args...), &out, &errb)
	os.Stderr.Write(errb.Bytes())
	os.Exit(code)
}

type killCase struct {
	name    string
	args    func(out string) []string
	recover func(out string) []string // the command that continues after a kill
	compare func(t *testing.T, ref, got string)
}

// child starts the command; killAt > 0 kills it at that crash point.
func child(args []string, killAt int, logPath string) *exec.Cmd {
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), "T2F_KILLTEST_ARGS="+string(raw), "T2F_KILL_AT="+strconv.Itoa(killAt), "T2F_KILL_LOG="+logPath)
	return cmd
}

func killed(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	return false
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test: not in -short")
	}
	long := os.Getenv("T2F_KILLTEST") == "long"
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill moments from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))
	work := t.TempDir()
	trainDir, valDir := mnistShards(t)
	trainArgs := func(out string) []string {
		return []string{"train", "--train", trainDir, "--val", valDir, "--model", "lenet",
			"--head", "t2fnorm", "--epochs", "2", "--batch-size", "64", "--lr", "0.05", "--workers", "2", "--threads", "1", "--quiet", "--out", out}
	}
	refRun := filepath.Join(work, "ref-run")
	cases := []killCase{
		{
			name: "pipeline build",
			args: func(out string) []string {
				return []string{"pipeline", "build", "--source", "synthetic", "--input", "gaussian", "--count", "300", "--size", "8",
					"--channels", "1", "--label-ood", "--name", "gaussian", "--shard-rows", "40", "--quiet", "--out", out}
			},
			compare: func(t *testing.T, ref, got string) {
				a, err1 := shards.ReadManifest(ref)
				b, err2 := shards.ReadManifest(got)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if fmt.Sprint(a.Shards) != fmt.Sprint(b.Shards) || a.Rows != b.Rows {
					t.Errorf("shards %v, uninterrupted %v", b.Shards, a.Shards)
				}
				if err := shards.Verify(got); err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "train",
			args: trainArgs,
			recover: func(out string) []string {
				if _, err := os.Stat(filepath.Join(out, train.ConfigFile)); err == nil {
					return append(trainArgs(out), "--resume")
				}
				return trainArgs(out)
			},
			compare: func(t *testing.T, ref, got string) {
				for _, f := range []string{train.LastFile, train.BestFile, train.StateFile} {
					sameWeights(t, filepath.Join(ref, f), filepath.Join(got, f))
				}
			},
		},
		{
			name: "features",
			args: func(out string) []string {
				return []string{"features", "--checkpoint", filepath.Join(refRun, train.BestFile), "--data", valDir, "--quiet", "--out", out}
			},
			compare: func(t *testing.T, ref, got string) {
				ents, _ := os.ReadDir(ref)
				for _, e := range ents {
					if e.Name() == dirlock.Name {
						continue
					}
					a, _ := os.ReadFile(filepath.Join(ref, e.Name()))
					b, err := os.ReadFile(filepath.Join(got, e.Name()))
					if err != nil || !bytes.Equal(a, b) {
						t.Errorf("%s differs from the uninterrupted run's (%v)", e.Name(), err)
					}
				}
			},
		},
	}
	var kills, injected int
	meta := shards.Meta{}
	for _, kc := range cases {
		ref := filepath.Join(work, "ref-"+strings.ReplaceAll(kc.name, " ", "-"))
		if kc.name == "train" {
			ref = refRun
		}
		logPath := filepath.Join(work, "points-"+filepath.Base(ref))
		start := time.Now()
		if out, err := child(kc.args(ref), 0, logPath).CombinedOutput(); err != nil {
			t.Fatalf("%s uninterrupted: %v\n%s", kc.name, err, out)
		}
		dur := time.Since(start)
		if kc.name == "pipeline build" {
			m, err := shards.ReadManifest(ref)
			if err != nil {
				t.Fatal(err)
			}
			meta = m.Meta()
		}
		pts, _ := os.ReadFile(logPath)
		labels := strings.Split(strings.TrimSpace(string(pts)), "\n")
		var at []int
		for k := 1; k <= len(labels); k++ {
			at = append(at, k)
		}
		rounds, randoms := 3, 20
		if !long {
			rounds, randoms = 1, 2
			if n := len(at); n > 7 { // the first, three between, and the last three (the final save)
				at = []int{1, n / 4, n / 2, 3 * n / 4, n - 2, n - 1, n}
			}
		}
		trial := 0
		try := func(killAt int, after time.Duration) {
			trial++
			dir := filepath.Join(work, fmt.Sprintf("%s-%d", filepath.Base(ref), trial))
			what := fmt.Sprintf("%s killed at %s", kc.name, after)
			cmd := child(kc.args(dir), killAt, "")
			if killAt > 0 {
				what = fmt.Sprintf("%s killed at point %d (%s)", kc.name, killAt, labels[killAt-1])
				out, err := cmd.CombinedOutput()
				if !killed(err) {
					t.Fatalf("%s: not killed (%v)\n%s", what, err, out)
				}
				injected++
			} else {
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(after)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
			}
			kills++
			checkFinalFiles(t, what, dir, meta)
			rec := kc.args(dir)
			if kc.recover != nil {
				rec = kc.recover(dir)
			}
			if out, err := child(rec, 0, "").CombinedOutput(); err != nil {
				t.Fatalf("%s: rerun %v: %v\n%s", what, rec, err, out)
			}
			t.Run(what, func(t *testing.T) { kc.compare(t, ref, dir) })
			os.RemoveAll(dir)
		}
		for range rounds {
			for _, k := range at {
				try(k, 0)
			}
		}
		for range randoms {
			try(0, time.Duration(rng.Int64N(int64(dur+dur/5)+1)))
		}
	}
	if !t.Failed() {
		t.Logf("kill test: %d kills (%d at injected crash points, %d at random moments), every one resumed to the uninterrupted result", kills, injected, kills-injected)
	}
}

// checkFinalFiles parses every file under a final name in dir.
func checkFinalFiles(t *testing.T, what, dir string, meta shards.Meta) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n, path := e.Name(), filepath.Join(dir, e.Name())
		var err error
		switch {
		case n == dirlock.Name, atomicfile.IsTemp(n), strings.HasSuffix(n, shards.TempSuffix):
			continue
		case n == shards.ManifestName:
			_, err = shards.ReadManifest(dir)
		case strings.HasSuffix(n, ".arrow"):
			_, _, _, err = shards.ScanShard(path, meta)
		case strings.HasSuffix(n, ".json"):
			var b []byte
			if b, err = os.ReadFile(path); err == nil && !json.Valid(b) {
				err = errors.New("invalid JSON")
			}
		case strings.HasSuffix(n, ".safetensors"):
			_, err = safetensors.Read(path)
		case n == train.ConfigFile:
			_, err = train.ReadConfig(path)
		case n == train.EpochsFile:
			var b []byte
			if b, err = os.ReadFile(path); err == nil {
				_, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
			}
		case strings.HasSuffix(n, ".parquet"):
			_, err = features.ReadFile(path)
		default:
			err = errors.New("unexpected file")
		}
		if err != nil {
			t.Errorf("%s: %s does not parse: %v", what, n, err)
		}
	}
}

// sameWeights compares two checkpoints' tensors byte for byte.
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	fa, err1 := safetensors.Read(a)
	fb, err2 := safetensors.Read(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if fmt.Sprint(fa.Names()) != fmt.Sprint(fb.Names()) {
		t.Fatalf("%s and %s hold different tensors", a, b)
	}
	for _, n := range fa.Names() {
		x, _ := fa.Tensor(n)
		y, _ := fb.Tensor(n)
		if !bytes.Equal(x.Data, y.Data) {
			t.Errorf("tensor %s differs between %s and %s", n, a, b)
		}
	}
}
