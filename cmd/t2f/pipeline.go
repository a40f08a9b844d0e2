package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// newPipelineCommand groups the dataset → shards subcommands.
func newPipelineCommand() *cli.Command {
	return &cli.Command{
		Name:  "pipeline",
		Usage: "turn image datasets into Arrow IPC shard directories and look at them",
		Description: `Build a shard directory from one dataset split, then inspect, verify or preview it:

   t2f pipeline build --source mnist --input DIR --split train --out data/mnist-train --size 28 --channels 1
   t2f pipeline inspect data/mnist-train
   t2f pipeline verify data/mnist-train
   t2f pipeline preview data/mnist-train --out grid.png`,
		Subcommands: []*cli.Command{
			newPipelineBuildCommand(),
			newPipelineInspectCommand(),
			newPipelineVerifyCommand(),
			newPipelinePreviewCommand(),
		},
	}
}

// reparse lets "t2f pipeline preview DIR --out x.png" work: urfave/cli v2
// stops parsing flags at the first positional argument, so flags that
// follow it are parsed here, merged with those given before it.
func reparse(c *cli.Context) (*cli.Context, error) {
	args := c.Args().Slice()
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") && len(a) > 1 }) {
		return c, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	var pre []string
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
		for _, n := range f.Names() {
			if c.IsSet(n) {
				pre = append(pre, "--"+n+"="+fmt.Sprint(c.Value(n)))
				break
			}
		}
	}
	var pos, flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) == 1 {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if fl := set.Lookup(name); fl != nil && i+1 < len(args) {
			if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	if err := set.Parse(append(append(append(pre, flags...), "--"), pos...)); err != nil {
		return nil, usageError{err.Error()}
	}
	nc := cli.NewContext(c.App, set, c.Lineage()[1])
	nc.Command = c.Command
	return nc, nil
}
