#!/usr/bin/python3
"""Generates train/checkpoint/testdata: OpenOOD-format checkpoints made by
OpenOOD's own, unmodified network classes, and PyTorch's eval-mode outputs
on a handful of images, for the exactness tests of `t2f features
--checkpoint` (CI has no Python: the outputs are committed).

Run from the repository root with Debian's interpreter (torch 1.13 CPU,
torchvision 0.14) and OpenOOD's source checked out (Jingkang50/OpenOOD):

    /usr/bin/python3 scripts/gen_openood_ckpt_fixtures.py [OPENOOD_DIR]

OPENOOD_DIR defaults to ../openood. The module files of
openood/networks/ (lenet.py, resnet18_32x32.py, resnet18_224x224.py,
resnet50.py, t2fnorm_net.py) are imported directly, not through the
package __init__ (which pulls in CLIP and other heavy dependencies).

Narrow widths keep the files small: OpenOOD's ResNet classes hard-code the
stage widths 64-128-256-512, so after constructing them the stem, the four
stages (built by the class's own _make_layer with OpenOOD's/torchvision's
block classes) and fc are rebuilt at t2f's width multiplier w (stage width
max(1, floor(base·w + ½))); the forward passes are the classes' own.

Files (all written by torch.save, like OpenOOD's best.ckpt):

  lenet.pt                  LeNet(10, num_channel=3), plain state_dict, the
                            legacy (pre-1.6) format
  r18_32_t2fnorm.ckpt       T2FNormNet(ResNet18_32x32 w 1/16, 10), set_tau(0.1):
                            "tau" and "backbone.<name>"
  r18_32_linear_module.ckpt ResNet18_32x32 w 1/16 under DataParallel's "module."
  r18_32_t2fnorm_notau.ckpt T2FNormNet(ResNet18_32x32 w 1/64) without its "tau"
                            (τ = 0.5 at training time, as an older OpenOOD wrote)
  r18_224.pth               ResNet18_224x224 w 1/16 (torchvision names), 64×64 inputs
  r50.pth                   ResNet50 w 1/16 (torchvision names), 64×64 inputs
  expected.json             per file: the network, the inputs, PyTorch's outputs and
                            OpenOOD's evaluation (MSP, T2FNorm) of set 0 (ID) against set 1

Inputs: image n of set s is S×S×3 uint8 (HWC), pixel k (flat HWC index)
  h = ((s·1000003 + n·7919 + k) · 2654435761) mod 2³²,  v = h >> 24,
  halved (v >> 1) for s = 1 (the "OOD" set),
then ToTensor + Normalize with CIFAR-10's mean/std (float32, as torchvision).
Outputs: feature (N×D), logits (N×C; T2FNorm: fc(normalize(f)/τ)) and
logits_ood (T2FNormNet.forward_ood_inference: fc(f/τ); linear: = logits),
each row-major.

Deterministic: fixed seeds, one thread. BatchNorm running statistics are
set to random values so that eval mode differs from training mode.
"""
import importlib.util
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

OPENOOD = sys.argv[1] if len(sys.argv) > 1 else "../openood"
OUT = "train/checkpoint/testdata"
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]


def load(name):
    path = os.path.join(OPENOOD, "openood", "networks", name + ".py")
    spec = importlib.util.spec_from_file_location("openood_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


lenet = load("lenet")
r32 = load("resnet18_32x32")
r224 = load("resnet18_224x224")
r50 = load("resnet50")
t2f = load("t2fnorm_net")


def load_metrics():
    path = os.path.join(OPENOOD, "openood", "evaluators", "metrics.py")
    spec = importlib.util.spec_from_file_location("openood_metrics", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


metrics = load_metrics()


def scaled(base, w):
    return max(1, int(math.floor(base * w + 0.5)))


def narrow32(net, w, classes):
    """ResNet18_32x32 at width w: OpenOOD's _make_layer and BasicBlock."""
    c = scaled(64, w)
    net.in_planes = c
    net.conv1 = nn.Conv2d(3, c, kernel_size=3, stride=1, padding=1, bias=False)
    net.bn1 = nn.BatchNorm2d(c)
    for i, base in enumerate([64, 128, 256, 512]):
        setattr(net, "layer%d" % (i + 1), net._make_layer(r32.BasicBlock, scaled(base, w), 2, 1 if i == 0 else 2))
    net.fc = nn.Linear(scaled(512, w), classes)
    return net


def narrowtv(net, w, classes, block, layers):
    """A torchvision ResNet at width w: torchvision's _make_layer and blocks."""
    c = scaled(64, w)
    net.inplanes = c
    net.conv1 = nn.Conv2d(3, c, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(c)
    for i, base in enumerate([64, 128, 256, 512]):
        setattr(net, "layer%d" % (i + 1), net._make_layer(block, scaled(base, w), layers[i], stride=1 if i == 0 else 2))
    net.fc = nn.Linear(scaled(512, w) * block.expansion, classes)
    for m in net.modules():  # torchvision's initialisation of the new layers
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def randomise_bn(net, g):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 1 + 0.2 * torch.randn(n, generator=g)
            m.bias.data = 0.1 * torch.randn(n, generator=g)
            m.running_mean.data = 0.2 * torch.randn(n, generator=g)
            m.running_var.data = 0.5 + torch.rand(n, generator=g)
            m.num_batches_tracked.data = torch.tensor(100 + int(1000 * torch.rand(1, generator=g)))


def images(s, n, size):
    out = torch.empty(n, 3, size, size)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    for i in range(n):
        k = torch.arange(size * size * 3, dtype=torch.int64)
        h = ((s * 1000003 + i * 7919 + k) * 2654435761) % (1 << 32)
        v = (h >> 24).to(torch.uint8)
        if s == 1:
            v = v >> 1
        x = v.view(size, size, 3).permute(2, 0, 1).float().div(255)  # ToTensor
        out[i] = (x - mean) / std  # Normalize
    return out


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    os.makedirs(OUT, exist_ok=True)
    cases = {}

    def record(name, net, backbone, size, n, arch, width, head, tau=None, save=None, legacy=False, file_tau=True):
        randomise_bn(net, g)
        net.eval()
        sd = net.state_dict()
        if save is not None:
            sd = save(sd)
        path = os.path.join(OUT, name)
        if legacy:
            torch.save(sd, path, _use_new_zipfile_serialization=False)
        else:
            torch.save(sd, path)
        sets = {}
        with torch.no_grad():
            for s in (0, 1):
                x = images(s, n, size)
                _, f = backbone(x, return_feature=True)
                if head == "t2fnorm":
                    logits = net(x)
                    ood = net.forward_ood_inference(x)
                else:
                    logits = net(x)
                    ood = logits
                sets[str(s)] = {"feature": flat(f), "logits": flat(logits), "logits_ood": flat(ood)}
        # OpenOOD's evaluation of set 0 (ID, label n mod 10) against set 1
        # (OOD, label -1): MSP = max softmax(logits) (MSPPostprocessor),
        # T2FNorm = max softmax(forward_ood_inference) (T2FNormPostprocessor),
        # metrics by openood/evaluators/metrics.py.
        import numpy as np
        scores = {}
        label = np.array([i % 10 for i in range(n)] + [-1] * n)
        for method, col in (("msp", "logits"), ("t2fnorm", "logits_ood")):
            z = torch.cat([torch.tensor(sets[s][col]).view(n, -1) for s in ("0", "1")])
            conf, pred = torch.max(torch.softmax(z, dim=1), dim=1)
            m = metrics.compute_all_metrics(conf.numpy(), label, pred.numpy())
            scores[method] = {"scores": flat(conf), "fpr95": float(m[0]), "auroc": float(m[1]),
                              "aupr_in": float(m[2]), "aupr_out": float(m[3]), "acc": float(m[4])}
        cases[name] = {"openood_eval": scores, "arch": arch, "width": width, "head": head, "tau": tau, "file_tau": file_tau, "classes": 10,
                       "size": size, "channels": 3, "n": n, "dim": f.shape[1], "sets": sets}

    m = lenet.LeNet(10, num_channel=3)
    record("lenet.pt", m, m, 28, 4, "lenet", 1, "linear", legacy=True)

    b = narrow32(r32.ResNet18_32x32(num_classes=10), 1 / 16, 10)
    net = t2f.T2FNormNet(b, 10)
    net.set_tau(0.1)
    record("r18_32_t2fnorm.ckpt", net, b, 32, 16, "resnet18_32x32", 0.0625, "t2fnorm", tau=0.1)

    b = narrow32(r32.ResNet18_32x32(num_classes=10), 1 / 16, 10)
    record("r18_32_linear_module.ckpt", b, b, 32, 16, "resnet18_32x32", 0.0625, "linear",
           save=lambda sd: {"module." + k: v for k, v in sd.items()})

    b = narrow32(r32.ResNet18_32x32(num_classes=10), 1 / 64, 10)
    net = t2f.T2FNormNet(b, 10)
    net.set_tau(0.5)
    record("r18_32_t2fnorm_notau.ckpt", net, b, 32, 4, "resnet18_32x32", 0.015625, "t2fnorm", tau=0.5,
           save=lambda sd: {k: v for k, v in sd.items() if k != "tau"}, file_tau=False)

    b = narrowtv(r224.ResNet18_224x224(num_classes=10), 1 / 16, 10, r224.BasicBlock, [2, 2, 2, 2])
    record("r18_224.pth", b, b, 64, 3, "resnet18_224x224", 0.0625, "linear")

    b = narrowtv(r50.ResNet50(num_classes=10), 1 / 16, 10, r50.Bottleneck, [3, 4, 6, 3])
    record("r50.pth", b, b, 64, 3, "resnet50", 0.0625, "linear")

    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump({"mean": MEAN, "std": STD, "cases": cases}, fh)


if __name__ == "__main__":
    main()
