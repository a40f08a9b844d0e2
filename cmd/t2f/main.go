// Command t2f trains and evaluates out-of-distribution detectors with T2FNorm.
//
// Each subcommand lives in its own file and only wires flags to library calls;
// exit codes are mapped in exitcode.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}
