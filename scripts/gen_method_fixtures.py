#!/usr/bin/python3
"""Generates the PyTorch fixtures of t2f's training methods from OpenOOD's own
trainers: LogitNorm (openood/trainers/logitnorm_trainer.py), Outlier Exposure
(oe_trainer.py) and T2FNorm + OE (oe_trainer.py on a T2FNormNet set up as
t2fnorm_trainer.py does).

Rerun from the repository root with Debian's interpreter (torch 1.13 CPU) and
an unmodified checkout of Jingkang50/OpenOOD:

    OPENOOD=../openood /usr/bin/python3 scripts/gen_method_fixtures.py

The trainers run as OpenOOD ships them: their train_epoch does the forward,
the loss lines, zero_grad, backward, SGD step (Nesterov, weight decay) and the
per-step cosine scheduler. Only the surroundings are adapted, none of
OpenOOD's code: tqdm (absent from Debian's Python) is a pass-through stub,
Tensor.cuda() returns the tensor itself (CPU), the package __init__ files
(which import every trainer and network and their many dependencies) are
bypassed by registering openood.trainers and openood.networks as bare
packages, the loaders are lists of OpenOOD's batch dicts {'data', 'label'}
behind len() and iter(),
and the config is a namespace with OpenOOD's keys. Recording happens around
the trainer: a forward hook keeps the first step's logits, a wrapper of
Tensor.backward the loss of each step, a wrapper of optimizer.step the first
step's gradients.

It is deterministic (fixed seeds, one thread); rerunning it rewrites the same
bytes. Outputs, in train/testdata/torch/ (see docs/fixtures.md):

<case>.safetensors, one per model case:
    lenet_logitnorm                     OpenOOD LeNet, LogitNormTrainer (tau 0.04), x 8×3×28×28
    lenet_oe                            OpenOOD LeNet, OETrainer (lambda_oe 0.5), x 8 + outliers 6
    resnet18_32x32_w0.0625_logitnorm    ResNet18_32x32 width 1/16 (scripts/torch_models.py), x 4×3×32×32
    resnet18_32x32_w0.0625_oe           the same, OETrainer, x 4 + outliers 6
    resnet18_32x32_w0.0625_t2fnorm_oe   T2FNormNet (tau 0.1) around it, OETrainer, lr 0.02
                                        (at lr 0.1 the OE term on the 1/tau-scaled logits of
                                        this random 1/16-width net drives the loss up 50% per
                                        step, and float32 rounding grows past the tolerance)
  tensors:
    <name>            initial state_dict entry (OpenOOD name; T2FNorm: "tau", "backbone.<name>")
    input             x, the in-distribution batch of every step, NCHW
    target            I64 [N] class indices
    outliers0/1       OE: the two outlier batches; the trainer's outlier
                      iterator runs dry after two steps and restarts, so the
                      steps see outliers0, outliers1, outliers0
    logits            the first step's training forward: [N, K] (OE: [N+U, K], ID rows first)
    loss              the first step's loss (scalar)
    grad.<name>       the first step's gradients (no weight decay)
    step_loss         [3], the loss of each step
    step_lr           [3], the learning rate of each step (OpenOOD's cosine over 3 steps)
    step3.<name>      state_dict after the 3 steps

losses.safetensors: the losses alone on given logits (the "network" is a
zero offset added to the logits, so its gradient is ∂loss/∂logits), through
the same trainers:
    logitnorm.logits [6, 5] (row 2 all zeros), .target, .loss, .glogits   tau 0.04
    oe.logits [7, 5] (rows 0-3 ID, 4-6 outliers), .target [4], .loss, .glogits   lambda 0.5
"""
import importlib
import json
import os
import sys
import types
import warnings

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_torch_fixtures as gtf  # noqa: E402  (save(), clone_state())
import torch_models as tm  # noqa: E402

OPENOOD = os.environ.get("OPENOOD", "../openood")
sys.path.insert(0, OPENOOD)
_tqdm = types.ModuleType("tqdm")
_tqdm.tqdm = lambda it, **kw: it
sys.modules.setdefault("tqdm", _tqdm)
importlib.import_module("openood")
for _pkg in ("openood.trainers", "openood.networks"):
    _m = types.ModuleType(_pkg)
    _m.__path__ = [os.path.join(OPENOOD, *_pkg.split("."))]
    sys.modules[_pkg] = _m
torch.Tensor.cuda = lambda self, *a, **k: self

from openood.networks.lenet import LeNet  # noqa: E402
from openood.networks.t2fnorm_net import T2FNormNet  # noqa: E402
from openood.trainers.logitnorm_trainer import LogitNormTrainer  # noqa: E402
from openood.trainers.oe_trainer import OETrainer  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "train", "testdata", "torch")
LR, MOMENTUM, WEIGHT_DECAY, STEPS = 0.1, 0.9, 5e-4, 3
LOGITNORM_TAU, LAMBDA_OE, T2FNORM_TAU = 0.04, 0.5, 0.1


def ns(**kw):
    return types.SimpleNamespace(**kw)


def config(lr=LR):
    """OpenOOD's config keys the three trainers read; num_epochs 1 over a
    loader of 3 batches makes the cosine span the 3 steps."""
    return ns(optimizer=ns(num_epochs=1, lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY),
              trainer=ns(lambda_oe=LAMBDA_OE, trainer_args=ns(tau=LOGITNORM_TAU)))


class Recorder:
    """Records the loss of every backward and the gradients and learning
    rate of every optimizer step of a trainer."""

    def __init__(self, trainer):
        self.losses, self.lrs, self.grads = [], [], None
        self.params = dict(trainer.net.named_parameters())
        opt = trainer.optimizer
        step = opt.step

        def wrapped(*a, **k):
            self.lrs.append(opt.param_groups[0]["lr"])
            if self.grads is None:
                self.grads = {n: p.grad.detach().clone() for n, p in self.params.items()}
            return step(*a, **k)
        opt.step = wrapped

    def __enter__(self):
        self.backward = torch.Tensor.backward
        rec = self

        def backward(t, *a, **k):
            rec.losses.append(t.detach().clone())
            return rec.backward(t, *a, **k)
        torch.Tensor.backward = backward
        return self

    def __exit__(self, *exc):
        torch.Tensor.backward = self.backward


class Loader:
    """A DataLoader stand-in over a list of batch dicts: len() and iter(),
    whose iterators have len() too (the trainers take len(iter(loader)))."""

    class Iter:
        def __init__(self, batches):
            self.batches, self.i = batches, 0

        def __len__(self):
            return len(self.batches)

        def __next__(self):
            if self.i == len(self.batches):
                raise StopIteration
            self.i += 1
            return self.batches[self.i - 1]

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return Loader.Iter(self.batches)


def run_trainer(net, kind, x, target, outliers, lr=LR):
    """Runs OpenOOD's trainer for 3 steps on the same ID batch and returns
    (first logits, recorder)."""
    loader = Loader([{"data": x, "label": target} for _ in range(STEPS)])
    cfg = config(lr)
    if kind == "logitnorm":
        trainer = LogitNormTrainer(net, loader, cfg)
    else:
        oe_loader = Loader([{"data": u, "label": -torch.ones(u.shape[0], dtype=torch.int64)} for u in outliers])
        trainer = OETrainer(net, loader, oe_loader, cfg)
    first = {}

    def hook(_m, _inp, out):
        first.setdefault("logits", out.detach().clone())
    h = net.register_forward_hook(hook)
    rec = Recorder(trainer)
    with rec:
        trainer.train_epoch(1)
    h.remove()
    return first["logits"], rec


def model_case(name, build, kind, in_shape, batch, seed, t2fnorm=False, outlier_batch=6, lr=LR):
    torch.manual_seed(seed)
    net = build()
    if t2fnorm:
        net = T2FNormNet(net, 10)
        net.set_tau(T2FNORM_TAU)  # what T2FNormTrainer.__init__ does
    net.train()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((batch,) + tuple(in_shape), generator=g)
    target = torch.randint(0, 10, (batch,), generator=g)
    outliers = []
    if kind == "oe":
        outliers = [torch.randn((outlier_batch,) + tuple(in_shape), generator=g) * 1.5 for _ in range(2)]
    out = gtf.clone_state(net)
    out["input"], out["target"] = x, target
    for i, u in enumerate(outliers):
        out["outliers%d" % i] = u
    logits, rec = run_trainer(net, kind, x, target, outliers, lr)
    out["logits"] = logits
    out["loss"] = rec.losses[0]
    for n, gr in rec.grads.items():
        out["grad." + n] = gr
    out["step_loss"] = torch.stack(rec.losses).float()
    out["step_lr"] = torch.tensor(rec.lrs, dtype=torch.float64)
    out.update(gtf.clone_state(net, "step3."))
    meta = {
        "case": name, "trainer": {"logitnorm": "LogitNormTrainer", "oe": "OETrainer"}[kind],
        "head": "t2fnorm" if t2fnorm else "linear", "seed": str(seed), "batch": str(batch),
        "input_shape": json.dumps([batch] + list(in_shape)), "torch": torch.__version__,
        "lr": repr(lr), "momentum": repr(MOMENTUM), "weight_decay": repr(WEIGHT_DECAY), "nesterov": "True",
        "steps": str(STEPS), "schedule": "OpenOOD cosine_annealing over num_epochs(1) × len(loader)(3) steps, lr_min 1e-6",
    }
    if kind == "logitnorm":
        meta["logitnorm_tau"] = repr(LOGITNORM_TAU)
    else:
        meta.update({"lambda_oe": repr(LAMBDA_OE), "outlier_batch": str(outlier_batch)})
    if t2fnorm:
        meta["tau"] = repr(T2FNORM_TAU)
    size = gtf.save(os.path.join(OUT, name + ".safetensors"), out, meta)
    print("%-40s %8d bytes, %d tensors" % (name, size, len(out)))


class Offset(nn.Module):
    """A "network" that returns its input (the logits) plus a zero parameter:
    the parameter's gradient is the loss's gradient in the logits."""

    def __init__(self, n, k):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(n, k))

    def forward(self, x):
        return x + self.offset


def loss_cases():
    g = torch.Generator().manual_seed(4321)
    out = {}
    z = torch.randn(6, 5, generator=g) * 3
    z[2] = 0.0
    t = torch.tensor([0, 4, 1, 1, 3, 2])
    _, rec = run_trainer(Offset(6, 5), "logitnorm", z, t, [])
    out.update({"logitnorm.logits": z, "logitnorm.target": t, "logitnorm.loss": rec.losses[0],
                "logitnorm.glogits": rec.grads["offset"]})

    zi = torch.randn(4, 5, generator=g) * 3
    zo = torch.randn(3, 5, generator=g) * 2
    t = torch.tensor([3, 0, 0, 2])
    net = Offset(7, 5)
    loader = Loader([{"data": zi, "label": t}])
    trainer = OETrainer(net, loader, Loader([{"data": zo, "label": -torch.ones(3, dtype=torch.int64)}]), config())
    rec = Recorder(trainer)
    with rec:
        trainer.train_epoch(1)
    out.update({"oe.logits": torch.cat((zi, zo)), "oe.target": t, "oe.loss": rec.losses[0],
                "oe.glogits": rec.grads["offset"]})
    meta = {"case": "losses", "seed": "4321", "torch": torch.__version__,
            "logitnorm_tau": repr(LOGITNORM_TAU), "lambda_oe": repr(LAMBDA_OE)}
    size = gtf.save(os.path.join(OUT, "losses.safetensors"), out, meta)
    print("%-40s %8d bytes, %d tensors" % ("losses", size, len(out)))


def main():
    # The Recorder wraps optimizer.step after the scheduler wrapped it; the
    # order of the calls is the trainer's, so the scheduler's warning is moot.
    warnings.filterwarnings("ignore", message="Seems like `optimizer.step\\(\\)` has been overridden")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    lenet = lambda: LeNet(num_classes=10, num_channel=3)  # noqa: E731
    r18 = lambda: tm.build("resnet18_32x32", num_classes=10, width=0.0625, channels=3)  # noqa: E731
    model_case("lenet_logitnorm", lenet, "logitnorm", (3, 28, 28), 8, seed=40)
    model_case("lenet_oe", lenet, "oe", (3, 28, 28), 8, seed=41)
    model_case("resnet18_32x32_w0.0625_logitnorm", r18, "logitnorm", (3, 32, 32), 4, seed=42)
    model_case("resnet18_32x32_w0.0625_oe", r18, "oe", (3, 32, 32), 4, seed=43)
    model_case("resnet18_32x32_w0.0625_t2fnorm_oe", r18, "oe", (3, 32, 32), 4, seed=44, t2fnorm=True, lr=0.02)
    loss_cases()


if __name__ == "__main__":
    main()
