#!/usr/bin/env python3
"""PyTorch eager training throughput of ResNet18_32x32 on the GPU: the
reference for `t2f-cuda bench train --model resnet18_32x32 --device cuda`.

Same network (scripts/torch_models.py, OpenOOD's ResNet18_32x32), same step
as t2f's benchmark: N(0,1) inputs 3×32×32, random labels, batch 128, forward
in train mode, mean cross-entropy, backward, SGD (momentum 0.9, Nesterov,
weight decay 5e-4, lr 0.01). Each figure is the median of --rounds rounds of
at least --min-round seconds, with torch.cuda.synchronize() at the end of each
round; warm-up steps first.

Two modes, both reported:
  fp32     torch.backends.cudnn.allow_tf32 = False and matmul TF32 off: every
           convolution and GEMM in IEEE fp32, as t2f computes (the target
           compares with this one).
  default  PyTorch's defaults (cuDNN convolutions may use TF32 tensor cores).
cudnn.benchmark is on in both (PyTorch users' usual setting for fixed shapes).

Run on the GPU machine inside its Python environment (it has torch with
CUDA): python scripts/bench_torch_gpu.py --json OUT.json
Used by scripts/device-check.sh. Not needed by the Go build or tests.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import ResNet18_32x32  # noqa: E402


def measure(mode, batch, rounds, min_round, warmup, infer):
    if mode == "fp32":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    else:
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default
        torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default since 1.12
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(1)
    dev = torch.device("cuda")
    model = ResNet18_32x32(num_classes=10).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True)
    x = torch.randn(batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    def phase(step, train):
        model.train(train)
        for _ in range(warmup):
            step()
        torch.cuda.synchronize()
        rates = []
        for _ in range(rounds):
            start, n = time.perf_counter(), 0
            while n == 0 or time.perf_counter() - start < min_round:
                step()
                n += 1
            torch.cuda.synchronize()
            rates.append(n * batch / (time.perf_counter() - start))
        return statistics.median(rates), [min(rates), max(rates)]

    out = {"mode": mode, "batch": batch, "rounds": rounds}
    out["train_images_per_s"], out["train_min_max"] = phase(train_step, True)
    if infer:
        out["infer_images_per_s"], out["infer_min_max"] = phase(infer_step, False)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-round", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--modes", default="fp32,default")
    ap.add_argument("--json", help="write the results to this file as well")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_torch_gpu: torch.cuda.is_available() is False")
    res = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "gpu": torch.cuda.get_device_name(0), "model": "resnet18_32x32", "results": []}
    for mode in a.modes.split(","):
        if mode not in ("fp32", "default"):
            sys.exit(f"bench_torch_gpu: mode {mode!r}, want fp32 or default")
        r = measure(mode, a.batch_size, a.rounds, a.min_round, a.warmup, infer=True)
        res["results"].append(r)
        print(f"torch {mode:7s} resnet18_32x32 batch {a.batch_size}: train {r['train_images_per_s']:.1f} images/s "
              f"(min {r['train_min_max'][0]:.1f}, max {r['train_min_max'][1]:.1f}), "
              f"infer {r['infer_images_per_s']:.1f} images/s", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
