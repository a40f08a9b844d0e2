package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// deviceFlag is the --device flag of train, features and bench train.
func deviceFlag() cli.Flag {
	return &cli.StringFlag{Name: "device", Value: "cpu", Usage: "compute device: cpu, or cuda / cuda:N (GPU N) in the t2f-cuda build " +
		"(go tool task cuda:build); there T2F_GEMM=auto|cublas|ptx and T2F_CUBLAS=FILE choose the GEMM (docs/cuda.md)"}
}

// parseDevice reads --device: "cpu", or "cuda" with a GPU ordinal.
func parseDevice(c *cli.Context) (kind string, ordinal int, err error) {
	d := c.String("device")
	switch {
	case d == "" || d == "cpu":
		return "cpu", 0, nil
	case d == "cuda":
		return "cuda", 0, nil
	case strings.HasPrefix(d, "cuda:"):
		n, err := strconv.Atoi(strings.TrimPrefix(d, "cuda:"))
		if err != nil || n < 0 {
			return "", 0, usageError{fmt.Sprintf("--device %q: want cuda:N with a GPU number N ≥ 0", d)}
		}
		return "cuda", n, nil
	}
	return "", 0, usageError{fmt.Sprintf("--device %q: want cpu, cuda or cuda:N", d)}
}
