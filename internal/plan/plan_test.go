package plan

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunStampsAndSkips(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Command: "t2f test", StampDir: filepath.Join(dir, "run", ".steps"), SharedStampDir: filepath.Join(dir, "data", ".steps"),
		Steps: []Step{
			{Name: "data-a", Args: []string{"a"}, Shared: true},
			{Name: "b", Args: []string{"b", "x y"}, Inputs: []string{in}, Outputs: []string{out}},
			{Name: "c", Skip: "not here"},
		}}
	var ran []string
	do := func(_ context.Context, s Step, args []string) error {
		ran = append(ran, s.Name)
		if s.Name == "b" {
			return os.WriteFile(out, nil, 0o644)
		}
		return nil
	}
	var log bytes.Buffer
	if err := p.Run(context.Background(), &log, do, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "data-a,b" {
		t.Errorf("ran %s, want data-a,b", got)
	}
	if p.Stamp(p.Steps[0]) != filepath.Join(dir, "data", ".steps", "data-a") || p.Stamp(p.Steps[1]) != filepath.Join(dir, "run", ".steps", "b") {
		t.Errorf("stamps %s, %s", p.Stamp(p.Steps[0]), p.Stamp(p.Steps[1]))
	}
	if !strings.Contains(log.String(), "t2f b 'x y'") || !strings.Contains(log.String(), "c: skipped: not here") {
		t.Errorf("log:\n%s", log.String())
	}
	ran = nil
	if err := p.Run(context.Background(), &log, do, false); err != nil || len(ran) != 0 {
		t.Fatalf("second run ran %v (%v), want nothing", ran, err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(in, later, later); err != nil {
		t.Fatal(err)
	}
	if p.UpToDate(p.Steps[1]) || !p.UpToDate(p.Steps[0]) {
		t.Error("a changed input must make b, and only b, stale")
	}
	changed := p.Steps[0]
	changed.Args = []string{"a", "--more"}
	if p.UpToDate(changed) {
		t.Error("changed arguments must make the step stale")
	}
}

func TestRunFailureAndOnly(t *testing.T) {
	dir := t.TempDir()
	p := &Plan{Command: "t2f test", StampDir: dir, Steps: []Step{{Name: "a"}, {Name: "b"}}}
	err := p.Run(context.Background(), &bytes.Buffer{}, func(context.Context, Step, []string) error { return errors.New("boom") }, false)
	if err == nil || !strings.Contains(err.Error(), "step a: boom") || !strings.Contains(err.Error(), "rerun 't2f test'") {
		t.Errorf("error %v, want it to name the step and the command", err)
	}
	if _, err := p.Only("z"); err == nil || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("Only(z): %v, want the step names", err)
	}
	if q, err := p.Only("b"); err != nil || len(q.Steps) != 1 || q.Steps[0].Name != "b" || q.StampDir != dir {
		t.Errorf("Only(b): %+v, %v", q, err)
	}
}
