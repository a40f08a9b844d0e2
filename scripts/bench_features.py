#!/usr/bin/python3
"""PyTorch side of scripts/bench_features.sh: writes an OpenOOD-format
best.ckpt (random weights, the network classes of scripts/torch_models.py,
whose state_dict names are OpenOOD's) and times the eval-mode forward of
the same network on N random images in batches of B, on T threads.

    bench_features.py save  ARCH SIZE OUT.ckpt
    bench_features.py time  ARCH SIZE N B T      → one line "torch ARCH N images: S s, R images/s"
"""
import os
import sys
import time

import torch_bench_env  # noqa: E402  (the script's directory is sys.path[0])

torch_bench_env.apply()

import torch

sys.path.insert(0, os.path.dirname(__file__))
import torch_models  # noqa: E402


def build(arch):
    if arch == "resnet18_32x32":
        return torch_models.ResNet18_32x32(num_classes=10)
    if arch == "resnet50":
        return torch_models.ResNet50(num_classes=1000)
    raise SystemExit("unknown arch " + arch)


def main():
    cmd, arch, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(0)
    net = build(arch).eval()
    if cmd == "save":
        torch.save(net.state_dict(), sys.argv[4])
        return
    n, b, threads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(threads)
    x = torch.randn(b, 3, size, size)
    with torch.no_grad():
        net(x[:2])  # warm-up
        start = time.perf_counter()
        done = 0
        while done < n:
            k = min(b, n - done)
            net(x[:k])
            done += k
        secs = time.perf_counter() - start
    print(f"torch {arch} {n} images: {secs:.1f} s, {n / secs:.1f} images/s")


if __name__ == "__main__":
    main()
