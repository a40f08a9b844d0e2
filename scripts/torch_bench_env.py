"""Allocator settings for every PyTorch benchmark script, applied before torch is imported.

glibc's malloc serves blocks above its mmap threshold (at most 32 MiB, dynamic) with a fresh mmap
and returns them with munmap, so every training step of a CIFAR ResNet-18 at batch 128 page-faults
and zeroes its large activation buffers again: on this 2-core machine PyTorch 1.13 fp32 training
ran at 21 images/s with a third of its time in the kernel, against 83 images/s when glibc keeps
freed memory (measured 2026-12-07, scripts/bench_torch_models.py). jemalloc or tcmalloc, which
PyTorch's own CPU performance guide recommends, have the same effect; glibc tunables need no extra
package. The Go engine reuses its buffers, so without this the comparison would measure glibc, not
PyTorch.

    import torch_bench_env
    torch_bench_env.apply()   # first thing, before `import torch`
"""
import os
import sys

TUNABLES = ("glibc.malloc.mmap_threshold=4294967296:"
            "glibc.malloc.trim_threshold=17179869184:"
            "glibc.malloc.top_pad=1073741824")


def apply():
    """Re-executes this interpreter once with TUNABLES in GLIBC_TUNABLES (unless already set)."""
    if os.environ.get("GLIBC_TUNABLES") == TUNABLES:
        return
    if "torch" in sys.modules:
        raise RuntimeError("torch_bench_env.apply() must run before torch is imported")
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
