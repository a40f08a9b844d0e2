"""Oracle fixture for ECE: OpenOOD's own, unmodified ECEEvaluator.eval_acc.

Runs openood/evaluators/ece_evaluator.py (imported from an OpenOOD checkout,
default ../openood or $OPENOOD, module by module through openood_shim) on
stored logits and labels: the "network" is a stand-in that returns the
stored logits of the batch it is given (the batch's data are the logits),
and a loader yields them in batches of 64 (640 samples: eval_acc's
np.reshape of the per-batch lists needs equal batches). Two runs per case:

  ece_logits   eval_acc with the stand-in returning the logits, as OpenOOD
               evaluates a classifier: it bins output.max(1)[0], the max
               logit, into 15 bins [i/15, (i+1)/15)
  ece_softmax  eval_acc with the stand-in returning softmax(logits) in
               float32: OpenOOD's binning applied to the max softmax
               probability, the quantity t2f bins

Cases: "plain" (10 classes, 640 samples, logits of moderate size: some max
logits fall in [0, 1), most above 1, none of the softmaxes reaches 1) and
"saturated" (T2FNorm-like logits ×10: many float32 softmaxes are exactly 1).
numpy 1.24 removed the alias np.float that eval_acc uses; it is restored as
the builtin float (what it was) before the call. OpenOOD's code is not
changed.

Writes evaluate/testdata/ece.json. Run with Debian's /usr/bin/python3 (torch
1.13, numpy, python3-tqdm):

    /usr/bin/python3 scripts/gen_ece_fixtures.py
"""
import importlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openood_shim  # noqa: E402

OPENOOD = os.environ.get("OPENOOD", "../openood")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluate", "testdata", "ece.json")

openood_shim.install(OPENOOD)
# The packages are empty stand-ins (openood_shim): give them the two names
# ece_evaluator and base_evaluator import from them.
sys.modules["openood.postprocessors"].BasePostprocessor = importlib.import_module(
    "openood.postprocessors.base_postprocessor").BasePostprocessor
sys.modules["openood.utils"].Config = importlib.import_module("openood.utils.config").Config
ece_mod = importlib.import_module("openood.evaluators.ece_evaluator")
if not hasattr(np, "float"):
    np.float = float  # removed in numpy 1.24; eval_acc's weights use it


class Loader:
    """Batches of {'data': logits, 'label': labels}, like OpenOOD's loaders."""

    def __init__(self, logits, labels, bs=64):
        self.logits, self.labels, self.bs = logits, labels, bs
        self.dataset = range(len(labels))

    def __len__(self):
        return (len(self.labels) + self.bs - 1) // self.bs

    def __iter__(self):
        for s in range(0, len(self.labels), self.bs):
            yield {"data": self.logits[s:s + self.bs], "label": self.labels[s:s + self.bs]}


class Logits(nn.Module):
    def forward(self, x):
        return x


class Softmax(nn.Module):
    def forward(self, x):
        return F.softmax(x, dim=1)


def case(gen, n, c, scale):
    labels = torch.randint(0, c, (n,), generator=gen)
    logits = torch.randn(n, c, generator=gen) * scale
    right = torch.rand(n, generator=gen) < 0.8  # 80% get a boost on the true class
    logits[right, labels[right]] += 1.5 * scale
    return logits.float(), labels


def main():
    gen = torch.Generator().manual_seed(5)
    ev = ece_mod.ECEEvaluator(None)
    out = {"bins": 15, "cases": {}}
    for name, scale in [("plain", 0.9), ("saturated", 10.0)]:
        logits, labels = case(gen, 640, 10, scale)
        # shortest decimal of each float32 (it parses back to the same float32)
        r = {"logits": [float(repr(v)) for v in logits.numpy().reshape(-1)], "labels": labels.tolist(), "classes": 10}
        for key, net in [("ece_logits", Logits()), ("ece_softmax", Softmax())]:
            m = ev.eval_acc(net, Loader(logits, labels))
            r[key], r["acc"] = float(m["ece"]), float(m["acc"])
        sm = F.softmax(logits, dim=1).max(1)[0]
        mx = logits.max(1)[0]
        r["softmax_ones"] = int((sm == 1).sum())
        r["max_logit_in_unit"] = int(((mx >= 0) & (mx < 1)).sum())
        out["cases"][name] = r
        print(name, {k: v for k, v in r.items() if k not in ("logits", "labels")})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(out, f, separators=(",", ":"))
    os.replace(OUT + ".tmp", OUT)


if __name__ == "__main__":
    main()
