"""Oracle fixtures for the post-hoc methods that need the network.

Runs OpenOOD's own, unmodified post-processors (odin, iodin, rankfeat,
adascale_a, adascale_l, dropout, mds_ensemble) — imported from an OpenOOD checkout
(default ../openood, or $OPENOOD) module by module, without running the
package __init__ files, which import every trainer — with a real PyTorch
ResNet18_32x32 built from OpenOOD's networks/resnet18_32x32.py: OpenOOD's
class and its forward / intermediate_forward methods, with the stage widths
scaled by 1/8 (8-16-32-64, the t2f engine's --width 0.125) so the Go test
stays fast, on 16×16 images (the class pools adaptively). Two models: a linear head and a T2FNorm head (τ = 0.1), each
trained for a few SGD steps on synthetic 5-class images so the softmax is
peaked and ID and OOD differ.

The networks are run as the scoring view t2f uses (docs/posthoc.md): for
T2FNorm, the OOD-inference network fc(f/τ). OpenOOD's APS (Evaluator.
hyperparam_search: grid in recursive_generator order, strict > from 0) picks
the setting on ID val vs OOD val; the fixture records every trial's AUROC,
the choice, and the chosen setting's scores on ID test and OOD test.
DropoutNet draws random masks: its entry holds the test AUROC over 20 torch
seeds. mds_ensemble (default configuration: the stem's map, mean-pooled)
estimates its class means and precision in setup from an ID train split:
the first TRAIN_N training images, stored after the other splits (split
"id_train", labels in "train_labels").

Writes evaluate/posthoc/testdata/network/: <head>.safetensors (the
state_dict under OpenOOD's names), images.bin (float32 NCHW of the splits,
in fixture.json's order) and fixture.json. Run with Debian's
/usr/bin/python3 (torch 1.13, python3-tqdm, python3-statsmodels,
python3-sklearn):

    /usr/bin/python3 scripts/gen_network_fixtures.py
"""
import importlib
import json
import os
import struct
import sys

import numpy as np
import torch

import openood_shim
import torch.nn as nn
import torch.nn.functional as F

OPENOOD = os.environ.get("OPENOOD", "../openood")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluate", "posthoc", "testdata", "network")

openood_shim.install(OPENOOD)  # OpenOOD module by module, CPU only

resnet = importlib.import_module("openood.networks.resnet18_32x32")
odin_pp = importlib.import_module("openood.postprocessors.odin_postprocessor")
iodin_pp = importlib.import_module("openood.postprocessors.iodin_postprocessor")
rankfeat_pp = importlib.import_module("openood.postprocessors.rankfeat_postprocessor")
adascale_pp = importlib.import_module("openood.postprocessors.adascale_postprocessor")
dropout_pp = importlib.import_module("openood.postprocessors.dropout_postprocessor")
mds_ens_pp = importlib.import_module("openood.postprocessors.mds_ensemble_postprocessor")
adascale_net = importlib.import_module("openood.networks.adascale_net")
dropout_net = importlib.import_module("openood.networks.dropout_net")
metrics = importlib.import_module("openood.evaluators.metrics")

WIDTHS = (8, 16, 32, 64)
CLASSES = 5
SIZE = 16
TAU = 0.1
SPLITS = [("id_val", 24), ("ood_val", 24), ("id_test", 32), ("ood_test", 32)]
TRAIN_N = 60


# OpenOOD's ResNet18_32x32 at stage widths 8-16-32-64 (64/128/256/512 scaled by 1/8).
SmallResNet18 = openood_shim.narrow_resnet18_32x32(resnet, WIDTHS)
AttrDict = openood_shim.AttrDict


class View(nn.Module):
    """The scoring view: logits fc(f/d) with feature f/d (d = τ for T2FNorm,
    1 for the linear head), as OpenOOD's T2FNorm inference net
    (forward_ood_inference) feeds the post-processors."""

    def __init__(self, backbone, d):
        super().__init__()
        self.backbone, self.d = backbone, d
        self.fc = backbone.fc  # DropoutNet: backbone.fc(dropout(feature))
        self.feature_size = backbone.feature_size

    def forward(self, x, return_feature=False, return_feature_list=False):
        _, f = self.backbone(x, return_feature=True)
        f = f / self.d
        out = self.backbone.fc(f)
        return (out, f) if return_feature else out

    def get_fc_layer(self):
        return self.backbone.fc


class RankFeatView(nn.Module):
    """RankFeat's net: intermediate_forward, layer4, avgpool and an fc that
    applies the scoring head fc(f/d) to a pooled raw feature."""

    def __init__(self, backbone, d):
        super().__init__()
        self.b, self.d = backbone, d
        self.layer4, self.avgpool = backbone.layer4, backbone.avgpool
        self.fc = lambda f: backbone.fc(f / d)

    def intermediate_forward(self, x, layer_index):
        return self.b.intermediate_forward(x, layer_index)


class FeatureListView(nn.Module):
    """mds_ensemble's net: the backbone's forward with
    return_feature_list (feature_list[0] is the stem's output; the head
    does not enter the score)."""

    def __init__(self, backbone):
        super().__init__()
        self.b = backbone

    def forward(self, x, return_feature_list=False):
        return self.b(x, return_feature_list=return_feature_list)


def config(name, args, sweep=None):
    return AttrDict(dataset=AttrDict(name="cifar10"),
                    postprocessor=AttrDict(name=name, postprocessor_args=AttrDict(args),
                                           postprocessor_sweep=AttrDict(sweep or {}), APS_mode=sweep is not None))


def recursive_generator(lst, n):
    # OpenOOD Evaluator.recursive_generator (the first parameter varies fastest).
    if n == 1:
        return [[x] for x in lst[0]]
    out = []
    for x in lst[n - 1]:
        for y in recursive_generator(lst, n - 1):
            out.append(y + [x])
    return out


def make_data(gen):
    """Synthetic images, already normalised: class templates plus noise (ID),
    and the mean of two templates plus smoother noise (OOD)."""
    templates = torch.randn(CLASSES, 3, SIZE, SIZE, generator=gen)
    templates = F.avg_pool2d(templates, 5, 1, 2) * 3

    def id_set(n):
        y = torch.arange(n) % CLASSES
        x = templates[y] + 0.8 * torch.randn(n, 3, SIZE, SIZE, generator=gen)
        return x, y

    def ood_set(n):
        # near-OOD: the mean of two class templates, plus smoother noise
        a = torch.randint(0, CLASSES, (n,), generator=gen)
        b = (a + 1 + torch.randint(0, CLASSES - 1, (n,), generator=gen)) % CLASSES
        x = 0.5 * (templates[a] + templates[b]) + F.avg_pool2d(torch.randn(n, 3, SIZE, SIZE, generator=gen), 3, 1, 1) * 1.5
        return x, torch.full((n,), -1)
    return id_set, ood_set


def train(net, x, y, steps, gen):
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        net.train()
        opt.zero_grad()
        loss = F.cross_entropy(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    net.eval()


class T2FNormTrain(nn.Module):
    """OpenOOD's T2FNormNet forward (training): fc(normalize(f)/τ)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        _, f = self.backbone(x, return_feature=True)
        return self.backbone.fc(F.normalize(f, dim=-1) / TAU)


def auroc(id_conf, ood_conf):
    conf = np.concatenate([id_conf, ood_conf])
    label = np.concatenate([np.zeros(len(id_conf), dtype=int), -np.ones(len(ood_conf), dtype=int)])
    pred = np.zeros(len(conf), dtype=int)
    return float(metrics.compute_all_metrics(conf, label, pred)[1])


def run(pp, net, x):
    """One OpenOOD postprocess call over a split (one batch)."""
    xx = x.clone()
    _, conf = pp.postprocess(net, xx)
    return conf.detach().reshape(-1).double().numpy()


def aps(pp, net, data, sweep):
    names = list(sweep.keys())
    combos = recursive_generator([sweep[k] for k in names], len(names))
    best, best_i, trials = 0, None, []
    for i, h in enumerate(combos):
        pp.set_hyperparam(h)
        a = auroc(run(pp, net, data["id_val"]), run(pp, net, data["ood_val"]))
        trials.append({"setting": h, "auroc": a})
        if a > best:
            best, best_i = a, i
    pp.set_hyperparam(combos[best_i])
    return best_i, trials


def method_entry(pp, net, data, sweep=None):
    e = {}
    if sweep is not None:
        e["choice"], e["trials"] = aps(pp, net, data, sweep)
    s_id, s_ood = run(pp, net, data["id_test"]), run(pp, net, data["ood_test"])
    e["id_test"], e["ood_test"] = s_id.tolist(), s_ood.tolist()
    e["auroc"] = auroc(s_id, s_ood)
    return e


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype],
                        "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    id_set, ood_set = make_data(gen)
    xtr, ytr = id_set(300)
    data, labels = {}, {}
    for name, n in SPLITS:
        x, y = (id_set if name.startswith("id") else ood_set)(n)
        data[name], labels[name] = x, y
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "images.bin.tmp"), "wb") as f:
        for name, _ in SPLITS:
            f.write(data[name].numpy().astype("<f4").tobytes())
        f.write(xtr[:TRAIN_N].numpy().astype("<f4").tobytes())
    os.replace(os.path.join(OUT, "images.bin.tmp"), os.path.join(OUT, "images.bin"))

    odin_sweep = {"temperature": [1, 10, 100, 1000], "noise": [0.0014, 0.0028]}
    pairs = [[60, 65], [60, 70], [60, 75], [60, 80], [60, 85], [60, 90], [60, 95], [60, 99], [65, 70], [65, 75],
             [65, 80], [65, 85], [65, 90], [65, 95], [65, 99], [70, 75], [70, 80], [70, 85], [70, 90], [70, 95],
             [70, 99], [75, 80], [75, 85], [75, 90], [75, 95], [75, 99], [80, 85], [80, 90], [80, 95], [80, 99],
             [85, 90], [85, 95], [85, 99], [90, 95], [90, 99], [95, 99]]
    ada_sweep = {"percentile_list": pairs, "k1_list": [5], "k2_list": [1], "lmbda_list": [10], "o_list": [0.05]}
    ada_args = {"num_samples": 5000, "percentile": [75, 85], "k1": 5, "k2": 1, "lmbda": 10, "o": 0.05}

    fixture = {"splits": [[n, c] for n, c in SPLITS], "classes": CLASSES, "widths": list(WIDTHS),
               "size": SIZE, "input_std": [0.2470, 0.2435, 0.2616], "models": {},
               "train_n": TRAIN_N, "train_labels": ytr[:TRAIN_N].tolist()}
    for head, steps in [("linear", 40), ("t2fnorm", 40)]:
        torch.manual_seed(2)
        bb = SmallResNet18(CLASSES)
        d = 1.0
        if head == "linear":
            train(bb, xtr, ytr, steps, gen)
            sd = {k: v for k, v in bb.state_dict().items()}
        else:
            train(T2FNormTrain(bb), xtr, ytr, steps, gen)
            d = TAU
            sd = {"tau": torch.tensor(TAU)}
            sd.update({"backbone." + k: v for k, v in bb.state_dict().items()})
        bb.eval()
        save_safetensors(os.path.join(OUT, head + ".safetensors"), sd)
        view = View(bb, d).eval()
        m = {}
        for name, cls in [("odin", odin_pp.ODINPostprocessor), ("iodin", iodin_pp.IODINPostprocessor)]:
            pp = cls(config(name, {"temperature": 1000, "noise": 0.0014}, odin_sweep))
            m[name] = method_entry(pp, view, data, odin_sweep)
        pp = rankfeat_pp.RankFeatPostprocessor(config("rankfeat", {"accelerate": False, "temperature": 1}))
        m["rankfeat"] = method_entry(pp, RankFeatView(bb, d), data)
        for name, netcls in [("adascale_a", adascale_net.AdaScaleANet), ("adascale_l", adascale_net.AdaScaleLNet)]:
            net = netcls(view).eval()
            net.backbone.feature_size = view.feature_size
            pp = adascale_pp.AdaScalePostprocessor(config(name, ada_args, ada_sweep))
            pp.setup(net, {"val": [{"data": data["id_val"].clone(), "label": labels["id_val"]}]}, {})
            m[name] = method_entry(pp, net, data, ada_sweep)
        pp = dropout_pp.DropOutPostProcessor(config("dropout", {"dropout_p": 0.5, "dropout_times": 5})) \
            if hasattr(dropout_pp, "DropOutPostProcessor") else \
            dropout_pp.DropoutPostProcessor(config("dropout", {"dropout_p": 0.5, "dropout_times": 5}))
        net = dropout_net.DropoutNet(view, 0.5).eval()
        aurocs = []
        for seed in range(20):
            torch.manual_seed(seed)
            aurocs.append(auroc(run(pp, net, data["id_test"]), run(pp, net, data["ood_test"])))
        m["dropout"] = {"auroc_seeds": aurocs}
        pp = mds_ens_pp.MDSEnsemblePostprocessor(config("mds_ensemble", {
            "noise": 0.0014, "feature_type_list": ["mean"], "alpha_list": [1], "reduce_dim_list": ["none"]},
            {"noise_list": [0.0014]}))
        pp.num_classes = CLASSES  # info.num_classes_dict says 10 for cifar10
        fl = FeatureListView(bb).eval()
        pp.setup(fl, {"train": [{"data_aux": xtr[:TRAIN_N].clone(), "label": ytr[:TRAIN_N]}]}, {})
        m["mds_ensemble"] = method_entry(pp, fl, data, {"noise_list": [0.0014]})
        with torch.no_grad():
            acc = (view(data["id_test"]).argmax(1) == labels["id_test"]).float().mean().item()
        fixture["models"][head] = {"tau": d, "accuracy": acc, "methods": m}
        print(head, "accuracy", acc, {k: round(v.get("auroc", np.mean(v.get("auroc_seeds", [0]))), 4) for k, v in m.items()})
    with open(os.path.join(OUT, "fixture.json.tmp"), "w") as f:
        json.dump(fixture, f, indent=0, separators=(",", ":"))
    os.replace(os.path.join(OUT, "fixture.json.tmp"), os.path.join(OUT, "fixture.json"))


if __name__ == "__main__":
    main()
