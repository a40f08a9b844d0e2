package safename

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, name := range []string{"mnist", "fashion-mnist", "cifar10_test", "Ünïcode", "a.b", "..a"} {
		if err := Check("dataset name", name); err != nil {
			t.Errorf("Check(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../../escape", "a/b", `a\b`, "/abs", "tab\there", "nul\x00", "new\nline",
		"\xff\xfe", strings.Repeat("x", MaxLen+1)} {
		err := Check("dataset name", name)
		if err == nil {
			t.Errorf("Check(%q) = nil, want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), "dataset name") {
			t.Errorf("Check(%q) = %q, does not say which name", name, err)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"mnist": "mnist", "../../escape": ".._.._escape", "": "_", ".": "_", "..": "_", "a\x00b\nc": "a_b_c", `a\b`: "a_b",
		"\xff": "_", strings.Repeat("é", MaxLen): strings.Repeat("é", MaxLen/2),
	} {
		got := Escape(in)
		if got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if err := Check("name", got); err != nil {
			t.Errorf("Escape(%q) = %q fails Check: %v", in, got, err)
		}
	}
}
