package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/shards"
)

func newPipelineVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a shard directory: checksums, schema, row and class counts",
		UsageText: "t2f pipeline verify DIR",
		Description: `Re-hashes every shard against dataset.json, checks each shard's Arrow schema and row
count, label ranges, id uniqueness and the class histogram. Exits 1 on any mismatch.

Example:
   t2f pipeline verify data/mnist-train && echo ok`,
		Action: func(c *cli.Context) error {
			c, err := reparse(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usageError{"verify takes exactly one shard directory"}
			}
			dir := c.Args().First()
			if err := shards.Verify(dir); err != nil {
				return err
			}
			m, err := shards.ReadManifest(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: ok (%d rows, %d shards, checksums, schema and counts match)\n", dir, m.Rows, len(m.Shards))
			return nil
		},
	}
}
