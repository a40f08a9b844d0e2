package provenance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stampLine is how the project's documents name the code behind a figure:
// "Made by t2f 1a2b3c4d5e6f" (the reports write it under each table).
var stampLine = regexp.MustCompile(`Made by t2f ([0-9a-f]{7,40})(-dirty)?`)

// Every commit that docs/ names as the maker of a figure must be in the
// history of the code it documents, so that anyone can check it out and
// rerun the command next to it.
func TestDocsNameCommitsInHistory(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed to check the commits docs/ names: %v", err)
	}
	// A shallow clone lacks the history the check needs; say so rather
	// than fail on commits it cannot see.
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--is-shallow-repository").Output(); err == nil && strings.TrimSpace(string(out)) == "true" {
		t.Skip("shallow clone: the commits docs/ names cannot be checked against history (clone without --depth)")
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md under %s (%v)", root, err)
	}
	seen := 0
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			for _, m := range stampLine.FindAllSubmatch(line, -1) {
				seen++
				if err := inHistory(root, string(m[1])); err != nil {
					t.Errorf("%s:%d: %v", path, i+1, err)
				}
			}
		}
	}
	t.Logf("%d stamped figures checked", seen)
}

// inHistory reports an error unless commit is an ancestor of HEAD in the
// repository at root.
func inHistory(root, commit string) error {
	cmd := exec.Command("git", "merge-base", "--is-ancestor", commit, "HEAD")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("commit %s is not an ancestor of HEAD (git: %v %s)", commit, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// The check tells history from a commit that is not in it.
func TestInHistory(t *testing.T) {
	root := filepath.Join("..", "..")
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	if err := inHistory(root, strings.TrimSpace(string(head))[:12]); err != nil {
		t.Errorf("HEAD itself: %v", err)
	}
	if err := inHistory(root, "0123456789abcdef0123"); err == nil {
		t.Error("a commit that does not exist passed")
	}
}

// The pattern the test looks for is the one String writes.
func TestStampLineMatchesString(t *testing.T) {
	s := Stamp{Commit: "75cacaf15ceecb8780d6282c716b6830fa68e58e", Dirty: true}
	m := stampLine.FindStringSubmatch("Made by t2f " + s.String() + ".")
	if m == nil || m[1] != "75cacaf15cee" || m[2] != "-dirty" {
		t.Errorf("stamp line of %s matched %q", s, m)
	}
}
