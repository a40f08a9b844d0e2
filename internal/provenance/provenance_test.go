package provenance

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "75cacaf0123456789abcdef0123456789abcdef0"},
		{Key: "vcs.time", Value: "2026-12-07T20:20:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	s := FromBuildInfo(info)
	if s.Commit != "75cacaf0123456789abcdef0123456789abcdef0" || !s.Dirty || s.Time != "2026-12-07T20:20:00Z" {
		t.Fatalf("got %+v", s)
	}
	if got := s.String(); got != "75cacaf01234-dirty" {
		t.Errorf("String() = %q, want 75cacaf01234-dirty", got)
	}
	s.Dirty = false
	if got := s.String(); got != "75cacaf01234" {
		t.Errorf("clean String() = %q, want 75cacaf01234", got)
	}
	if got := FromBuildInfo(nil).String(); got != Unknown {
		t.Errorf("no build info: %q, want %q", got, Unknown)
	}
	if got := FromBuildInfo(&debug.BuildInfo{}).String(); got != Unknown {
		t.Errorf("no VCS settings: %q, want %q", got, Unknown)
	}
}

func TestParseAndSame(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"75cacaf01234", "75cacaf01234", true},
		{"75cacaf01234", "75cacaf0123456789abcdef0123456789abcdef0", true}, // short and full forms
		{"75cacaf01234", "75cacaf01235", false},
		{"75cacaf01234-dirty", "75cacaf01234-dirty", false}, // dirty code cannot be told apart
		{"75cacaf01234", Unknown, false},
		{"", "", false},
		{"not-a-commit", "not-a-commit", false},
	} {
		if got := Same(tc.a, tc.b); got != tc.same {
			t.Errorf("Same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	for _, bad := range []string{"xyz", "75CACAF", "123", "75cacaf01234-clean", "75cacaf0123456789abcdef0123456789abcdef01"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if s, err := Parse("abcdef1-dirty"); err != nil || s.Commit != "abcdef1" || !s.Dirty {
		t.Errorf("Parse(abcdef1-dirty) = %+v, %v", s, err)
	}
}
