#!/usr/bin/python3
"""PyTorch side of the engine benchmark: training and inference images/s.

Run from the repository root with Debian's interpreter (torch 1.13 CPU):

    /usr/bin/python3 scripts/bench_torch_models.py                 # all models, 1 and 2 threads
    /usr/bin/python3 scripts/bench_torch_models.py --models lenet --threads 2 --repeats 9
    /usr/bin/python3 scripts/bench_torch_models.py --threads 2 --precision bf16   # autocast

Prints one JSON object on stdout (progress on stderr). For each model and
thread count, at batch 128 on synthetic N(0,1) input with random targets:

- train: one step = forward (train mode) + mean cross-entropy + backward +
  torch.optim.SGD(lr 0.1, momentum 0.9, nesterov, weight decay 5e-4).step(),
  the OpenOOD recipe; images/s = batch · steps / seconds.
- infer: eval mode, torch.no_grad() forward; images/s likewise.

--precision bf16 runs the forward (and the loss) of both under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's CPU mixed precision
(oneDNN's AVX512_BF16 kernels where the CPU has them): float32 parameters
and optimiser, bfloat16 convolutions and linear layers — the reference for
`t2f bench train --precision bf16`.

Each thread count runs in its own child process with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set (torch.set_num_threads alone
does not bound the BLAS library's own threads). Each measurement: warm-up steps, then a calibration that picks the number of
steps per timed run so a run lasts at least --min-run seconds, then
--repeats timed runs; the median, min and max images/s are reported. A
1024×1024×1024 float32 matmul (GFLOP/s, same thread count; before and
after the models) is measured in the same process as the machine reference: on an idle 2-core machine the
2-thread figure is about twice the 1-thread one; if not, the machine was
busy and the 2-thread numbers are low. The 1-minute load average at the start and
after each thread count is recorded too (on 2 cores, anything above ~1
besides this script means contention; OpenMP's 2-thread runs then collapse).

Models (names as in torch_models.py; the Go engine's `t2f bench train`
measures the same shapes):
    lenet            LeNet, 1×28×28
    resnet18_32x32   ResNet18_32x32 (OpenOOD CIFAR ResNet-18), 3×32×32
    resnet18_w0.25   ResNet18_32x32 structure at width 1/4, 1×28×28
    small_resnet     ResNet-8: widths 16-32-64, one BasicBlock per stage, 1×28×28
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch_bench_env  # noqa: E402  (the script's directory is sys.path[0])

torch_bench_env.apply()

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

CASES = {
    "lenet": dict(model="lenet", width=1.0, shape=(1, 28, 28)),
    "resnet18_32x32": dict(model="resnet18_32x32", width=1.0, shape=(3, 32, 32)),
    "resnet18_w0.25": dict(model="resnet18_32x32", width=0.25, shape=(1, 28, 28)),
    "small_resnet": dict(model="small_resnet", width=1.0, shape=(1, 28, 28)),
}


def timed(fn, warmup, repeats, min_run):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    steps = max(1, int(min_run / one + 0.999))
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        rates.append(steps / (time.perf_counter() - t0))
    return steps, rates


def gemm_gflops(threads, repeats=5):
    torch.set_num_threads(threads)
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    c = torch.empty(1024, 1024)
    steps, rates = timed(lambda: torch.mm(a, b, out=c), 2, repeats, 0.2)
    return round(statistics.median(rates) * 2 * 1024 ** 3 / 1e9, 1)


def bench(name, threads, batch, t2fnorm, warmup, repeats, min_run, precision="fp32"):
    torch.set_num_threads(threads)
    case = CASES[name]
    torch.manual_seed(0)
    net = tm.build(case["model"], num_classes=10, width=case["width"], channels=case["shape"][0],
                   t2fnorm=t2fnorm, tau=0.1)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((batch,) + case["shape"], generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

    import contextlib

    def ctx():
        if precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step():
        opt.zero_grad(set_to_none=True)
        with ctx():
            loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad(), ctx():
            net(x)

    net.train()
    tsteps, train = timed(train_step, warmup, repeats, min_run)
    net.eval()
    isteps, infer = timed(infer_step, warmup, repeats, min_run)
    return {
        "model": name, "input": [batch] + list(case["shape"]), "threads": threads,
        "head": "t2fnorm" if t2fnorm else "linear", "precision": precision,
        "params": sum(p.numel() for p in net.parameters()),
        "train_images_per_s": round(statistics.median(train) * batch, 1),
        "train_min_max": [round(min(train) * batch, 1), round(max(train) * batch, 1)],
        "train_steps_per_run": tsteps,
        "infer_images_per_s": round(statistics.median(infer) * batch, 1),
        "infer_min_max": [round(min(infer) * batch, 1), round(max(infer) * batch, 1)],
        "infer_steps_per_run": isteps,
    }


def worker(args, names, threads):
    """Runs every model at one thread count in this process; returns a dict."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    res = {"gemm_1024_gflops": gemm_gflops(threads), "results": []}
    for m in names:
        print("%s, %d thread(s)" % (m, threads), file=sys.stderr)
        res["results"].append(bench(m, threads, args.batch, args.t2fnorm, args.warmup, args.repeats, args.min_run,
                                    args.precision))
    res["gemm_1024_gflops_after"] = gemm_gflops(threads)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--t2fnorm", action="store_true", help="use the T2FNorm head (default: linear)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-run", type=float, default=0.5, help="seconds per timed run (at least one step)")
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in CASES:
            ap.error("unknown model %r (known: %s)" % (m, ", ".join(CASES)))
    if args.worker:
        json.dump(worker(args, names, args.worker), sys.stdout)
        return
    threads = [int(t) for t in args.threads.split(",") if t]
    out = {
        "torch": torch.__version__, "glibc_tunables": os.environ.get("GLIBC_TUNABLES"), "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "batch": args.batch, "repeats": args.repeats,
        "command": " ".join(["/usr/bin/python3"] + sys.argv),
        "gemm_1024_gflops": {}, "loadavg_1min": [round(os.getloadavg()[0], 2)], "results": [],
    }
    for t in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        argv = [sys.executable, os.path.abspath(__file__), "--worker", str(t)] + [
            a for a in sys.argv[1:]]
        r = json.loads(subprocess.run(argv, env=env, check=True, stdout=subprocess.PIPE).stdout)
        out["gemm_1024_gflops"][str(t)] = [r["gemm_1024_gflops"], r["gemm_1024_gflops_after"]]
        out["results"].extend(r["results"])
        out["loadavg_1min"].append(round(os.getloadavg()[0], 2))
    # One result per line: readable and still one JSON object.
    results = out.pop("results")
    head = json.dumps(out)[:-1]
    print(head + ', "results": [\n  ' + ",\n  ".join(json.dumps(r) for r in results) + "\n]}")


if __name__ == "__main__":
    main()
