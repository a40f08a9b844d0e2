#!/usr/bin/python3
"""Generates the PyTorch reference fixtures the Go engine is tested against.

Rerun from the repository root with Debian's interpreter (torch 1.13 CPU):

    /usr/bin/python3 scripts/gen_torch_fixtures.py

It is deterministic (fixed seeds, torch.set_num_threads(1)); rerunning it
rewrites the same bytes. Outputs (all float32 unless noted; full description
with shapes in docs/fixtures.md):

train/testdata/torch/<case>.safetensors, one per model case:
    lenet_linear, lenet_t2fnorm             LeNet(10 classes, 3 channels), x 8×3×28×28
    resnet18_32x32_w0.0625_linear,
    resnet18_32x32_w0.0625_t2fnorm          ResNet18_32x32 width 1/16, x 4×3×32×32
    resnet50_w0.0625_linear                 ResNet50 width 1/16, x 2×3×32×32
                                            (forward + gradients only, no steps)
  tensors:
    <name>             initial state_dict entry, exact PyTorch name
                       (BN num_batches_tracked is I64; T2FNorm: "tau" and "backbone.<name>")
    input              x, NCHW
    target             I64 [N] class indices
    logits             training forward, train mode (batch-stat BN), [N, K]
                       linear: fc(f); T2FNorm: fc(normalize(f)/tau)
    logits_ood         fc(f) (linear) / fc(f/tau) (T2FNorm), same train-mode f
    feature            penultimate f, [N, D]
    loss               scalar [], mean cross-entropy of logits
    grad.<name>        d loss / d parameter at the initial weights (no weight decay)
  model cases with steps only:
    step_loss          [3], the loss at each of the 3 SGD steps (before its update)
    step3.<name>       full state_dict after 3 steps on the same (input, target)
    eval_logits        eval-mode forward after the 3 steps (running-stat BN)
    eval_logits_ood    eval-mode forward_ood_inference after the 3 steps (T2FNorm only)
    eval_feature       eval-mode f after the 3 steps

train/testdata/torch/<case>_bf16.safetensors, one training step under
torch.autocast("cpu", dtype=torch.bfloat16) and the same step in float64:
    lenet_t2fnorm_bf16                      LeNet(10 classes, 3 channels), x 8×3×28×28
    resnet18_32x32_w0.0625_linear_bf16,
    resnet18_32x32_w0.0625_t2fnorm_bf16     ResNet18_32x32 width 1/16, x 8×3×32×32
  tensors: the initial state_dict, input, target, then for run in
  {autocast, fp64}: <run>.logits, <run>.logits_ood, <run>.feature,
  <run>.loss, <run>.grad.<name> (float32; the float64 run rounded to float32
  only when saved). The float64 run is the exact answer both bf16 engines
  are measured against.
  (--bf16-only regenerates just these files.)

train/testdata/torch/layers.safetensors: single-layer forward/backward cases
    (prefix per case; see docs/fixtures.md).

train/testdata/statedict/<model>[_t2fnorm].json: ordered [{name, shape, dtype}]
    of state_dict() at width 1 for lenet (3 channels, 10 classes),
    resnet18_32x32 (10), resnet18_224x224 (200), resnet50 (1000).

Debian has no python3-safetensors, so save() below writes the format by hand
the way the reference writer does (descending dtype rank, then name; compact
header, "__metadata__" first with sorted keys, space padding to 8 bytes).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "train", "testdata", "torch")
STATEDICT = os.path.join(ROOT, "train", "testdata", "statedict")

LR, MOMENTUM, WEIGHT_DECAY, NESTEROV, STEPS, TAU = 0.1, 0.9, 5e-4, True, 3, 0.1

RANK = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64",
        "F64", "I64", "U64"]
DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"),
          torch.int64: ("I64", "<i8"), torch.int32: ("I32", "<i4"), torch.uint8: ("U8", "u1")}


def st_dtype(t):
    return DTYPES[t.dtype][0]


def save(path, tensors, metadata):
    """Writes {name: torch.Tensor} as safetensors (atomically)."""
    items = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code, np_dtype = DTYPES[t.dtype]
        raw = t.numpy().astype(np_dtype, copy=False).tobytes()
        items.append((name, code, list(t.shape), raw))
    items.sort(key=lambda it: (-RANK.index(it[1]), it[0].encode()))
    header = {"__metadata__": dict(sorted(metadata.items()))}
    off = 0
    for name, code, shape, raw in items:
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, raw in items:
            f.write(raw)
    os.replace(tmp, path)
    return os.path.getsize(path)


def clone_state(net, prefix=""):
    return {prefix + k: v.detach().clone() for k, v in net.state_dict().items()}


def heads(net, x, t2fnorm):
    """One forward in the net's current mode: (logits, logits_ood, feature),
    computed from a single backbone pass (so BN running stats update once)."""
    if t2fnorm:
        _, f = net.backbone(x, return_feature=True)
        logits = net.backbone.fc(F.normalize(f, dim=-1) / net.tau)
        logits_ood = net.backbone.fc(f / net.tau if net.num_classes != 1000 else f)
    else:
        logits, f = net(x, return_feature=True)
        logits_ood = logits
    return logits, logits_ood, f


def model_case(name, model, t2fnorm, in_shape, batch, seed, width=1.0, steps=STEPS, num_classes=10):
    torch.manual_seed(seed)
    net = tm.build(model, num_classes=num_classes, width=width, channels=in_shape[0],
                   t2fnorm=t2fnorm, tau=TAU)
    net.train()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((batch,) + tuple(in_shape), generator=g)
    target = torch.randint(0, num_classes, (batch,), generator=g)
    out = clone_state(net)
    out["input"] = x
    out["target"] = target
    params = dict(net.named_parameters())
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY, nesterov=NESTEROV)

    step_loss = []
    for step in range(max(1, steps)):
        opt.zero_grad(set_to_none=True)
        logits, logits_ood, f = heads(net, x, t2fnorm)
        loss = F.cross_entropy(logits, target)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach().clone()
            out["logits_ood"] = logits_ood.detach().clone()
            out["feature"] = f.detach().clone()
            out["loss"] = loss.detach().clone()
            for pname, p in params.items():
                out["grad." + pname] = p.grad.detach().clone()
        step_loss.append(loss.item())
        if steps == 0:
            break
        opt.step()

    meta = {
        "case": name, "model": model, "head": "t2fnorm" if t2fnorm else "linear",
        "width": repr(width), "num_classes": str(num_classes), "batch": str(batch),
        "input_shape": json.dumps([batch] + list(in_shape)), "seed": str(seed),
        "torch": torch.__version__,
    }
    if t2fnorm:
        meta["tau"] = repr(TAU)
    if steps > 0:
        out["step_loss"] = torch.tensor(step_loss, dtype=torch.float32)
        out.update(clone_state(net, "step3."))
        net.eval()
        with torch.no_grad():
            logits, logits_ood, f = heads(net, x, t2fnorm)
        out["eval_logits"] = logits
        if t2fnorm:
            out["eval_logits_ood"] = logits_ood
        out["eval_feature"] = f
        meta.update({
            "optimizer": "torch.optim.SGD over net.parameters() (all parameters)",
            "lr": repr(LR), "momentum": repr(MOMENTUM), "weight_decay": repr(WEIGHT_DECAY),
            "nesterov": str(NESTEROV), "steps": str(steps),
            "steps_note": "train mode; the same (input, target) at every step; step_loss[i] is the loss before update i+1",
        })
    else:
        meta["steps"] = "0"
    size = save(os.path.join(OUT, name + ".safetensors"), out, meta)
    print("%-40s %8d bytes, %d tensors" % (name, size, len(out)))


def autocast_case(name, model, t2fnorm, in_shape, batch, seed, width=1.0, num_classes=10):
    """One forward/backward under CPU autocast (bfloat16) and in float64."""
    import copy
    torch.manual_seed(seed)
    net = tm.build(model, num_classes=num_classes, width=width, channels=in_shape[0],
                   t2fnorm=t2fnorm, tau=TAU)
    net.train()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((batch,) + tuple(in_shape), generator=g)
    target = torch.randint(0, num_classes, (batch,), generator=g)
    out = clone_state(net)
    out["input"] = x
    out["target"] = target
    net64 = copy.deepcopy(net).double()

    def run(prefix, net, x, ctx):
        net.zero_grad(set_to_none=True)
        with ctx:
            logits, logits_ood, f = heads(net, x, t2fnorm)
            loss = F.cross_entropy(logits, target)
        loss.backward()
        out[prefix + "logits"] = logits.detach().float().clone()
        out[prefix + "logits_ood"] = logits_ood.detach().float().clone()
        out[prefix + "feature"] = f.detach().float().clone()
        out[prefix + "loss"] = loss.detach().float().clone()
        for pname, p in net.named_parameters():
            out[prefix + "grad." + pname] = p.grad.detach().float().clone()

    import contextlib
    run("autocast.", net, x, torch.autocast("cpu", dtype=torch.bfloat16))
    run("fp64.", net64, x.double(), contextlib.nullcontext())
    meta = {
        "case": name, "model": model, "head": "t2fnorm" if t2fnorm else "linear",
        "width": repr(width), "num_classes": str(num_classes), "batch": str(batch),
        "input_shape": json.dumps([batch] + list(in_shape)), "seed": str(seed),
        "torch": torch.__version__, "autocast": 'torch.autocast("cpu", dtype=torch.bfloat16)',
    }
    if t2fnorm:
        meta["tau"] = repr(TAU)
    size = save(os.path.join(OUT, name + ".safetensors"), out, meta)
    print("%-40s %8d bytes, %d tensors" % (name, size, len(out)))


def autocast_cases():
    autocast_case("lenet_t2fnorm_bf16", "lenet", True, (3, 28, 28), 8, seed=10)
    autocast_case("resnet18_32x32_w0.0625_linear_bf16", "resnet18_32x32", False, (3, 32, 32), 8, seed=20, width=0.0625)
    autocast_case("resnet18_32x32_w0.0625_t2fnorm_bf16", "resnet18_32x32", True, (3, 32, 32), 8, seed=20, width=0.0625)


def rnd(g, *shape, scale=1.0):
    return torch.randn(shape, generator=g) * scale


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def layer_cases():
    g = torch.Generator().manual_seed(1234)
    out = {}

    def grads(prefix, y, gy, named):
        y.backward(gy)
        out[prefix + "y"] = y.detach().clone()
        out[prefix + "gy"] = gy
        for n, t in named.items():
            out[prefix + "g" + n] = t.grad.detach().clone()

    # Convolutions: (prefix, N, Cin, H, W, Cout, k, stride, pad, bias)
    for p, n, cin, h, w, cout, k, s, pad, bias in [
            ("conv_3x3_s2_p1_bias.", 2, 3, 7, 7, 4, 3, 2, 1, True),
            ("conv_5x5_s1_p0_bias.", 2, 3, 9, 9, 4, 5, 1, 0, True),   # LeNet block2/3
            ("conv_5x5_s1_p2_bias.", 2, 1, 6, 6, 3, 5, 1, 2, True),   # LeNet block1
            ("conv_3x3_s1_p1.", 2, 4, 6, 5, 3, 3, 1, 1, False),       # ResNet body
            ("conv_1x1_s2.", 2, 4, 7, 7, 6, 1, 2, 0, False),          # shortcut / downsample
            ("conv_7x7_s2_p3.", 1, 3, 11, 11, 4, 7, 2, 3, False)]:    # torchvision stem
        x = leaf(rnd(g, n, cin, h, w))
        wt = leaf(rnd(g, cout, cin, k, k, scale=0.3))
        b = leaf(rnd(g, cout)) if bias else None
        y = F.conv2d(x, wt, b, stride=s, padding=pad)
        out[p + "x"] = x.detach().clone()
        out[p + "weight"] = wt.detach().clone()
        named = {"x": x, "weight": wt}
        if bias:
            out[p + "bias"] = b.detach().clone()
            named["bias"] = b
        grads(p, y, rnd(g, *y.shape), named)

    # BatchNorm2d, train then eval with the updated running stats.
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(rnd(g, 3) * 0.5 + 1)
        bn.bias.copy_(rnd(g, 3) * 0.5)
        bn.running_mean.copy_(rnd(g, 3) * 0.1)
        bn.running_var.copy_(rnd(g, 3).abs() + 0.5)
    out["bn.weight"] = bn.weight.detach().clone()
    out["bn.bias"] = bn.bias.detach().clone()
    out["bn.running_mean"] = bn.running_mean.clone()
    out["bn.running_var"] = bn.running_var.clone()
    out["bn.num_batches_tracked"] = bn.num_batches_tracked.clone()
    x = leaf(rnd(g, 4, 3, 5, 5, scale=2.0) + 0.7)
    out["bn_train.x"] = x.detach().clone()
    bn.train()
    y = bn(x)
    out["bn_train.running_mean"] = bn.running_mean.clone()
    out["bn_train.running_var"] = bn.running_var.clone()
    out["bn_train.num_batches_tracked"] = bn.num_batches_tracked.clone()
    grads("bn_train.", y, rnd(g, *y.shape), {"x": x, "weight": bn.weight, "bias": bn.bias})
    bn.weight.grad = None
    bn.bias.grad = None
    bn.eval()
    x = leaf(out["bn_train.x"])
    out["bn_eval.x"] = x.detach().clone()
    y = bn(x)
    grads("bn_eval.", y, rnd(g, *y.shape), {"x": x, "weight": bn.weight, "bias": bn.bias})

    # Max pooling: LeNet's 2×2/2, torchvision's 3×3/2 pad 1, and ties.
    x = leaf(rnd(g, 2, 3, 6, 6))
    out["maxpool_2.x"] = x.detach().clone()
    y = F.max_pool2d(x, 2)
    grads("maxpool_2.", y, rnd(g, *y.shape), {"x": x})
    x = leaf(rnd(g, 2, 2, 7, 7))
    out["maxpool_3_s2_p1.x"] = x.detach().clone()
    y = F.max_pool2d(x, 3, stride=2, padding=1)
    grads("maxpool_3_s2_p1.", y, rnd(g, *y.shape), {"x": x})
    x = leaf(torch.randint(0, 3, (1, 2, 4, 4), generator=g).float())
    out["maxpool_ties.x"] = x.detach().clone()
    y = F.max_pool2d(x, 2)
    grads("maxpool_ties.", y, rnd(g, *y.shape), {"x": x})

    # Global average pool, ReLU (exact zeros included), Linear.
    x = leaf(rnd(g, 2, 3, 4, 4))
    out["avgpool.x"] = x.detach().clone()
    y = F.adaptive_avg_pool2d(x, 1).view(2, -1)
    grads("avgpool.", y, rnd(g, *y.shape), {"x": x})
    xr = rnd(g, 3, 5)
    xr[0, :2] = 0.0
    x = leaf(xr)
    out["relu.x"] = x.detach().clone()
    y = F.relu(x)
    grads("relu.", y, rnd(g, *y.shape), {"x": x})
    x = leaf(rnd(g, 4, 5))
    wt = leaf(rnd(g, 3, 5, scale=0.4))
    b = leaf(rnd(g, 3))
    out["linear.x"], out["linear.weight"], out["linear.bias"] = x.detach().clone(), wt.detach().clone(), b.detach().clone()
    y = F.linear(x, wt, b)
    grads("linear.", y, rnd(g, *y.shape), {"x": x, "weight": wt, "bias": b})

    # Cross-entropy (mean) and its gradient w.r.t. the logits.
    z = leaf(rnd(g, 5, 4, scale=3.0))
    t = torch.tensor([0, 3, 1, 1, 2])
    out["ce.logits"] = z.detach().clone()
    out["ce.target"] = t
    loss = F.cross_entropy(z, t)
    loss.backward()
    out["ce.loss"] = loss.detach().clone()
    out["ce.glogits"] = z.grad.detach().clone()

    # T2FNorm head: train logits = fc(normalize(f)/tau), ood = fc(f/tau).
    # Row 1 is all zeros, row 2 has norm 5e-13 < eps = 1e-12 (F.normalize
    # divides by max(||f||, eps)), row 3 has a negative entry.
    f = torch.rand(4, 6, generator=g) * 2
    f[1] = 0.0
    f[2] = torch.tensor([3e-13, 4e-13, 0, 0, 0, 0])
    f[3, 0] = -0.5
    tau = torch.tensor(TAU)
    fl = leaf(f)
    wt = leaf(rnd(g, 3, 6, scale=0.4))
    b = leaf(rnd(g, 3))
    out["t2fnorm.feature"] = fl.detach().clone()
    out["t2fnorm.weight"] = wt.detach().clone()
    out["t2fnorm.bias"] = b.detach().clone()
    out["t2fnorm.tau"] = tau.clone()
    normed = F.normalize(fl, dim=-1)
    out["t2fnorm.normalized"] = normed.detach().clone()
    y = F.linear(normed / tau, wt, b)
    grads("t2fnorm.", y, rnd(g, *y.shape), {"feature": fl, "weight": wt, "bias": b})
    fl = leaf(f)
    wt2 = leaf(out["t2fnorm.weight"])
    b2 = leaf(out["t2fnorm.bias"])
    y = F.linear(fl / tau, wt2, b2)
    out["t2fnorm_ood.y"] = y.detach().clone()
    # Normalisation alone, with a cross-entropy loss on top (the training path).
    fl = leaf(f)
    wt3 = leaf(out["t2fnorm.weight"])
    b3 = leaf(out["t2fnorm.bias"])
    t = torch.tensor([2, 0, 1, 2])
    loss = F.cross_entropy(F.linear(F.normalize(fl, dim=-1) / tau, wt3, b3), t)
    loss.backward()
    out["t2fnorm_ce.target"] = t
    out["t2fnorm_ce.loss"] = loss.detach().clone()
    out["t2fnorm_ce.gfeature"] = fl.grad.detach().clone()
    out["t2fnorm_ce.gweight"] = wt3.grad.detach().clone()
    out["t2fnorm_ce.gbias"] = b3.grad.detach().clone()

    # SGD: one parameter, 3 steps with given gradients.
    p = torch.nn.Parameter(rnd(g, 6))
    out["sgd.param"] = p.detach().clone()
    opt = torch.optim.SGD([p], lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, nesterov=NESTEROV)
    for i in range(3):
        gi = rnd(g, 6)
        out["sgd.grad%d" % (i + 1)] = gi
        p.grad = gi.clone()
        opt.step()
        out["sgd.param%d" % (i + 1)] = p.detach().clone()
        out["sgd.momentum%d" % (i + 1)] = opt.state[p]["momentum_buffer"].detach().clone()

    meta = {"case": "layers", "seed": "1234", "torch": torch.__version__,
            "bn": "BatchNorm2d(3) momentum 0.1 eps 1e-5",
            "t2fnorm": "tau 0.1, F.normalize dim=-1 eps=1e-12",
            "sgd": json.dumps({"lr": LR, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY, "nesterov": NESTEROV})}
    size = save(os.path.join(OUT, "layers.safetensors"), out, meta)
    print("%-40s %8d bytes, %d tensors" % ("layers", size, len(out)))


def statedicts():
    os.makedirs(STATEDICT, exist_ok=True)
    for model, classes in [("lenet", 10), ("resnet18_32x32", 10), ("resnet18_224x224", 200), ("resnet50", 1000)]:
        for t2f in (False, True):
            torch.manual_seed(0)
            net = tm.build(model, num_classes=classes, channels=3, t2fnorm=t2f, tau=TAU)
            rows = [{"name": k, "shape": list(v.shape), "dtype": st_dtype(v)} for k, v in net.state_dict().items()]
            path = os.path.join(STATEDICT, model + ("_t2fnorm" if t2f else "") + ".json")
            with open(path + ".tmp", "w") as f:
                f.write("[\n" + ",\n".join(json.dumps(r, separators=(", ", ": ")) for r in rows) + "\n]\n")
            os.replace(path + ".tmp", path)
            print("%-40s %d entries" % (os.path.relpath(path, ROOT), len(rows)))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    if "--bf16-only" in sys.argv[1:]:
        autocast_cases()
        return
    model_case("lenet_linear", "lenet", False, (3, 28, 28), 8, seed=10)
    model_case("lenet_t2fnorm", "lenet", True, (3, 28, 28), 8, seed=10)
    model_case("resnet18_32x32_w0.0625_linear", "resnet18_32x32", False, (3, 32, 32), 4, seed=20, width=0.0625)
    model_case("resnet18_32x32_w0.0625_t2fnorm", "resnet18_32x32", True, (3, 32, 32), 4, seed=20, width=0.0625)
    model_case("resnet50_w0.0625_linear", "resnet50", False, (3, 32, 32), 2, seed=30, width=0.0625, steps=0)
    autocast_cases()
    layer_cases()
    statedicts()


if __name__ == "__main__":
    main()
