"""Oracle fixture for gram: OpenOOD's own, unmodified GRAMPostprocessor.

Runs openood/postprocessors/gram_postprocessor.py (imported from an OpenOOD
checkout, default ../openood or $OPENOOD, module by module through
openood_shim) on small real PyTorch networks built from OpenOOD's network
classes, each trained for a few SGD steps on synthetic 5-class images:

  lenet             OpenOOD's LeNet (1 channel, 28×28), linear head
  resnet18_32x32    OpenOOD's ResNet18_32x32 at stage widths 4-8-16-32
                    (t2f --width 0.0625), 12×12 images; linear and T2FNorm heads
  resnet18_224x224  OpenOOD's ResNet18_224x224 forward on torchvision's
                    BasicBlock (its ReLU modules, downsample) at widths 4-32, 12×12
  resnet50          OpenOOD's ResNet50 forward on torchvision's Bottleneck at
                    widths 4-32 (outputs 16-128), 12×12

GRAMPostprocessor.setup draws its held-out 10% per class with Python's
unseeded random.sample; the generator seeds Python's random (SEED) before
setup and records the positions drawn — random.sample is wrapped to log its
results, OpenOOD's code is not changed — mapped to classes in the order
setup iterates them (the order classes first appear in the train loader).
The Go test passes those positions to features.TrainGramStats.

For each model the fixture holds the hooked activations' shapes (OpenOOD's
FeatureExtractor hook order), the normalisation factors, and the scores
OpenOOD's postprocess gives the ID and OOD test images (−deviation / max
softmax, the network run as the scoring view fc(f/τ) for T2FNorm).

Writes evaluate/posthoc/testdata/gram/: <model>.safetensors (state_dict under
OpenOOD's names), lenet.bin and resnet.bin (float32 NCHW images: train, then
id_test, then ood_test) and fixture.json. Run with Debian's /usr/bin/python3
(torch 1.13, torchvision, python3-tqdm):

    /usr/bin/python3 scripts/gen_gram_fixtures.py
"""
import importlib
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet as tvresnet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openood_shim  # noqa: E402
from gen_network_fixtures import save_safetensors, T2FNormTrain, View, TAU, train  # noqa: E402

OPENOOD = os.environ.get("OPENOOD", "../openood")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluate", "posthoc", "testdata", "gram")

openood_shim.install(OPENOOD)
gram_pp = importlib.import_module("openood.postprocessors.gram_postprocessor")
lenet_mod = importlib.import_module("openood.networks.lenet")
r32 = importlib.import_module("openood.networks.resnet18_32x32")
r224 = importlib.import_module("openood.networks.resnet18_224x224")
r50 = importlib.import_module("openood.networks.resnet50")
metrics = importlib.import_module("openood.evaluators.metrics")

CLASSES = 5
TRAIN_PER_CLASS = 20  # int(0.1·20) = 2 held out per class
WIDTHS = (4, 8, 16, 32)  # OpenOOD's 64-128-256-512 at t2f --width 0.0625
SIZE = 12
N_TEST = 16
SEED = 12


def config():
    return AttrDict(dataset=AttrDict(name="cifar10"),
                    postprocessor=AttrDict(name="gram", postprocessor_args=AttrDict(powers=[1, 2, 3, 4, 5]),
                                           postprocessor_sweep=AttrDict(powers_list=[[1, 2, 3, 4, 5]]), APS_mode=True))


# OpenOOD's ResNet18_32x32 at stage widths WIDTHS.
SmallResNet18 = openood_shim.narrow_resnet18_32x32(r32, WIDTHS)
AttrDict = openood_shim.AttrDict


def tv_resnet(cls, block, blocks):
    """OpenOOD's ResNet18_224x224 / ResNet50 (their forward) on torchvision's
    blocks, at stage widths WIDTHS instead of 64-512: torchvision's
    ResNet.__init__ with the widths scaled."""
    net = cls.__new__(cls)
    nn.Module.__init__(net)
    net._norm_layer = nn.BatchNorm2d
    net.inplanes, net.dilation, net.groups, net.base_width = WIDTHS[0], 1, 1, 64
    net.conv1 = nn.Conv2d(3, WIDTHS[0], kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(WIDTHS[0])
    net.relu = nn.ReLU(inplace=True)
    net.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    net.layer1 = net._make_layer(block, WIDTHS[0], blocks[0])
    net.layer2 = net._make_layer(block, WIDTHS[1], blocks[1], stride=2)
    net.layer3 = net._make_layer(block, WIDTHS[2], blocks[2], stride=2)
    net.layer4 = net._make_layer(block, WIDTHS[3], blocks[3], stride=2)
    net.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    net.fc = nn.Linear(WIDTHS[3] * block.expansion, CLASSES)
    net.feature_size = WIDTHS[3] * block.expansion
    for m in net.modules():  # torchvision's init
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def make_data(gen, c, size):
    templates = F.avg_pool2d(torch.randn(CLASSES, c, size, size, generator=gen), 5, 1, 2) * 3

    def id_set(n):
        y = torch.arange(n) % CLASSES
        return templates[y] + 0.8 * torch.randn(n, c, size, size, generator=gen), y

    def ood_set(n):
        a = torch.randint(0, CLASSES, (n,), generator=gen)
        b = (a + 1 + torch.randint(0, CLASSES - 1, (n,), generator=gen)) % CLASSES
        x = 0.5 * (templates[a] + templates[b]) + F.avg_pool2d(torch.randn(n, c, size, size, generator=gen), 3, 1, 1) * 1.5
        return x, torch.full((n,), -1)
    return id_set, ood_set


def auroc(id_conf, ood_conf):
    conf = np.concatenate([id_conf, ood_conf])
    label = np.concatenate([np.zeros(len(id_conf), dtype=int), -np.ones(len(ood_conf), dtype=int)])
    return float(metrics.compute_all_metrics(conf, label, np.zeros(len(conf), dtype=int))[1])


def run_gram(net, xtr, ytr, xid, xood):
    """OpenOOD's setup (two train batches, labels as the loader gives them)
    and postprocess, with the held-out draws recorded."""
    pp = gram_pp.GRAMPostprocessor(config())
    pp.num_classes = CLASSES  # info.num_classes_dict says 10 for cifar10
    draws = []
    orig = gram_pp.random.sample

    def sample(population, k):
        out = orig(population, k)
        draws.append((len(population), list(out)))
        return out
    gram_pp.random.sample = sample
    random.seed(SEED)
    half = len(xtr) // 2
    loader = [{"data": xtr[:half].clone(), "label": ytr[:half]}, {"data": xtr[half:].clone(), "label": ytr[half:]}]
    pp.setup(net, {"train": loader}, {})
    gram_pp.random.sample = orig
    order = list(dict.fromkeys(ytr.tolist()))  # Counter's iteration order: first appearance
    holdout = [None] * CLASSES
    for c, (L, idx) in zip(order, draws):
        assert L == int((ytr == c).sum()), (c, L)
        holdout[c] = idx
    fe = gram_pp.FeatureExtractor(net)
    with torch.no_grad():
        _, feats = fe(xid[:2].clone())
    fe.destroy_hooks()
    taps = [list(f.shape[1:]) for f in feats]
    with torch.no_grad():
        pred_id, s_id = pp.postprocess(net, xid.clone())
        pred_ood, s_ood = pp.postprocess(net, xood.clone())
    s_id, s_ood = s_id.reshape(-1).double().numpy(), s_ood.reshape(-1).double().numpy()
    return {"holdout": holdout, "taps": taps, "normalize_factors": pp.normalize_factors.reshape(-1).tolist(),
            "id_test": s_id.tolist(), "ood_test": s_ood.tolist(),
            "pred_id": pred_id.tolist(), "pred_ood": pred_ood.tolist(), "auroc": auroc(s_id, s_ood)}


def write_images(path, *xs):
    with open(path + ".tmp", "wb") as f:
        for x in xs:
            f.write(x.numpy().astype("<f4").tobytes())
    os.replace(path + ".tmp", path)


def main():
    os.makedirs(OUT, exist_ok=True)
    fixture = {"widths": list(WIDTHS), "size": SIZE, "classes": CLASSES, "train_per_class": TRAIN_PER_CLASS, "n_test": N_TEST, "seed": SEED, "models": {}}
    gen = torch.Generator().manual_seed(1)
    n_train = CLASSES * TRAIN_PER_CLASS
    data = {}
    for name, c, size in [("lenet", 1, 28), ("resnet", 3, SIZE)]:
        id_set, ood_set = make_data(gen, c, size)
        xtr, ytr = id_set(n_train)
        perm = torch.randperm(n_train, generator=gen)  # classes interleaved irregularly, as a shuffled loader gives them
        xtr, ytr = xtr[perm], ytr[perm]
        xid, _ = id_set(N_TEST)
        xood, _ = ood_set(N_TEST)
        write_images(os.path.join(OUT, name + ".bin"), xtr, xid, xood)
        data[name] = (xtr, ytr, xid, xood)
        fixture[name + "_train_labels"] = ytr.tolist()
    models = [
        ("lenet", "linear", "lenet", lambda: lenet_mod.LeNet(CLASSES, num_channel=1)),
        ("resnet18_32x32", "linear", "resnet", lambda: SmallResNet18(CLASSES)),
        ("resnet18_32x32", "t2fnorm", "resnet", lambda: SmallResNet18(CLASSES)),
        ("resnet18_224x224", "linear", "resnet", lambda: tv_resnet(r224.ResNet18_224x224, tvresnet.BasicBlock, [2, 2, 2, 2])),
        ("resnet50", "linear", "resnet", lambda: tv_resnet(r50.ResNet50, tvresnet.Bottleneck, [3, 4, 6, 3])),
    ]
    for arch, head, images, build in models:
        key = arch + "_" + head
        torch.manual_seed(3)
        bb = build()
        xtr, ytr, xid, xood = data[images]
        if head == "linear":
            train(bb, xtr, ytr, 30, gen)
            sd, d = dict(bb.state_dict()), 1.0
        else:
            train(T2FNormTrain(bb), xtr, ytr, 30, gen)
            sd, d = {"tau": torch.tensor(TAU)}, TAU
            sd.update({"backbone." + k: v for k, v in bb.state_dict().items()})
        bb.eval()
        save_safetensors(os.path.join(OUT, key + ".safetensors"), sd)
        net = View(bb, d).eval() if head == "t2fnorm" else bb
        e = run_gram(net, xtr, ytr, xid, xood)
        e.update(arch=arch, head=head, tau=d, images=images)
        fixture["models"][key] = e
        print(key, "taps", len(e["taps"]), "auroc", round(e["auroc"], 4), "norm", [round(v, 3) for v in e["normalize_factors"][:4]])
    with open(os.path.join(OUT, "fixture.json.tmp"), "w") as f:
        json.dump(fixture, f, indent=0, separators=(",", ":"))
    os.replace(os.path.join(OUT, "fixture.json.tmp"), os.path.join(OUT, "fixture.json"))


if __name__ == "__main__":
    main()
