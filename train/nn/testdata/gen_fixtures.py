#!/usr/bin/python3
"""PyTorch reference fixtures for the torchvision-style networks (ResNet-50's
Bottleneck and ResNet-18 224×224's BasicBlock/max-pool stem), complementing
train/testdata/torch/ (whose ResNet-50 case runs 2 images at 32×32, so its
last stage normalises 2 values per channel and is chaotic under float32
rounding: a test against it cannot be tight).

Rerun from the repository root with Debian's interpreter (torch 1.13 CPU):

    /usr/bin/python3 train/nn/testdata/gen_fixtures.py

It reuses scripts/gen_torch_fixtures.py's model_case (same tensor names and
layout, documented there) with 64×64 images, so the last stage sees 2×2
maps: 8 images for ResNet-50 and 4 for ResNet-18 (32 and 16 values per
channel). Conditioning was checked by comparing PyTorch float32 gradients
with float64 ones: worst |diff|/max|grad| 1.7e-4 (ResNet-50 batch 8; batch 4
gives 7e-2, hence 8) and 6e-6 (ResNet-18 224). The ResNet-50 case has no SGD
steps: with ~10⁶ ReLU inputs, a few sit within float32 rounding of the kink,
so the Go test compares its gradients by relative L2 error only, and three
steps at lr 0.1 would amplify those flips.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gen_torch_fixtures as gtf  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gtf.OUT = HERE
    gtf.model_case("resnet50_w0.0625_64px_t2fnorm", "resnet50", True, (3, 64, 64), 8, seed=40, width=0.0625, steps=0)
    gtf.model_case("resnet18_224x224_w0.0625_64px_t2fnorm", "resnet18_224x224", True, (1, 64, 64), 4, seed=50, width=0.0625)


if __name__ == "__main__":
    main()
