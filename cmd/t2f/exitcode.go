package main

import (
	"context"
	"errors"
	"strings"
)

// Exit codes, the one place they are defined.
const (
	exitOK          = 0
	exitFailure     = 1   // the work failed: bad input, a failed check, an I/O error
	exitUsage       = 2   // the command line itself is wrong
	exitInterrupted = 130 // stopped by Ctrl-C / SIGTERM (resumable state was saved where the command supports it)
)

const exitCodeHelp = `EXIT CODES:
   0    success
   1    failure (bad input, failed verification, I/O error)
   2    usage error (unknown flag, missing required flag, bad flag value)
   130  interrupted (Ctrl-C); train saves a resumable checkpoint first`

// usageError marks an error caused by the command line rather than the data.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)), strings.HasPrefix(err.Error(), "Required flag"),
		strings.HasPrefix(err.Error(), "No help topic for"): // urfave/cli's unknown subcommand

		return exitUsage
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitFailure
	}
}
