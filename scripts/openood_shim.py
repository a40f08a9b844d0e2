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
import torch.nn as nn

PACKAGES = ["openood", "openood.postprocessors", "openood.networks", "openood.preprocessors", "openood.evaluators", "openood.utils"]


def install(openood_dir):
    for pkg in PACKAGES:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(openood_dir, *pkg.split("."))]
        sys.modules[pkg] = m
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.cuda.FloatTensor = torch.FloatTensor


class AttrDict(dict):
    """A dict read as attributes, what OpenOOD's post-processors take as config."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e


def narrow_resnet18_32x32(resnet_module, widths):
    """A subclass of OpenOOD's ResNet18_32x32 (resnet_module: the imported
    openood/networks/resnet18_32x32.py; its forward, BasicBlock, shortcut,
    intermediate_forward and forward_threshold) whose __init__ is OpenOOD's
    with the stage widths 64-128-256-512 replaced by widths (4 values)."""

    class Narrow(resnet_module.ResNet18_32x32):
        def __init__(self, num_classes):
            nn.Module.__init__(self)
            block = resnet_module.BasicBlock
            self.in_planes = widths[0]
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.layer1 = self._make_layer(block, widths[0], 2, stride=1)
            self.layer2 = self._make_layer(block, widths[1], 2, stride=2)
            self.layer3 = self._make_layer(block, widths[2], 2, stride=2)
            self.layer4 = self._make_layer(block, widths[3], 2, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(widths[3], num_classes)
            self.feature_size = widths[3]

    return Narrow
