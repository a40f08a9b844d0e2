#!/usr/bin/python3
"""Generates the PyTorch checkpoint fixtures of formats/pth and train/nn.

Rerun from the repository root with Debian's interpreter (torch 1.13 CPU):

    /usr/bin/python3 scripts/gen_pth_fixtures.py

Deterministic (fixed seeds, one thread), except the bytes of the legacy
files written by torch.save (legacy.pth, legacy_views.pth, legacy_cut.pth,
legacy_f64.pth: the legacy format records storage object addresses as keys),
whose values do not change. Every .pth is written by torch.save itself,
except legacy_storage_views.pth (the legacy layout written here, checked by
loading it with torch.load); expected values are computed by torch (for the
legacy files: from torch.load of the file) and written to
formats/pth/testdata/expected.json, so the Go tests compare against PyTorch,
not against the Go reader.

Files (formats/pth/testdata/):

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
  legacy.pth           r18_w1-64's state_dict (same dtypes and views) saved
                       with _use_new_zipfile_serialization=False (the legacy
                       pre-1.6 format).
  legacy_views.pth     small tensors of many dtypes sharing storages at
                       offsets, legacy format.
  legacy_cut.pth       legacy_views.pth without its last 5 bytes (refused as
                       truncated; also used by other packages' tests as a
                       legacy file that cannot be read).
  legacy_f64.pth       float64 tensors (rounding ties, overflow, subnormals,
                       NaN, views) under {"epoch", "state_dict", "optimizer"
                       (with a storage of its own)}, legacy format.
  legacy_storage_views.pth  the legacy layout written by hand as old torch
                       and Python 2 wrote it: storage views (view_metadata),
                       SHORT_BINSTRING/BINSTRING strings, an int root key,
                       the key list in another order than the pickle's.
  whole_model.pth      torch.save(nn.Linear(2, 3)) (a pickled module, refused).

expected.json:
  input_formula        x[i] = 1.5·sin(0.1·i) over the flat NCHW index i, float32
  <case>: {input_shape, logits, logits_ood and tau (T2FNorm), feature,
           tensors (r18 only): [{name, file_dtype, shape, sum, head}]}
     eval-mode forward of the model after loading the file's values
     (rounded to float32 as the Go reader does): logits = fc(f) for the
     plain ResNets; T2FNorm logits = fc(normalize(f)/τ), logits_ood = fc(f/τ).
  views: {name: {dtype, shape, values (row-major, as float or int)}}
  legacy: {tensors: as r18_w1-64's, from torch.load("legacy.pth")}
  legacy_views, legacy_f64, legacy_storage_views: {name: {dtype, shape,
     bits}} of torch.load's state_dict in its order: bits are the float32
     bit patterns of floating-point tensors (after .to(torch.float32)) and
     the values of integer and bool tensors.
"""
import collections
import json
import math
import os
import pickle
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "formats", "pth", "testdata")
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
    return sd


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


def f32_bits(t):
    """float32 values as their IEEE bit patterns (exact, and JSON has no NaN/Inf)."""
    return [int(b) for b in t.detach().to(torch.float32).contiguous().reshape(-1).view(torch.int32).to(torch.int64) & 0xffffffff]


def loaded(path):
    """What torch.load returns for path: {name: {dtype, shape, bits}} of the
    state_dict (under "state_dict" when the file holds a wrapper)."""
    obj = torch.load(path)
    sd = obj["state_dict"] if "state_dict" in obj else obj
    return {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                "bits": f32_bits(v) if v.is_floating_point() else [int(x) for x in v.reshape(-1).to(torch.int64)]}
            for k, v in sd.items()}


def legacy_cases(out, r18_sd):
    """Files in the legacy format, expected values from torch.load of each."""
    legacy = os.path.join(OUT, "legacy.pth")
    torch.save(r18_sd, legacy, _use_new_zipfile_serialization=False)
    back = torch.load(legacy)
    assert list(back) == list(r18_sd) and all(torch.equal(back[k], r18_sd[k]) for k in r18_sd)
    out["legacy"] = {"tensors": describe(back)}

    base = torch.arange(12, dtype=torch.float32) * 0.25 - 1
    views = {
        "f32": base.view(3, 4),
        "tail": base[5:9],                   # offset 5 into f32's storage
        "transposed": base.view(3, 4).t(),   # stride (1, 4)
        "corner": base.view(3, 4)[1:, 1:3],  # offset 5, stride (4, 1)
        "f16": torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.5, 3e38, 1e-30], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2 ** 40), 0, 7], dtype=torch.int64),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }
    path = os.path.join(OUT, "legacy_views.pth")
    torch.save(views, path, _use_new_zipfile_serialization=False)
    out["legacy_views"] = loaded(path)
    with open(path, "rb") as f:
        data = f.read()
    # Cut inside the last storage's data: refused as truncated.
    with open(os.path.join(OUT, "legacy_cut.pth"), "wb") as f:
        f.write(data[:len(data) - 5])

    # float64 tensors (rounded to float32 by the reader, as .to(torch.float32)
    # does: ties to even, overflow to ±Inf, underflow to subnormals and ±0),
    # inside a training-script wrapper whose optimiser state has storages
    # of its own.
    halfway = 1 + 2.0 ** -24  # exactly between 1 and the next float32
    w = torch.tensor([0.1, 1 / 3, -2.5, 1e300, -1e300, 1e-50, 1e-40, -1e-45, 3.4028235677973366e38,
                      halfway, 1 + 3 * 2.0 ** -24, -0.0, float("inf"), float("nan")], dtype=torch.float64)
    grid = torch.arange(20, dtype=torch.float64).div(7).view(4, 5)
    sd = collections.OrderedDict([
        ("w", w),
        ("grid_t", grid.t()),           # stride (1, 5)
        ("row2", grid[2]),              # offset 10 into grid's storage
        ("num_batches_tracked", torch.tensor(5)),
    ])
    path = os.path.join(OUT, "legacy_f64.pth")
    torch.save({"epoch": 3, "state_dict": sd,
                "optimizer": {"state": {0: {"momentum_buffer": torch.arange(3, dtype=torch.float64)}},
                              "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0]}]}},
               path, _use_new_zipfile_serialization=False)
    out["legacy_f64"] = loaded(path)

    storage_views_case(out)


MAGIC_NUMBER = 0x1950a86a20f9469cfc6c


class _Storage:
    """Stands for a storage in a hand-written legacy pickle: pickled as its
    persistent id."""

    def __init__(self, pid):
        self.pid = pid


class _Tensor:
    """Pickles as torch.Tensor does: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Py2Pickler(pickle._Pickler):
    """Writes str as Python 2 did (SHORT_BINSTRING / BINSTRING), and
    _Storage as persistent ids."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        b = obj.encode("utf-8")
        if len(b) < 256:
            self.write(b"U" + bytes([len(b)]) + b)
        else:
            self.write(b"T" + struct.pack("<i", len(b)) + b)
        self.memoize(obj)

    dispatch[str] = save_py2_str

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Storage) else None


def storage_views_case(out):
    """legacy_storage_views.pth: the legacy layout written by hand, as torch
    < 1.0 could write it: storage views (view_metadata), Python 2 strings,
    an int root key, the key list in another order than the pickle's."""
    a = (torch.arange(10, dtype=torch.float32) * 0.5 - 2)
    b = torch.arange(6, dtype=torch.float64) / 3 + 10
    roots = [("140", torch.FloatStorage, a), (77, torch.DoubleStorage, b)]

    def st(i, view=None):
        key, typ, data = roots[i]
        return _Storage(("storage", typ, key, "cpu", data.numel(), view))

    long_name = "n" * 300  # a BINSTRING (4-byte length) key
    obj = collections.OrderedDict([
        ("a_full", _Tensor(st(0), 0, [10], [1])),
        ("v1_mid", _Tensor(st(0, ("901", 2, 5)), 1, [3], [1])),      # a[3:6]
        ("v1_again", _Tensor(st(0, ("901", 2, 5)), 0, [5], [1])),    # a[2:7]
        ("v2_2d", _Tensor(st(0, ("902", 4, 6)), 0, [2, 3], [1, 2])),  # a[4:10] seen as (2, 3), stride (1, 2)
        ("b_view", _Tensor(st(1, ("903", 1, 4)), 0, [2, 2], [2, 1])),  # b[1:5] as (2, 2)
        (long_name, _Tensor(st(0), 9, [1], [1])),                    # a[9:]
    ])
    want = {
        "a_full": a, "v1_mid": a[3:6], "v1_again": a[2:7],
        "v2_2d": torch.as_strided(a[4:10], (2, 3), (1, 2)), "b_view": b[1:5].view(2, 2), long_name: a[9:],
    }
    path = os.path.join(OUT, "legacy_storage_views.pth")
    with open(path, "wb") as f:
        for v in (MAGIC_NUMBER, 1001, {"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            _Py2Pickler(f, protocol=2).dump(v)
        _Py2Pickler(f, protocol=2).dump(obj)
        keys = [77, "140"]  # data of b first
        _Py2Pickler(f, protocol=2).dump(keys)
        for key in keys:
            data = next(d for k, _, d in roots if k == key)
            f.write(struct.pack("<q", data.numel()))
            f.write(data.numpy().tobytes())
    got = torch.load(path)
    assert list(got) == list(want), list(got)
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), (k, got[k], want[k])
    out["legacy_storage_views"] = loaded(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    out = {"input_formula": "x[i] = float32(1.5*sin(0.1*i)), i the flat NCHW index"}
    r18_sd = r18_case(out)
    t2fnorm_case(out)
    resnet50_case(out)
    views_case(out)
    legacy_cases(out, r18_sd)
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
