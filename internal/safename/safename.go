// Package safename is the one gate between names read from data (dataset and
// split names in a manifest, class names, checkpoint metadata) and file
// names: a name passes only if it is a single, ordinary path component, so a
// hostile dataset.json cannot make a command write outside its output
// directory. Any package that derives a file name from data must pass it
// through Check first.
package safename

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds a name in bytes (file systems allow 255 per component, and
// the name is usually combined with a suffix).
const MaxLen = 128

// Check returns nil when name can be used as (part of) one file name: it is
// non-empty, valid UTF-8, at most MaxLen bytes, not "." or "..", and holds
// no path separator ('/' or '\\') and no control character. what names the
// name's role in the error ("dataset name").
func Check(what, name string) error {
	var why string
	switch {
	case name == "":
		why = "is empty"
	case len(name) > MaxLen:
		why = fmt.Sprintf("is longer than %d bytes", MaxLen)
	case !utf8.ValidString(name):
		why = "is not valid UTF-8"
	case name == "." || name == "..":
		why = "is a directory reference"
	case strings.ContainsAny(name, `/\`):
		why = "holds a path separator"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		why = "holds a control character"
	default:
		return nil
	}
	return fmt.Errorf("%s %q %s; names from data become file names and must be one plain path component", what, name, why)
}

// Escape returns name made safe as one file-name component: every path
// separator and control character becomes '_', invalid UTF-8 is replaced,
// "" , "." and ".." become "_", and the result is cut to MaxLen bytes. Safe
// names (Check returns nil) come back unchanged.
func Escape(name string) string {
	if Check("", name) == nil {
		return name
	}
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, name)
	for len(name) > MaxLen {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" || name == "." || name == ".." {
		return "_"
	}
	return name
}
