package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. stdout and stderr are injected so tests can
// run the CLI in-process.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "t2f",
		Usage: "train and evaluate OOD detectors with T2FNorm",
		Description: `t2f is a pipeline of four stages, each a subcommand:

   t2f pipeline build   image datasets -> Arrow IPC shards
   t2f train            shards -> checkpoint (T2FNorm or cross-entropy baseline)
   t2f features         checkpoint + shards -> Parquet feature files
   t2f score            Parquet features -> OOD metrics, tables, plots

` + exitCodeHelp,
		Version:         buildStamp().String(),
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			// One constructor per subcommand file.
			newScoreCommand(),
			newBenchCommand(),
			newPipelineCommand(),
			newTrainCommand(),
			newFeaturesCommand(),
			newCompareCommand(),
			newDemoCommand(),
			newRecipeCommand(),
		},
	}
	app.ExitErrHandler = func(*cli.Context, error) {} // run maps errors to exit codes
	markUsageErrors(app.Commands)
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
	return app
}

// markUsageErrors makes flag-parsing errors of every (sub)command exit with
// exitUsage.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
		markUsageErrors(c.Subcommands)
	}
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).RunContext(ctx, args)
	if err != nil {
		fmt.Fprintf(stderr, "t2f: %v\n", err)
	}
	return exitCode(ctx, err)
}
