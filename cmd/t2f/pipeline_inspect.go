package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/shards"
)

func newPipelineInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a shard directory: size, shards, class histogram, build parameters",
		UsageText: "t2f pipeline inspect DIR [--json]",
		Description: `Prints the manifest in readable form. --json prints dataset.json itself (for scripts).

Examples:
   t2f pipeline inspect data/mnist-train
   t2f pipeline inspect data/mnist-train --json | jq .class_counts`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the manifest as JSON"},
		},
		Action: func(c *cli.Context) error {
			c, err := reparse(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usageError{"inspect takes exactly one shard directory"}
			}
			dir := c.Args().First()
			m, err := shards.ReadManifest(dir)
			if err != nil {
				return err
			}
			w := c.App.Writer
			if c.Bool("json") {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			fmt.Fprintf(w, "dataset   %s\nsplit     %s\nrows      %d\nimage     %dx%dx%d %s uint8\nshards    %d\n",
				m.Dataset, m.Split, m.Rows, m.Height, m.Width, m.Channels, m.Layout, len(m.Shards))
			if m.SkippedN > 0 {
				fmt.Fprintf(w, "skipped   %d inputs (see --json)\n", m.SkippedN)
			}
			var bp map[string]any
			if json.Unmarshal(m.Build, &bp) == nil {
				var parts []string
				for _, k := range []string{"source", "input", "root", "size", "channels", "resample", "limit", "holdout", "holdout_seed", "part", "label_ood", "skip_bad", "count", "seed"} {
					if v, ok := bp[k]; ok {
						parts = append(parts, fmt.Sprintf("%s=%v", k, v))
					}
				}
				fmt.Fprintf(w, "build     %s\n", strings.Join(parts, " "))
			}
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "label\tclass\trows\tshare\t\n")
			share := func(n int64) string {
				if m.Rows == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(m.Rows))
			}
			for k, n := range m.ClassCounts {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t\n", k, m.Classes[k], n, share(n))
			}
			if m.OODCount > 0 || len(m.Classes) == 0 {
				fmt.Fprintf(tw, "-1\tOOD\t%d\t%s\t\n", m.OODCount, share(m.OODCount))
			}
			return tw.Flush()
		},
	}
}
