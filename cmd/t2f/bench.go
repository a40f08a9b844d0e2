package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/t2f/t2f/kernels"
)

// newBenchCommand is the parent of the speed benchmarks. Each benchmark is a
// subcommand in its own file (bench_<name>.go); add its constructor to the list.
func newBenchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure the speed of the engine on this machine",
		Description: `Benchmarks print medians of several timed rounds. The machine may be shared:
compare only with references measured in the same run (see docs/benchmarks.md).`,
		Subcommands: []*cli.Command{
			newBenchGemmCommand(),
			newBenchTrainCommand(),
		},
	}
}

// gemmBenchRow is one line of `t2f bench gemm --json`.
type gemmBenchRow struct {
	Shape    string  `json:"shape"`
	M        int     `json:"m"`
	N        int     `json:"n"`
	K        int     `json:"k"`
	TransA   bool    `json:"trans_a"`
	TransB   bool    `json:"trans_b"`
	Threads  int     `json:"threads"`
	Kernel   string  `json:"kernel"`
	MedianMs float64 `json:"median_ms"`
	GFLOPS   float64 `json:"gflops"`
}

func newBenchGemmCommand() *cli.Command {
	return &cli.Command{
		Name:  "gemm",
		Usage: "measure float32 GEMM GFLOP/s on the convolution-shaped products of ResNet-18 and LeNet",
		Description: `Times kernels.Gemm.Sgemm on the products the engine runs for convolutions
(im2col lowering: forward W·col, weight gradient dY·colᵀ, input gradient Wᵀ·dY)
of ResNet-18 32×32 (images batched to at least 256 columns) and LeNet (one
image), the 64×8192×576 reference product, LeNet's first linear layer and a
square 1024³ product. Each figure is the median of --rounds rounds of about
--min-round each.

Without --threads it measures 1 thread and then all cores. The reference on the
same machine is scripts/bench_gemm.py (numpy/OpenBLAS and torch.mm, 1 and 2 threads).

EXAMPLES:
   t2f bench gemm                         # 1 thread and all cores, table
   t2f bench gemm --threads 2 --json      # 2 threads, JSON array
   t2f bench gemm --shape layer1          # only shapes whose name contains "layer1"
   /usr/bin/python3 scripts/bench_gemm.py # the OpenBLAS reference, same shapes`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "threads", Usage: "goroutines per product (0: 1 and then all cores)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of rows instead of a table"},
			&cli.StringFlag{Name: "shape", Usage: "only shapes whose name contains this text"},
			&cli.IntFlag{Name: "rounds", Value: 5, Usage: "timed rounds per shape (the median is reported)"},
			&cli.DurationFlag{Name: "min-round", Value: 100 * time.Millisecond, Usage: "minimum duration of one round"},
		},
		Action: runBenchGemm,
	}
}

func runBenchGemm(c *cli.Context) error {
	threads := []int{1, runtime.NumCPU()}
	switch t := c.Int("threads"); {
	case t < 0:
		return usageError{fmt.Sprintf("--threads %d: want 0 (1 and all cores) or a positive count", t)}
	case t > 0:
		threads = []int{t}
	case runtime.NumCPU() == 1:
		threads = []int{1}
	}
	if c.Int("rounds") < 1 {
		return usageError{fmt.Sprintf("--rounds %d: want at least 1", c.Int("rounds"))}
	}
	if c.Duration("min-round") <= 0 {
		return usageError{fmt.Sprintf("--min-round %v: want a positive duration", c.Duration("min-round"))}
	}
	var shapes []kernels.GemmShape
	for _, s := range kernels.ConvGemmShapes() {
		if strings.Contains(s.Name, c.String("shape")) {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 {
		return usageError{fmt.Sprintf("--shape %q matches no shape", c.String("shape"))}
	}
	w := c.App.Writer
	asJSON := c.Bool("json")
	if !asJSON {
		fmt.Fprintf(w, "%-20s %3s %-6s %5s %5s %5s %2s %10s %8s\n", "shape", "thr", "kernel", "m", "n", "k", "op", "median_ms", "GFLOP/s")
	}
	var rows []gemmBenchRow
	for _, t := range threads {
		g := kernels.NewGemm(t)
		for _, s := range shapes {
			if err := c.Context.Err(); err != nil {
				return err
			}
			r := kernels.MeasureGemm(g, s, c.Int("rounds"), c.Duration("min-round"))
			row := gemmBenchRow{
				Shape: s.Name, M: s.M, N: s.N, K: s.K, TransA: s.TransA, TransB: s.TransB,
				Threads: t, Kernel: g.Kernel(), MedianMs: r.Median.Seconds() * 1e3, GFLOPS: r.GFLOPS,
			}
			rows = append(rows, row)
			if !asJSON {
				fmt.Fprintf(w, "%-20s %3d %-6s %5d %5d %5d %2s %10.3f %8.1f\n", row.Shape, t, row.Kernel, s.M, s.N, s.K, opName(s), row.MedianMs, row.GFLOPS)
			}
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rows)
	}
	if r := scalingCheck(rows); r != "" {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintf(w, "Made by t2f %s\n", buildStamp())
	return nil
}

// scalingCheck reports how the square product scaled from 1 thread to the
// most threads measured: about the thread count on an idle machine, much less
// when other processes hold the cores (then 2-thread figures are unreliable).
func scalingCheck(rows []gemmBenchRow) string {
	var one, many *gemmBenchRow
	for i := range rows {
		r := &rows[i]
		if r.Shape != "square.1024" {
			continue
		}
		if r.Threads == 1 {
			one = r
		} else if many == nil || r.Threads > many.Threads {
			many = r
		}
	}
	if one == nil || many == nil {
		return ""
	}
	return fmt.Sprintf("square.1024 scaling: %d threads run at %.2f× 1 thread (≈%d on an idle machine; much less means the cores are shared and multi-thread figures are unreliable)",
		many.Threads, many.GFLOPS/one.GFLOPS, many.Threads)
}

// opName is the BLAS-style transpose pair, e.g. "NT" for A·Bᵀ.
func opName(s kernels.GemmShape) string {
	n := func(t bool) string {
		if t {
			return "T"
		}
		return "N"
	}
	return n(s.TransA) + n(s.TransB)
}
