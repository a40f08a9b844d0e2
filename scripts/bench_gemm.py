#!/usr/bin/python3
"""Side-by-side SGEMM reference for `t2f bench gemm`.

Times the same conv-shaped float32 products as kernels.ConvGemmShapes with
numpy (OpenBLAS) and torch.mm, on 1 and 2 threads, and prints one line per
shape (or JSON with --json). Run it right before/after `t2f bench gemm` so both
are measured on the same machine in the same state:

    /usr/bin/python3 scripts/bench_gemm.py            # table
    /usr/bin/python3 scripts/bench_gemm.py --json     # machine-readable

Uses Debian's interpreter (numpy on OpenBLAS 0.3.21, torch 1.13). Thread
counts are set with threadpoolctl (numpy) and torch.set_num_threads.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

# name, transA, transB, m, n, k -- keep in sync with train/kernels/shapes.go.
SHAPES = [
    ("resnet18.conv1.fwd", False, False, 64, 8192, 27),
    ("resnet18.layer1.fwd", False, False, 64, 8192, 576),
    ("resnet18.layer1.dW", False, True, 64, 576, 8192),
    ("resnet18.layer1.dX", True, False, 576, 8192, 64),
    ("resnet18.layer2.fwd", False, False, 128, 2048, 1152),
    ("resnet18.layer3.fwd", False, False, 256, 512, 2304),
    ("resnet18.layer3.dW", False, True, 256, 2304, 512),
    ("resnet18.layer3.dX", True, False, 2304, 512, 256),
    ("resnet18.layer4.fwd", False, False, 512, 128, 4608),
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
    args = ap.parse_args()
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
                rows.append({"shape": name, "threads": threads, "m": m, "n": n, "k": k,
                             "trans_a": ta, "trans_b": tb,
                             "numpy_gflops": flops / t_np / 1e9, "torch_gflops": flops / t_pt / 1e9})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'shape':22s} {'thr':>3s} {'m':>5s} {'n':>5s} {'k':>5s}  numpy/OpenBLAS  torch.mm  (GFLOP/s)")
    for r in rows:
        print(f"{r['shape']:22s} {r['threads']:3d} {r['m']:5d} {r['n']:5d} {r['k']:5d}  {r['numpy_gflops']:14.1f}  {r['torch_gflops']:8.1f}")


if __name__ == "__main__":
    main()
