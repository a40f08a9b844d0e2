#!/usr/bin/python3
"""OpenOOD as the oracle for evaluate/posthoc: runs OpenOOD v1.5's UNMODIFIED
post-processor code (openood/postprocessors/*.py, the network wrappers of
openood/networks, Evaluator.hyperparam_search and compute_all_metrics) on
small stored feature sets, through a stand-in network that serves the stored
features and computes logits with its fc head, and writes what OpenOOD
reports: every method's test scores, AUROC and, where OpenOOD runs its
automatic parameter search (APS), every trial's AUROC and the chosen setting.

Rerun (writes evaluate/posthoc/testdata/openood.{json,bin}):

    /usr/bin/python3 scripts/gen_openood_fixtures.py [--openood ../openood] [--libmr DIR]

Needs Debian's interpreter (torch 1.13, torchvision, numpy, scipy,
scikit-learn, faiss), an OpenOOD checkout (--openood, the directory holding
the openood package) and libMR's sources (--libmr, a checkout of
Vastlab/libMR; compiled here with g++ into a ctypes module, because OpenMax
imports libmr). Third-party modules OpenOOD imports but these code paths do
not use (pandas, cv2, clip, ...) are replaced by empty stubs; tqdm by a
pass-through; PyYAML by a small reader of OpenOOD's flat config files.
Nothing of OpenOOD is modified or copied.

Cases (each: ID train, ID val, OOD val, ID test, OOD test):
  linear     a linear-head model: D = 16, C = 5
  t2fnorm    a saturated T2FNorm model (tau = 0.1): the scoring view is f/tau and
             W.f/tau + b, whose float32 softmax is exactly 1 for most samples
  dead       dead ReLU units: D = 32 with 20 units always 0 and sparse others,
             so ASH's top-k often cuts through tied zeros
"""
import argparse
import ctypes
import importlib.abc
import importlib.machinery
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn
import torchvision  # noqa: F401  (imported before the stub finder is installed)
import scipy.spatial.distance  # noqa: F401
import sklearn.covariance  # noqa: F401
import faiss  # noqa: F401
import torch.jit.frontend  # noqa: F401


def parse():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--openood", default="../openood")
    p.add_argument("--libmr", default="../libMR")
    p.add_argument("--out", default=os.path.join(here, "..", "evaluate", "posthoc", "testdata"))
    return p.parse_args()


# ------------------------------------------------------------ import plumbing
class _Stub(types.ModuleType):
    def __getattr__(self, k):
        if k.startswith("__"):
            raise AttributeError(k)
        return _Stub(self.__name__ + "." + k)

    def __call__(self, *a, **k):
        return _Stub("call")


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _Stub(spec.name)

    def exec_module(self, m):
        pass


class _StubFinder(importlib.abc.MetaPathFinder):
    """Stubs third-party modules that are not installed (last on meta_path)."""
    stubbed = []

    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top == "openood" or top.startswith("_") or top in sys.stdlib_module_names:
            return None
        for f in sys.meta_path:
            if f is self:
                continue
            try:
                if f.find_spec(name, path, target) is not None:
                    return None
            except Exception:
                pass
        self.stubbed.append(name)
        return importlib.machinery.ModuleSpec(name, _StubLoader(), is_package=True)


def _tqdm(it=None, *a, **k):
    return it if it is not None else range(0)


def build_libmr(src):
    """Compiles libMR (MetaRecognition.cpp, weibull.c) with a C shim and returns a
    module with libmr.MR's fit_high / w_score, as OpenOOD's OpenMax calls them."""
    work = tempfile.mkdtemp(prefix="libmr")
    for f in ("MetaRecognition.cpp", "MetaRecognition.h", "weibull.c", "weibull.h"):
        blob = subprocess.run(["git", "-C", src, "show", "HEAD:libMR/" + f], check=True, capture_output=True).stdout
        open(os.path.join(work, f), "wb").write(blob)
    open(os.path.join(work, "shim.cpp"), "w").write(r'''
#include "MetaRecognition.h"
extern "C" {
void* mr_new() { return new MetaRecognition(0, 9, false, 5.0, 1); }
int mr_fit_high(void* m, double* d, int n, int fit) { return ((MetaRecognition*)m)->FitHigh(d, n, fit); }
double mr_w_score(void* m, double x) { return ((MetaRecognition*)m)->W_score(x); }
}
''')
    lib = os.path.join(work, "libmr.so")
    subprocess.run(["g++", "-O2", "-shared", "-fPIC", "-o", lib, "-x", "c++", os.path.join(work, "weibull.c"),
                    os.path.join(work, "MetaRecognition.cpp"), os.path.join(work, "shim.cpp")], check=True, cwd=work)
    so = ctypes.CDLL(lib)
    so.mr_new.restype = ctypes.c_void_p
    so.mr_fit_high.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_int, ctypes.c_int]
    so.mr_w_score.argtypes = [ctypes.c_void_p, ctypes.c_double]
    so.mr_w_score.restype = ctypes.c_double

    class MR:
        def __init__(self):
            self.p = so.mr_new()

        def fit_high(self, data, fit_size):
            if len(data) < fit_size:
                raise ValueError("fit_size larger than the data")
            arr = (ctypes.c_double * len(data))(*[float(x) for x in data])
            so.mr_fit_high(self.p, arr, len(data), fit_size)

        def w_score(self, x):
            return so.mr_w_score(self.p, float(x))

    m = types.ModuleType("libmr")
    m.MR = MR
    return m


def read_yml(path):
    """OpenOOD's postprocessor configs: nested maps, inline lists, '- [..]' items."""
    def scalar(s):
        s = s.strip()
        if s == "" or s in ("null", "None", "~"):
            return None
        if s in ("True", "true"):
            return True
        if s in ("False", "false"):
            return False
        if s.startswith("["):
            return [scalar(x) for x in s.strip("[]").split(",") if x.strip() != ""]
        for t in (int, float):
            try:
                return t(s)
            except ValueError:
                pass
        return s.strip("'\"")
    root = {}
    stack = [(-1, root)]
    lines = [ln.split("#")[0].rstrip() for ln in open(path)]
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        ind = len(ln) - len(ln.lstrip())
        while stack[-1][0] >= ind and len(stack) > 1:
            stack.pop()
        parent = stack[-1][1]
        body = ln.strip()
        if body.startswith("- "):
            parent.append(scalar(body[2:]))
            continue
        key, _, val = body.partition(":")
        key = key.strip()
        if val.strip():
            parent[key] = scalar(val)
            continue
        nxt = next((l for l in lines[i + 1:] if l.strip()), "")
        nind = len(nxt) - len(nxt.lstrip())
        child = [] if nxt.strip().startswith("- ") and nind > ind else ({} if nind > ind else None)
        parent[key] = child
        if child is not None:
            stack.append((ind, child))
    return root


def install(openood_root, libmr_src):
    # Optional dependencies that are installed are imported for real first, so
    # that their own optional imports fail the usual way rather than hitting a stub.
    for mod in ("pandas", "yaml", "cv2", "timm"):
        try:
            __import__(mod)
        except Exception:
            pass
    sys.modules["tqdm"] = types.ModuleType("tqdm")
    sys.modules["tqdm"].tqdm = _tqdm
    sys.modules["libmr"] = build_libmr(libmr_src)
    sys.path.insert(0, openood_root)
    sys.meta_path.append(_StubFinder())
    # Everything runs on the CPU: OpenOOD's .cuda() calls become no-ops.
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self

    def cpu_factory(fn):
        def f(*a, **k):
            if str(k.get("device", "")).startswith("cuda"):
                k["device"] = "cpu"
            return fn(*a, **k)
        return f
    for name in ("ones", "zeros", "tensor", "arange", "empty", "full", "eye", "rand", "randn", "zeros_like", "ones_like"):
        setattr(torch, name, cpu_factory(getattr(torch, name)))


# ------------------------------------------------------------ data
TAU = 0.1
N_TRAIN, N_VAL, N_OODVAL, N_TEST_ID, N_TEST_OOD = 1200, 100, 100, 100, 100


def make_case(kind, rng):
    D, C = (32, 5) if kind == "dead" else (16, 5)
    means = np.abs(rng.normal(0, 1.0, size=(C, D))) * (rng.random((C, D)) < 0.5) * 2.5 + 0.3
    W = (means - means.mean(0) + rng.normal(0, 0.25, size=(C, D))).astype(np.float32)
    b = rng.normal(0, 0.3, size=C).astype(np.float32)
    dead = np.zeros(D, bool)
    if kind == "dead":
        dead[rng.permutation(D)[:20]] = True

    def split(n, ood, classes=C):
        if ood:
            y = np.full(n, -1, np.int32)
            f = rng.normal(0.9, 0.9, size=(n, D)) + rng.normal(0, 0.3, size=(1, D))
        else:
            y = rng.integers(0, classes, size=n).astype(np.int32)
            f = means[y] + rng.normal(0, 0.8, size=(n, D))
        if kind == "dead":
            f = np.maximum(f - 0.8, 0)  # ReLU with many exact zeros
            f[:, dead] = 0
        else:
            f = np.abs(f)
        f = f.astype(np.float32)
        ft = torch.from_numpy(f)
        with torch.no_grad():
            if kind == "t2fnorm":
                # training forward W.f/||f||/tau + b, and the scoring view f/tau
                plain = (ft / ft.norm(dim=1, keepdim=True).clamp_min(1e-12) / TAU) @ torch.from_numpy(W).T + torch.from_numpy(b)
                view = ft / TAU
            else:
                view = ft
                plain = None
            z = view @ torch.from_numpy(W).T + torch.from_numpy(b)
        return {"feature": f, "view": view.numpy(), "logits": z.numpy(),
                "plain": (plain if plain is not None else z).numpy(), "labels": y}

    s = {"train": split(N_TRAIN, False), "val": split(N_VAL, False, classes=C - 1),
         "oodval": split(N_OODVAL, True), "test_id": split(N_TEST_ID, False), "test_ood": split(N_TEST_OOD, True)}
    return {"D": D, "C": C, "W": W, "b": b, "splits": s, "tau": TAU if kind == "t2fnorm" else 1.0}


class StandIn(nn.Module):
    """Serves stored features: the input is a column of sample indices into the
    case's concatenated splits; logits = fc(feature), as the penultimate layer and
    head of an OpenOOD network."""

    def __init__(self, feats, W, b, plain=None):
        super().__init__()
        self.register_buffer("bank", torch.from_numpy(feats))
        self.register_buffer("plain", torch.from_numpy(plain) if plain is not None else torch.zeros(0))
        self.fc = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(W))
            self.fc.bias.copy_(torch.from_numpy(b))

    def feature(self, x):
        return self.bank[x[:, 0].long()]

    def forward(self, x, return_feature=False, return_feature_list=False):
        f = self.feature(x)
        z = self.fc(f)
        if self.plain.numel() and not return_feature:
            z = self.plain[x[:, 0].long()]
        if return_feature:
            return z, f
        if return_feature_list:
            return z, [f]
        return z

    def forward_ood_inference(self, x):
        return self.fc(self.feature(x))

    def get_fc(self):
        return self.fc.weight.detach().numpy(), self.fc.bias.detach().numpy()

    def get_fc_layer(self):
        return self.fc


class Loader:
    """A list of OpenOOD batch dicts with what OpenOOD reads of a DataLoader."""

    def __init__(self, batches, batch_size):
        self.batches, self.batch_size = batches, batch_size
        self.dataset = range(sum(len(b["label"]) for b in batches))

    def __iter__(self):
        return _It(self.batches)

    def __len__(self):
        return len(self.batches)


class _It:
    def __init__(self, b):
        self.b, self.i = b, 0

    def __len__(self):
        return len(self.b)

    def __iter__(self):
        return self

    def __next__(self):
        if self.i >= len(self.b):
            raise StopIteration
        self.i += 1
        return self.b[self.i - 1]


def loaders(case, batch=200):
    """Index-serving loaders over the concatenated splits, OpenOOD's batch dicts."""
    order = ["train", "val", "oodval", "test_id", "test_ood"]
    off, out = 0, {}
    for name in order:
        sp = case["splits"][name]
        n = len(sp["labels"])
        idx = torch.arange(off, off + n, dtype=torch.float32).reshape(-1, 1)
        lab = torch.from_numpy(sp["labels"].astype(np.int64))
        out[name] = Loader([{"data": idx[i:i + batch], "label": lab[i:i + batch]} for i in range(0, n, batch)], batch)
        off += n
    return out


def concat(case, key):
    return np.concatenate([case["splits"][s][key] for s in ["train", "val", "oodval", "test_id", "test_ood"]])


# ------------------------------------------------------------ running OpenOOD
METHODS = ["msp", "t2fnorm", "mls", "ebo", "react", "ash", "scale", "dice", "knn", "mds", "rmds", "vim", "gen",
           "klm", "temp_scaling", "fdbd", "gradnorm", "she", "nnguide", "residual",
           "nci", "vra", "relation", "cfood", "openmax"]

# Settings changed from OpenOOD's configs so that they apply to D = 16/32
# features (ViM's dim 256 and Residual's 512 exceed D: OpenOOD scores NaN).
OVERRIDES = {
    "vim": {"postprocessor_args": {"dim": 8}, "postprocessor_sweep": {"dim_list": [8, 12]}},
    "residual": {"postprocessor_args": {"dim": 8}},
    "cfood": {"postprocessor_args": {"alpha": 1.0, "k": 0.01, "avg_topk": False}},
}


def config(root, name):
    from openood.utils.config import Config
    y = read_yml(os.path.join(root, "configs", "postprocessors", name + ".yml"))
    pp = y["postprocessor"]
    for k, v in OVERRIDES.get(name, {}).items():
        pp[k] = v
    pp.setdefault("APS_mode", False)
    return Config(**{"postprocessor": pp, "dataset": {"name": "cifar10"}, "network": {"name": "standin"}})


def run_method(root, name, case, nets, ld):
    from openood.evaluation_api.postprocessor import postprocessors
    from openood.evaluation_api.evaluator import Evaluator
    from openood.networks.ash_net import ASHNet
    from openood.networks.react_net import ReactNet
    from openood.networks.scale_net import ScaleNet
    import openood.postprocessors.info as info
    info.num_classes_dict["cifar10"] = case["C"]
    cfg = config(root, name)
    pp = postprocessors[name](cfg)
    pp.APS_mode = cfg.postprocessor.APS_mode
    pp.hyperparam_search_done = False
    net = nets["plain"] if name == "msp" else nets["view"]
    net = {"react": ReactNet, "ash": ASHNet, "scale": ScaleNet}.get(name, lambda n: n)(net)
    net.eval()
    id_d = {"train": ld["train"], "val": ld["val"], "test": ld["test_id"]}
    ood_d = {"val": ld["oodval"], "near": {}, "far": {"x": ld["test_ood"]}}
    torch.manual_seed(0)
    pp.setup(net, id_d, ood_d)
    rec = {"aps": bool(pp.APS_mode)}
    if pp.APS_mode:
        trials = []
        me = types.SimpleNamespace(postprocessor=pp, net=net, dataloader_dict={"id": id_d, "ood": ood_d})
        me.recursive_generator = lambda lst, n: Evaluator.recursive_generator(me, lst, n)
        orig = pp.set_hyperparam

        def spy(h):
            trials.append(list(h))
            return orig(h)
        pp.set_hyperparam = spy
        import openood.evaluation_api.evaluator as evmod
        orig_metrics = evmod.compute_all_metrics
        aurocs = []

        def spy_metrics(conf, label, pred):
            r = orig_metrics(conf, label, pred)
            aurocs.append(float(r[1]))
            return r
        evmod.compute_all_metrics = spy_metrics
        try:
            Evaluator.hyperparam_search(me)
        finally:
            evmod.compute_all_metrics = orig_metrics
            pp.set_hyperparam = orig
        rec["trials"] = [{"setting": [float(x) for x in t], "auroc": a} for t, a in zip(trials[:-1], aurocs)]
        rec["chosen"] = [float(x) for x in trials[-1]]
    _, id_conf, _ = pp.inference(net, ld["test_id"], progress=False)
    _, ood_conf, _ = pp.inference(net, ld["test_ood"], progress=False)
    from openood.evaluators.metrics import compute_all_metrics
    conf = np.concatenate([id_conf, ood_conf]).astype(np.float64)
    label = np.concatenate([case["splits"]["test_id"]["labels"], -np.ones(N_TEST_OOD, np.int64)])
    rec["scores"] = [float(x) if np.isfinite(x) else None for x in conf]  # JSON has no Inf/NaN
    rec["finite"] = bool(np.isfinite(conf).all())
    if rec["finite"]:
        m = compute_all_metrics(conf, label, np.zeros_like(label))
        rec["auroc"] = float(m[1])
    return rec


def run_ensemble(case, rng, ld):
    """EnsemblePostprocessor: members are stand-ins with perturbed heads, saved as
    checkpoints that OpenOOD's setup loads."""
    from openood.evaluation_api.postprocessor import postprocessors
    from openood.utils.config import Config
    work = tempfile.mkdtemp(prefix="ens")
    members = []
    for k in range(3):
        W = (case["W"] + rng.normal(0, 0.2, size=case["W"].shape)).astype(np.float32)
        b = (case["b"] + rng.normal(0, 0.2, size=case["b"].shape)).astype(np.float32)
        net = StandIn(concat(case, "view"), W, b)
        os.makedirs(os.path.join(work, "net%d" % k))
        torch.save(net.state_dict(), os.path.join(work, "net%d" % k, "best.ckpt"))
        members.append((W, b))
    cfg = Config(**{"postprocessor": {"name": "ensemble", "APS_mode": False, "postprocessor_args": {
        "network_name": "standin", "checkpoint_root": work, "checkpoints": ["net0", "net1", "net2"], "num_networks": 3}},
        "dataset": {"name": "cifar10"}, "network": {"name": "standin"}})
    pp = postprocessors["ensemble"](cfg)
    base = StandIn(concat(case, "view"), case["W"], case["b"])
    pp.setup(base, {}, {})
    with torch.no_grad():  # EnsemblePostprocessor.postprocess has no no_grad of its own
        _, id_conf, _ = pp.inference(base, ld["test_id"], progress=False)
        _, ood_conf, _ = pp.inference(base, ld["test_ood"], progress=False)
    from openood.evaluators.metrics import compute_all_metrics
    conf = np.concatenate([id_conf, ood_conf]).astype(np.float64)
    label = np.concatenate([case["splits"]["test_id"]["labels"], -np.ones(N_TEST_OOD, np.int64)])
    m = compute_all_metrics(conf, label, np.zeros_like(label))
    return {"aps": False, "scores": [float(x) for x in conf], "finite": True, "auroc": float(m[1])}, members


def main():
    a = parse()
    install(a.openood, a.libmr)
    rng = np.random.default_rng(12)
    blob = bytearray()

    def put(arr):
        arr = np.ascontiguousarray(arr)
        off = len(blob)
        blob.extend(arr.astype("<f4" if arr.dtype.kind == "f" else "<i4").tobytes())
        return {"offset": off, "shape": list(arr.shape), "dtype": "float32" if arr.dtype.kind == "f" else "int32"}

    meta = {"openood": "Jingkang50/OpenOOD (unmodified checkout)", "cases": {}}
    for kind in ["linear", "t2fnorm", "dead"]:
        case = make_case(kind, rng)
        nets = {"view": StandIn(concat(case, "view"), case["W"], case["b"]),
                "plain": StandIn(concat(case, "view"), case["W"], case["b"], plain=concat(case, "plain"))}
        ld = loaders(case)
        cm = {"D": case["D"], "C": case["C"], "tau": case["tau"], "W": put(case["W"]), "b": put(case["b"]), "splits": {}, "methods": {}}
        for sname, sp in case["splits"].items():
            cm["splits"][sname] = {"view": put(sp["view"]), "logits": put(sp["logits"]), "plain": put(sp["plain"]),
                                   "labels": put(sp["labels"])}
        for name in METHODS:
            try:
                cm["methods"][name] = run_method(a.openood, name, case, nets, ld)
            except Exception as e:  # OpenOOD itself fails: recorded, t2f must refuse or warn
                cm["methods"][name] = {"error": "%s: %s" % (type(e).__name__, e)}
            r = cm["methods"][name]
            print(kind, name, r.get("auroc"), r.get("chosen"), r.get("error", ""), file=sys.stderr)
        rec, members = run_ensemble(case, rng, ld)
        rec["members"] = [{"W": put(W), "b": put(b)} for W, b in members]
        cm["methods"]["ensemble"] = rec
        print(kind, "ensemble", rec["auroc"], file=sys.stderr)
        meta["cases"][kind] = cm
    meta["stubbed_imports"] = sorted(set(n.split(".")[0] for n in _StubFinder.stubbed))
    with open(os.path.join(a.out, "openood.bin"), "wb") as fh:
        fh.write(bytes(blob))
    with open(os.path.join(a.out, "openood.json"), "w") as fh:
        json.dump(meta, fh, indent=0)


if __name__ == "__main__":
    main()
