"""Import OpenOOD's own modules, unmodified, on a CPU-only machine.

OpenOOD's package __init__ files import every trainer and their optional
dependencies; install() replaces the packages with empty modules whose
__path__ is the real directory, so `import openood.postprocessors.x` runs
that file only. The post-processors move tensors to the GPU; here .cuda() is
the identity and torch.cuda.FloatTensor (mds_ensemble's alpha) the CPU type.
Shared by the fixture generators and benchmark scripts that drive OpenOOD.
"""
import os
import sys
import types

import torch

PACKAGES = ["openood", "openood.postprocessors", "openood.networks", "openood.preprocessors", "openood.evaluators", "openood.utils"]


def install(openood_dir):
    for pkg in PACKAGES:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(openood_dir, *pkg.split("."))]
        sys.modules[pkg] = m
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.cuda.FloatTensor = torch.FloatTensor
