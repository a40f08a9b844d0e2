#!/usr/bin/python3
"""Generates the PyTorch checkpoint fixtures of train/pth and train/nn.

Rerun from the repository root with Debian's interpreter (torch 1.13 CPU):

    /usr/bin/python3 scripts/gen_pth_fixtures.py

Deterministic (fixed seeds, one thread), except legacy.pth, whose bytes
change on every run (the legacy format records storage object ids; the test
only needs it to be refused). Every .pth is written by
torch.save itself (the zip format, except legacy.pth); expected values are
computed by torch and written to train/pth/testdata/expected.json, so the Go
tests compare against PyTorch, not against the Go reader.

Files (train/pth/testdata/):

  r18_w1-64.pth        OpenOOD ResNet18_32x32, width 1/64 (stage widths
                       1-2-4-8), 10 classes, random weights and BatchNorm
                       running statistics, saved as a plain state_dict with
                       the dtype and view variations a real file can have:
                         conv1.weight              float16
                         bn1.running_var           float64
                         layer1.0.bn1.weight       bfloat16
                         layer2.0.bn1.weight/bias  views of one storage
                                                   (bias at a non-zero offset)
                         layer3.0.conv1.weight     non-contiguous (a permuted view)
                         fc.weight                 a transposed view (stride (1, 10))
                       num_batches_tracked are int64 scalars.
  t2fnorm_r18_w1-64.pth  OpenOOD T2FNormNet(ResNet18_32x32 width 1/64, 10
                       classes): "tau" (0.1) and "backbone.<name>", saved
                       under {"state_dict": ..., "epoch": 7, "best_acc": 0.5,
                       "note": [1, 2.5, "x", None, True]} (a training-script wrapper).
  resnet50_w1-128.pth  torchvision-named ResNet-50 (Bottleneck, downsample),
                       width 1/128 (stage widths 1-1-2-4, feature 16), 10
                       classes, 64×64 input: a stand-in for
                       resnet50_imagenet1k_v1.pth, used to fine-tune into a
                       model with another class count.
  views.pth            small tensors of every dtype with known values: see
                       expected.json "views".
  legacy.pth           a state_dict saved with _use_new_zipfile_serialization=False
                       (must be refused with a re-save hint).
  whole_model.pth      torch.save(nn.Linear(2, 3)) (a pickled module, refused).

expected.json:
  input_formula        x[i] = 1.5·sin(0.1·i) over the flat NCHW index i, float32
  <case>: {input_shape, logits, logits_ood and tau (T2FNorm), feature,
           tensors (r18 only): [{name, file_dtype, shape, sum, head}]}
     eval-mode forward of the model after loading the file's values
     (rounded to float32 as the Go reader does): logits = fc(f) for the
     plain ResNets; T2FNorm logits = fc(normalize(f)/τ), logits_ood = fc(f/τ).
  views: {name: {dtype, shape, values (row-major, as float or int)}}
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "train", "pth", "testdata")
torch.set_num_threads(1)


def formula_input(shape):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([1.5 * math.sin(0.1 * i) for i in range(n)], dtype=torch.float32).view(shape)


def randomise(net, seed):
    """Random weights and BN statistics, so a wrong tensor shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype != torch.float32 or t.dim() == 0:
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(0.2 * torch.randn(t.shape, generator=g))
            elif t.dim() == 1:  # BN weight
                t.copy_(0.8 + 0.4 * torch.rand(t.shape, generator=g))
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * math.sqrt(2.0 / fan_in))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))


def describe(sd):
    out = []
    for name, t in sd.items():
        v = t.detach().to(torch.float64) if t.is_floating_point() else t.detach().to(torch.int64)
        flat = v.reshape(-1)
        out.append({"name": name, "file_dtype": str(t.dtype).replace("torch.", ""),
                    "shape": list(t.shape), "sum": float(flat.sum()),
                    "head": [float(x) for x in flat[:4]]})
    return out


def as_f32(sd):
    """What the Go reader returns: floats → float32, contiguous."""
    return {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous() for k, v in sd.items()}


def r18_case(out):
    torch.manual_seed(1)
    net = tm.build("resnet18_32x32", num_classes=10, width=1 / 64)
    randomise(net, 11)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    sd["conv1.weight"] = sd["conv1.weight"].half()
    sd["bn1.running_var"] = sd["bn1.running_var"].double()
    sd["layer1.0.bn1.weight"] = sd["layer1.0.bn1.weight"].bfloat16()
    w, b = sd["layer2.0.bn1.weight"], sd["layer2.0.bn1.bias"]
    shared = torch.cat([w, b])
    sd["layer2.0.bn1.weight"], sd["layer2.0.bn1.bias"] = shared[:w.numel()], shared[w.numel():]
    c = sd["layer3.0.conv1.weight"]  # (O, I, 3, 3)
    sd["layer3.0.conv1.weight"] = c.permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)
    assert not sd["layer3.0.conv1.weight"].is_contiguous()
    sd["fc.weight"] = sd["fc.weight"].t().contiguous().t()
    assert sd["fc.weight"].stride() == (1, 10)
    assert sd["layer2.0.bn1.bias"].storage_offset() == w.numel()
    path = os.path.join(OUT, "r18_w1-64.pth")
    torch.save(sd, path)

    net.load_state_dict(as_f32(sd))
    net.eval()
    x = formula_input((2, 3, 32, 32))
    with torch.no_grad():
        logits, f = net(x, return_feature=True)
    out["r18_w1-64"] = {"input_shape": list(x.shape), "logits": logits.reshape(-1).tolist(),
                        "feature": f.reshape(-1).tolist(), "tensors": describe(sd)}


def t2fnorm_case(out):
    torch.manual_seed(2)
    net = tm.build("resnet18_32x32", num_classes=10, width=1 / 64, t2fnorm=True, tau=0.1)
    randomise(net, 12)
    sd = net.state_dict()
    assert list(sd)[0] == "tau"
    path = os.path.join(OUT, "t2fnorm_r18_w1-64.pth")
    torch.save({"state_dict": sd, "epoch": 7, "best_acc": 0.5, "note": [1, 2.5, "x", None, True]}, path)
    net.eval()
    x = formula_input((2, 3, 32, 32))
    with torch.no_grad():
        _, f = net.backbone(x, return_feature=True)
        logits = net(x)
        ood = net.forward_ood_inference(x)
    out["t2fnorm_r18_w1-64"] = {"input_shape": list(x.shape), "logits": logits.reshape(-1).tolist(),
                                "logits_ood": ood.reshape(-1).tolist(), "feature": f.reshape(-1).tolist(),
                                "tau": float(net.tau)}


def resnet50_case(out):
    torch.manual_seed(3)
    net = tm.build("resnet50", num_classes=10, width=1 / 128)
    randomise(net, 13)
    sd = net.state_dict()
    torch.save(sd, os.path.join(OUT, "resnet50_w1-128.pth"))
    net.eval()
    x = formula_input((1, 3, 64, 64))
    with torch.no_grad():
        logits, f = net(x, return_feature=True)
    out["resnet50_w1-128"] = {"input_shape": list(x.shape), "logits": logits.reshape(-1).tolist(),
                             "feature": f.reshape(-1).tolist()}


def views_case(out):
    base = torch.arange(12, dtype=torch.float32) * 0.25 - 1
    sd = {
        "f32": base.view(3, 4),
        "f64": (torch.arange(6, dtype=torch.float64) / 3).view(2, 3),
        "f16": torch.tensor([1.0, -2.5, 65504.0, 6e-8, -0.0, 1 / 3], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.5, 3e38, 1e-30, 1 / 3], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2 ** 40), 0, 7], dtype=torch.int64),
        "i32": torch.tensor([[-5, 6]], dtype=torch.int32),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        "tail": base[5:9],              # offset 5 into the shared storage of f32
        "transposed": base.view(3, 4).t(),  # stride (1, 4)
        "strided": base.view(3, 4)[:, ::2],  # stride (4, 2), offset 0
        "corner": base.view(3, 4)[1:, 1:3],  # offset 5, stride (4, 1)
        "broadcast1": base.view(12, 1)[:1].expand(1, 1),
    }
    torch.save(sd, os.path.join(OUT, "views.pth"))
    views = {}
    for k, v in sd.items():
        vals = v.contiguous().reshape(-1)
        if v.is_floating_point():
            vals = [float(x) for x in vals.to(torch.float32).to(torch.float64)]
        else:
            vals = [int(x) for x in vals.to(torch.int64)]
        views[k] = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "values": vals}
    out["views"] = views


def main():
    os.makedirs(OUT, exist_ok=True)
    out = {"input_formula": "x[i] = float32(1.5*sin(0.1*i)), i the flat NCHW index"}
    r18_case(out)
    t2fnorm_case(out)
    resnet50_case(out)
    views_case(out)
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.manual_seed(0)
    torch.save(nn.Linear(2, 3), os.path.join(OUT, "whole_model.pth"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        print("%-28s %8d bytes" % (name, size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
