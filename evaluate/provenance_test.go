package evaluate

import (
	"bytes"
	"strings"
	"testing"
)

// results.json and the report carry the build that scored; a comparison
// says when its two results come from different or unknown code.
func TestResultsNameTheirCode(t *testing.T) {
	one := []float64{0.9}
	mk := func(head, method, code string) *Results {
		res := fakeResult(head, []string{method}, one, one, one, one, one)
		res.Config.Code = code
		var md bytes.Buffer
		if err := WriteMarkdown(&md, res); err != nil {
			t.Fatal(err)
		}
		if want := "Made by t2f " + orUnknown(code) + "."; !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
		r := roundTrip(t, res, head+code+".json")
		if r.Code != code {
			t.Errorf("results.json code %q, want %q", r.Code, code)
		}
		return r
	}
	for _, tc := range []struct {
		name, base, t2f string
		note            string // "" = no note
	}{
		{"same commit", "0123456789ab", "0123456789ab", ""},
		{"different commits", "0123456789ab", "ba9876543210", "different code made them"},
		{"dirty", "0123456789ab-dirty", "0123456789ab-dirty", "cannot be told"},
		{"unstamped", "", "", "cannot be told"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compare(mk("linear", "msp", tc.base), mk("t2fnorm", "t2fnorm", tc.t2f))
			if err != nil {
				t.Fatal(err)
			}
			if (tc.note == "") != (c.CodeNote == "") || !strings.Contains(c.CodeNote, tc.note) {
				t.Errorf("code note %q, want one containing %q", c.CodeNote, tc.note)
			}
			var b bytes.Buffer
			if err := WriteComparison(&b, c, ComparisonLinks{}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(b.String(), "**Warning:**"); got != (tc.note != "") {
				t.Errorf("warning shown %v, want %v:\n%s", got, tc.note != "", b.String())
			}
			if !strings.Contains(b.String(), "Made by t2f ") {
				t.Errorf("comparison does not name its code:\n%s", b.String())
			}
		})
	}
}
