// Package plan runs step plans: ordered lists of command lines, each of
// which leaves a stamp when it finishes, so that a rerun skips the steps
// whose command and inputs did not change and goes on where an interrupted
// run stopped. `t2f demo` and `t2f recipe` build plans; this package runs
// and lists them, and knows nothing about what the commands do.
//
// Stamps: a finished step leaves the file <StampDir>/<name> (a Shared step:
// <SharedStampDir>/<name>) holding its arguments joined by NUL bytes. A step
// is up to date while its stamp holds its current arguments, is newer than
// every input, and every output exists.
//
// Only cmd/t2f imports it.
package plan
