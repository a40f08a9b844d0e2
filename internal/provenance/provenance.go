// Package provenance names the code that made a result: the t2f build's
// commit and whether its work tree had uncommitted changes. Every artefact a
// figure comes from (config.yaml, epochs.csv, results.json, the reports)
// carries a Stamp's String, so a table can be traced to the commit that
// produced it and two results can be told to come from different code.
//
// The package only interprets build information; reading it is the
// program's job (cmd/t2f calls runtime/debug.ReadBuildInfo once and passes
// the Stamp down), so library packages stay free of process globals. Who may
// import it: cmd/t2f, train, evaluate and any package that writes results.
package provenance

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Stamp identifies a t2f build.
type Stamp struct {
	// Commit is the full VCS revision the binary was built from; "" when the
	// build carries no VCS information (go test binaries, go run, a build
	// outside a git checkout or with -buildvcs=false).
	Commit string
	// Dirty is true when the work tree had uncommitted changes at build time.
	Dirty bool
	// Time is the commit's time (RFC 3339), "" without VCS information.
	Time string
}

// Unknown is the String of a build without VCS information.
const Unknown = "unknown"

// shortLen is how many hex digits of the commit String shows: enough to be
// unique in this repository for a long time, short enough for a table.
const shortLen = 12

// FromBuildInfo reads the VCS settings the go command stamps into a binary
// (vcs.revision, vcs.modified, vcs.time). A nil info gives the zero Stamp.
func FromBuildInfo(info *debug.BuildInfo) Stamp {
	var s Stamp
	if info == nil {
		return s
	}
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Commit = kv.Value
		case "vcs.modified":
			s.Dirty = kv.Value == "true"
		case "vcs.time":
			s.Time = kv.Value
		}
	}
	return s
}

// String is the short form written into files: "1a2b3c4d5e6f", with
// "-dirty" appended for a modified work tree, or Unknown.
func (s Stamp) String() string {
	if s.Commit == "" {
		return Unknown
	}
	c := s.Commit
	if len(c) > shortLen {
		c = c[:shortLen]
	}
	if s.Dirty {
		c += "-dirty"
	}
	return c
}

// Parse reads a String back. It accepts Unknown and "" as the zero Stamp.
func Parse(text string) (Stamp, error) {
	if text == "" || text == Unknown {
		return Stamp{}, nil
	}
	commit, dirty := strings.CutSuffix(text, "-dirty")
	if len(commit) < 7 || len(commit) > 40 || strings.Trim(commit, "0123456789abcdef") != "" {
		return Stamp{}, fmt.Errorf("provenance: %q is not a commit (7 to 40 lower-case hex digits, optionally followed by -dirty)", text)
	}
	return Stamp{Commit: commit, Dirty: dirty}, nil
}

// Same reports whether two stamps (as written by String) certainly name the
// same code: the same commit, both clean. Unknown or dirty builds are never
// the same as anything, since their code cannot be told apart.
func Same(a, b string) bool {
	sa, errA := Parse(a)
	sb, errB := Parse(b)
	if errA != nil || errB != nil || sa.Commit == "" || sb.Commit == "" || sa.Dirty || sb.Dirty {
		return false
	}
	n := min(len(sa.Commit), len(sb.Commit))
	return sa.Commit[:n] == sb.Commit[:n]
}
