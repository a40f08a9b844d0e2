package plan

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/t2f/t2f/internal/atomicfile"
)

// Step is one command line of a plan.
type Step struct {
	Name    string
	Desc    string
	Args    []string // t2f arguments (without "t2f"), or with Exec the program and its arguments
	Exec    bool     // Args is an external program, not a t2f command line
	Inputs  []string // files whose change makes the step stale
	Outputs []string // files the step must leave
	Skip    string   // non-empty: the step cannot run on this machine, and why
	// Shared: the stamp goes to Plan.SharedStampDir (data steps, whose
	// outputs every plan using the same data folder shares).
	Shared bool
	// Resume is a file (a training run's config); when it exists the step
	// runs with "--resume" appended, continuing an interrupted training.
	Resume string
	// Partial: the step may fail after writing its outputs (t2f score exits
	// 1 when one method fails, e.g. KLM's −Inf on saturated softmax); the
	// run goes on with a warning when every output was written by this run.
	Partial bool
}

// Command is the step's command line as a user would type it.
func (s Step) Command() string {
	if s.Exec {
		return shellQuote(s.Args)
	}
	return "t2f " + shellQuote(s.Args)
}

// Plan is an ordered list of steps and where their stamps go.
type Plan struct {
	Command        string // the command that runs the plan (e.g. "t2f demo"), for errors
	StampDir       string // stamps of the steps
	SharedStampDir string // stamps of the Shared steps
	Steps          []Step
}

// Stamp is the file marking s as done.
func (p *Plan) Stamp(s Step) string {
	if s.Shared {
		return filepath.Join(p.SharedStampDir, s.Name)
	}
	return filepath.Join(p.StampDir, s.Name)
}

// UpToDate reports whether s's stamp holds its arguments, is newer than its
// inputs, and its outputs exist.
func (p *Plan) UpToDate(s Step) bool {
	st, err := os.Stat(p.Stamp(s))
	if err != nil {
		return false
	}
	b, err := os.ReadFile(p.Stamp(s))
	if err != nil || string(b) != strings.Join(s.Args, "\x00") {
		return false
	}
	for _, in := range s.Inputs {
		if ist, err := os.Stat(in); err != nil || ist.ModTime().After(st.ModTime()) {
			return false
		}
	}
	for _, out := range s.Outputs {
		if _, err := os.Stat(out); err != nil {
			return false
		}
	}
	return true
}

// List writes each step with its state (done, to do, skipped) and its
// command.
func (p *Plan) List(w io.Writer) {
	for _, s := range p.Steps {
		state := "to do"
		switch {
		case s.Skip != "":
			state = "skipped: " + s.Skip
		case p.UpToDate(s):
			state = "done"
		}
		fmt.Fprintf(w, "%-28s %s [%s]\n    %s\n", s.Name, s.Desc, state, s.Command())
	}
}

// Only returns the plan of the one step called name, or an error listing
// the step names.
func (p *Plan) Only(name string) (*Plan, error) {
	i := slices.IndexFunc(p.Steps, func(s Step) bool { return s.Name == name })
	if i < 0 {
		var names []string
		for _, s := range p.Steps {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("no such step; the steps are %s", strings.Join(names, ", "))
	}
	q := *p
	q.Steps = p.Steps[i : i+1]
	return &q, nil
}

// Do runs one step with args (the step's, perhaps with "--resume").
type Do func(ctx context.Context, s Step, args []string) error

// Run runs the steps in order with do, skipping those that are up to date
// (unless force) or cannot run here, stamping each one that finished. It
// writes each command and, for more than one step, the wall times to log.
func (p *Plan) Run(ctx context.Context, log io.Writer, do Do, force bool) error {
	type timing struct {
		name string
		d    time.Duration
		note string
	}
	var times []timing
	start := time.Now()
	for i, s := range p.Steps {
		prefix := fmt.Sprintf("[%d/%d %s]", i+1, len(p.Steps), time.Since(start).Round(time.Second))
		if s.Skip != "" {
			fmt.Fprintf(log, "%s %s: skipped: %s\n", prefix, s.Name, s.Skip)
			times = append(times, timing{s.Name, 0, "skipped"})
			continue
		}
		if !force && p.UpToDate(s) {
			fmt.Fprintf(log, "%s %s: up to date\n", prefix, s.Name)
			times = append(times, timing{s.Name, 0, "up to date"})
			continue
		}
		args := s.Args
		if s.Resume != "" {
			if _, err := os.Stat(s.Resume); err == nil {
				args = append(slices.Clone(args), "--resume")
			}
		}
		shown := s
		shown.Args = args
		fmt.Fprintf(log, "%s %s: %s\n    %s\n", prefix, s.Name, s.Desc, shown.Command())
		t0 := time.Now()
		if err := do(ctx, s, args); err != nil {
			if !s.Partial || ctx.Err() != nil || !writtenSince(s.Outputs, t0) {
				return fmt.Errorf("%s: step %s: %w (rerun '%s' to continue from here)", p.Command, s.Name, err, p.Command)
			}
			fmt.Fprintf(log, "%s %s: WARNING: %v; going on with the results that were written\n", prefix, s.Name, err)
		}
		if err := p.writeStamp(s); err != nil {
			return fmt.Errorf("%s: step %s: %w", p.Command, s.Name, err)
		}
		times = append(times, timing{s.Name, time.Since(t0), ""})
	}
	if len(p.Steps) > 1 {
		fmt.Fprintf(log, "\nsteps and wall times:\n")
		for _, t := range times {
			if t.note != "" {
				fmt.Fprintf(log, "  %-24s %s\n", t.name, t.note)
			} else {
				fmt.Fprintf(log, "  %-24s %s\n", t.name, t.d.Round(100*time.Millisecond))
			}
		}
		fmt.Fprintf(log, "  %-24s %s\n", "total", time.Since(start).Round(time.Second))
	}
	return nil
}

func (p *Plan) writeStamp(s Step) error {
	path := p.Stamp(s)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(strings.Join(s.Args, "\x00")))
}

// writtenSince reports whether every file in paths was modified at or after t.
func writtenSince(paths []string, t time.Time) bool {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.ModTime().Before(t.Add(-time.Second)) {
			return false
		}
	}
	return len(paths) > 0
}

// shellQuote renders a command line for display.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$*?()[]{}<>|&;\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
