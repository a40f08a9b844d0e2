#!/usr/bin/python3
"""Side-by-side SGEMM reference for `t2f bench gemm`.

Times the same conv-shaped float32 products as kernels.ConvGemmShapes with
numpy (OpenBLAS) and torch.mm, on 1 and 2 threads, and prints one line per
shape (or JSON with --json). With --t2f BIN it also runs `BIN bench gemm` on
each shape right after the references, so the ratio t2f/OpenBLAS is measured
under the same machine load (the development machine is shared and noisy):

    go build -o /tmp/t2f ./cmd/t2f
    /usr/bin/python3 scripts/bench_gemm.py --t2f /tmp/t2f          # table with ratios
    /usr/bin/python3 scripts/bench_gemm.py --t2f /tmp/t2f --json   # machine-readable

Uses Debian's interpreter (numpy on OpenBLAS 0.3.21, torch 1.13). Thread
counts are set with threadpoolctl (numpy) and torch.set_num_threads.
"""
import argparse
import json
import statistics
import subprocess
import time

import numpy as np
import torch_bench_env  # noqa: E402  (the script's directory is sys.path[0])

torch_bench_env.apply()

import torch
from threadpoolctl import threadpool_limits

# name, transA, transB, m, n, k -- keep in sync with kernels/shapes.go.
SHAPES = [
    ("resnet18.conv1.fwd", False, False, 64, 1024, 27),
    ("resnet18.layer1.fwd", False, False, 64, 1024, 576),
    ("resnet18.layer1.dW", False, True, 64, 576, 1024),
    ("resnet18.layer1.dX", True, False, 576, 1024, 64),
    ("resnet18.layer2.fwd", False, False, 128, 256, 1152),
    ("resnet18.layer2.dW", False, True, 128, 1152, 256),
    ("resnet18.layer2.dX", True, False, 1152, 256, 128),
    ("resnet18.layer3.fwd", False, False, 256, 256, 2304),
    ("resnet18.layer3.dW", False, True, 256, 2304, 256),
    ("resnet18.layer3.dX", True, False, 2304, 256, 256),
    ("resnet18.layer4.fwd", False, False, 512, 256, 4608),
    ("resnet18.layer4.dW", False, True, 512, 4608, 256),
    ("resnet18.layer4.dX", True, False, 4608, 256, 512),
    ("conv.64x8192x576", False, False, 64, 8192, 576),
    ("lenet.conv1.fwd", False, False, 6, 784, 75),
    ("lenet.conv2.fwd", False, False, 16, 100, 150),
    ("lenet.conv2.dW", False, True, 16, 150, 100),
    ("lenet.conv2.dX", True, False, 150, 100, 16),
    ("lenet.fc1.fwd", False, True, 128, 84, 120),
    ("square.1024", False, False, 1024, 1024, 1024),
]


def operands(ta, tb, m, n, k):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return a, b


def median_time(fn, rounds, min_round):
    fn()
    t0 = time.perf_counter()
    fn()
    per = max(time.perf_counter() - t0, 1e-6)
    reps = max(1, int(min_round / per))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print a JSON array")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-round", type=float, default=0.1, help="seconds per round")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--t2f", help="path of a t2f binary to measure on each shape too")
    ap.add_argument("--sweeps", type=int, default=1,
                    help="repeat the whole sweep; report per-shape medians over sweeps (noisy machines)")
    args = ap.parse_args()
    sweeps = [sweep(args) for _ in range(args.sweeps)]
    rows = []
    for i, first in enumerate(sweeps[0]):
        row = dict(first)
        for key in ("numpy_gflops", "torch_gflops", "t2f_gflops", "ratio_t2f_openblas"):
            if key in row:
                row[key] = statistics.median(s[i][key] for s in sweeps)
        row["sweeps"] = len(sweeps)
        rows.append(row)
    report(args, rows)


def sweep(args):
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            for name, ta, tb, m, n, k in SHAPES:
                a, b = operands(ta, tb, m, n, k)
                c = np.empty((m, n), dtype=np.float32)
                opa = a.T if ta else a
                opb = b.T if tb else b
                t_np = median_time(lambda: np.matmul(opa, opb, out=c), args.rounds, args.min_round)
                ta_t, tb_t = torch.from_numpy(a), torch.from_numpy(b)
                opa_t = ta_t.t() if ta else ta_t
                opb_t = tb_t.t() if tb else tb_t
                ct = torch.empty((m, n))
                t_pt = median_time(lambda: torch.mm(opa_t, opb_t, out=ct), args.rounds, args.min_round)
                flops = 2.0 * m * n * k
                row = {"shape": name, "threads": threads, "m": m, "n": n, "k": k,
                       "trans_a": ta, "trans_b": tb,
                       "numpy_gflops": flops / t_np / 1e9, "torch_gflops": flops / t_pt / 1e9}
                if args.t2f:
                    out = subprocess.run(
                        [args.t2f, "bench", "gemm", "--json", "--shape", name, "--threads", str(threads),
                         "--rounds", str(args.rounds), "--min-round", f"{args.min_round}s"],
                        check=True, capture_output=True, text=True).stdout
                    t2f = [r for r in json.loads(out) if r["shape"] == name][0]
                    row["t2f_gflops"] = t2f["gflops"]
                    row["t2f_kernel"] = t2f["kernel"]
                    row["ratio_t2f_openblas"] = t2f["gflops"] / row["numpy_gflops"]
                rows.append(row)
    return rows


def report(args, rows):
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    head = f"{'shape':22s} {'thr':>3s} {'m':>5s} {'n':>5s} {'k':>5s}  numpy/OpenBLAS  torch.mm"
    if args.t2f:
        head += "       t2f  t2f/OpenBLAS"
    print(head + "  (GFLOP/s)")
    for r in rows:
        line = (f"{r['shape']:22s} {r['threads']:3d} {r['m']:5d} {r['n']:5d} {r['k']:5d}"
                f"  {r['numpy_gflops']:14.1f}  {r['torch_gflops']:8.1f}")
        if args.t2f:
            line += f"  {r['t2f_gflops']:8.1f}  {r['ratio_t2f_openblas']:12.2f}"
        print(line)


if __name__ == "__main__":
    main()
