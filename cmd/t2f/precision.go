package main

import (
	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/train/backend"
)

// precisionFlag is the --precision flag of train, features and bench train.
func precisionFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "precision", Value: string(backend.FP32), Usage: usage}
}

const precisionUsage = "arithmetic of convolutions and linear layers: fp32, or bf16 (bfloat16 operands, float32 sums: " +
	"VDPBF16PS on CPUs with AVX512_BF16, an exact but slow emulation elsewhere; parameters, BatchNorm, loss and optimiser stay float32)"

// parsePrecision reads --precision.
func parsePrecision(c *cli.Context) (backend.Precision, error) {
	p, err := backend.ParsePrecision(c.String("precision"))
	if err != nil {
		return "", usageError{"--precision " + c.String("precision") + ": want fp32 or bf16"}
	}
	return p, nil
}
