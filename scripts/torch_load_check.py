#!/usr/bin/python3
"""Loads a safetensors checkpoint into the PyTorch model and runs a forward.

Proves that a checkpoint written by t2f loads in PyTorch with
load_state_dict(strict=True) under OpenOOD's names. Run with Debian's
interpreter from the repository root:

    /usr/bin/python3 scripts/torch_load_check.py CKPT.safetensors --model resnet18_32x32 [--width 0.25] [--t2fnorm]
    /usr/bin/python3 scripts/torch_load_check.py train/testdata/torch/lenet_t2fnorm.safetensors \
        --model lenet --t2fnorm --fixture          # fixture self-check

--model is one of lenet, resnet18_32x32, resnet18_224x224, resnet50,
small_resnet. The class count and input channels are read from the
checkpoint (fc.bias and the first conv weight). Without --fixture every
tensor in the file must be a state_dict entry (strict). With --fixture the
file is one of train/testdata/torch/*.safetensors: the initial state
(tensors without a fixture prefix) is loaded and the train-mode logits
compared with "logits"; then the "step3." state, if present, is loaded and
the eval-mode logits compared with "eval_logits".

With --init-stats the checkpoint is taken to be freshly initialised: each
float tensor of at least 1,000 elements is compared with the same tensor of a
PyTorch-initialised model (its own default init for LeNet/ResNet18_32x32,
torchvision's for ResNet18_224x224/ResNet50): the standard deviations and
the means must agree within five sampling standard errors; constant
tensors (BN weight 1, bias 0, running stats) must be equal.

Exit status 0 when the load and the forward succeed (and, with --fixture,
the logits match to 1e-4 relative), 1 otherwise; the first problem is
printed.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

NP = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "U8": "u1",
      "F16": "<f2", "BOOL": "?", "I8": "i1", "I16": "<i2"}
SIZE = {"F32": 4, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "F16": 2, "BF16": 2,
        "BOOL": 1, "I8": 1, "I16": 2}

FIXTURE_KEYS = {"input", "target", "logits", "logits_ood", "feature", "loss", "step_loss",
                "eval_logits", "eval_logits_ood", "eval_feature"}


def read_safetensors(path):
    """Returns ({name: torch.Tensor}, metadata), validating offsets."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: shorter than 8 bytes" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    buf = data[8 + n:]
    out = {}
    end_max = 0
    for name, info in header.items():
        dtype, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in NP:
            raise ValueError("%s: tensor %r: unsupported dtype %s" % (path, name, dtype))
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * SIZE[dtype] or e > len(buf):
            raise ValueError("%s: tensor %r: bad data_offsets %r for %s %r" % (path, name, [b, e], dtype, shape))
        arr = np.frombuffer(buf[b:e], dtype=NP[dtype]).reshape(shape)
        out[name] = torch.from_numpy(arr.copy())
        end_max = max(end_max, e)
    if end_max != len(buf):
        raise ValueError("%s: tensors cover %d of %d data bytes" % (path, end_max, len(buf)))
    return out, meta


def infer(state, model, t2fnorm):
    pre = "backbone." if t2fnorm else ""
    fc = state.get(pre + "fc.bias")
    if fc is None:
        raise ValueError("no %sfc.bias in the checkpoint (wrong --t2fnorm?)" % pre)
    first = state.get(pre + ("block1.0.weight" if model == "lenet" else "conv1.weight"))
    if first is None:
        raise ValueError("no first convolution weight in the checkpoint (wrong --model?)")
    return fc.shape[0], first.shape[1]


def build(args, state):
    classes, channels = infer(state, args.model, args.t2fnorm)
    net = tm.build(args.model, num_classes=classes, width=args.width, channels=channels,
                   t2fnorm=args.t2fnorm, tau=1.0)
    net.load_state_dict(state, strict=True)  # raises RuntimeError on any mismatch
    return net, classes, channels


def forward(net, x, t2fnorm, ood=False):
    if t2fnorm and ood:
        return net.forward_ood_inference(x)
    return net(x)


def close(name, got, want, rtol=1e-4):
    err = (got - want).abs().max().item()
    scale = want.abs().max().item() + 1e-6
    ok = err <= rtol * scale + 1e-6
    print("%-16s max |diff| %.3g (scale %.3g) %s" % (name, err, scale, "ok" if ok else "MISMATCH"))
    return ok


def init_stats(args, tensors, classes, channels):
    torch.manual_seed(0)
    ref = tm.build(args.model, num_classes=classes, width=args.width, channels=channels,
                   t2fnorm=args.t2fnorm, tau=1.0).state_dict()
    ok, compared = True, 0
    for name, want in ref.items():
        got = tensors[name]
        if not want.is_floating_point() or name == "tau":
            continue
        if want.numel() > 1 and want.std() == 0:
            if not torch.equal(got, want):
                print("%-40s constant %g in PyTorch, differs here" % (name, want.flatten()[0].item()))
                ok = False
            continue
        if want.numel() < 1000:
            continue
        compared += 1
        n = want.numel()
        ratio = got.std().item() / want.std().item()
        dmean = abs(got.mean().item() - want.mean().item()) / want.std().item()
        # Five sampling standard errors of a std ratio (~1/sqrt(n)) and of a
        # difference of means (sqrt(2/n) std): a wrong init (e.g. uniform
        # fan_in vs normal fan_out) is off by far more.
        if abs(ratio - 1) > max(0.02, 5 / math.sqrt(n)) or dmean > 5 * math.sqrt(2 / n):
            print("%-40s n %d, std ratio %.3f, mean offset %.3f std: NOT PyTorch's initialisation" % (name, n, ratio, dmean))
            ok = False
    print("init stats: %d tensors compared, %s" % (compared, "ok" if ok else "MISMATCH"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--model", required=True, choices=sorted(tm.MODELS))
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--t2fnorm", action="store_true")
    ap.add_argument("--size", type=int, default=0, help="input side for the forward (default: 28 lenet, else 32)")
    ap.add_argument("--fixture", action="store_true", help="the file is a gen_torch_fixtures.py model fixture")
    ap.add_argument("--init-stats", action="store_true",
                    help="compare the weight distributions with PyTorch's initialisation")
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        tensors, meta = read_safetensors(args.file)
        if not args.fixture:
            net, classes, channels = build(args, tensors)
            size = args.size or (28 if args.model == "lenet" else 32)
            net.eval()
            with torch.no_grad():
                x = torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0))
                y = forward(net, x, args.t2fnorm)
                if not torch.isfinite(y).all():
                    raise ValueError("forward produced non-finite logits")
            print("loaded %d tensors strictly into %s%s (classes %d, channels %d); eval forward %s ok"
                  % (len(tensors), args.model, " + T2FNormNet" if args.t2fnorm else "", classes, channels, list(y.shape)))
            if args.init_stats:
                return 0 if init_stats(args, tensors, classes, channels) else 1
            return 0
        init = {k: v for k, v in tensors.items()
                if k not in FIXTURE_KEYS and not k.startswith(("grad.", "step3."))}
        net, classes, channels = build(args, init)
        x = tensors["input"]
        ok = True
        net.train()
        with torch.no_grad():
            ok &= close("logits", forward(net, x, args.t2fnorm), tensors["logits"])
            if "loss" in tensors:
                got = F.cross_entropy(tensors["logits"], tensors["target"])
                ok &= close("loss", got, tensors["loss"])
        step3 = {k[len("step3."):]: v for k, v in tensors.items() if k.startswith("step3.")}
        if step3:
            net.load_state_dict(step3, strict=True)
            net.eval()
            with torch.no_grad():
                ok &= close("eval_logits", forward(net, x, args.t2fnorm), tensors["eval_logits"])
                if "eval_logits_ood" in tensors:
                    ok &= close("eval_logits_ood", forward(net, x, args.t2fnorm, ood=True), tensors["eval_logits_ood"])
        print("%s: %s (metadata case %s)" % (args.file, "ok" if ok else "MISMATCH", meta.get("case")))
        return 0 if ok else 1
    except (ValueError, RuntimeError, KeyError) as e:
        lines = str(e).strip().splitlines()
        more = "\n\t... %d more lines" % (len(lines) - 6) if len(lines) > 6 else ""
        print("%s: %s%s" % (args.file, "\n".join(lines[:6]), more), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
