package main

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/pipeline"
	"github.com/t2f/t2f/shards"
)

func newPipelinePreviewCommand() *cli.Command {
	return &cli.Command{
		Name:      "preview",
		Usage:     "write a contact sheet PNG of samples with their labels",
		UsageText: "t2f pipeline preview DIR --out FILE.png [--n 64] [--cols 8] [--seed S]",
		Description: `Draws --n images (the first ones, or a seeded random choice with --seed) on a grid with
each image's label under it ("OOD" for -1).

Example:
   t2f pipeline preview data/mnist-train --out mnist.png --n 48 --cols 12 --seed 1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "PNG file to write (required)"},
			&cli.IntFlag{Name: "n", Value: 64, Usage: "number of images"},
			&cli.IntFlag{Name: "cols", Value: 8, Usage: "grid columns"},
			&cli.Uint64Flag{Name: "seed", Usage: "pick images at random with this seed (0 = the first --n)"},
			&cli.IntFlag{Name: "cell", Value: 64, Usage: "minimum image width in pixels (images are scaled up by an integer factor)"},
		},
		Action: func(c *cli.Context) error {
			c, err := reparse(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usageError{"preview takes exactly one shard directory"}
			}
			if c.String("out") == "" {
				return usageError{"preview needs --out FILE.png"}
			}
			if c.Int("n") <= 0 || c.Int("cols") <= 0 || c.Int("cell") <= 0 {
				return usageError{"--n, --cols and --cell must be positive"}
			}
			if c.Int("n") > maxPreviewImages || c.Int("cell") > maxPreviewCell {
				return usageError{fmt.Sprintf("--n %d, --cell %d: at most %d images of %d pixels", c.Int("n"), c.Int("cell"), maxPreviewImages, maxPreviewCell)}
			}
			r, err := shards.Open(c.Args().First())
			if err != nil {
				return err
			}
			defer r.Close()
			rows := pipeline.PreviewRows(r.Len(), c.Int("n"), c.Uint64("seed"))
			img, err := pipeline.ContactSheet(r, rows, c.Int("cols"), c.Int("cell"))
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				return fmt.Errorf("preview: encode png: %w", err)
			}
			if err := atomicfile.WriteFile(c.String("out"), buf.Bytes()); err != nil {
				return fmt.Errorf("preview: write --out %q: %w", c.String("out"), err)
			}
			fmt.Fprintf(c.App.Writer, "%s: %d images\n", c.String("out"), len(rows))
			return nil
		},
	}
}

// Preview bounds: the sheet is at most maxPreviewImages cells of
// maxPreviewCell² pixels (after scaling), far below a memory problem.
const (
	maxPreviewImages = 1024
	maxPreviewCell   = 512
)
