#!/usr/bin/python3
"""Writes cmd/t2f/testdata/openood_preprocess: OpenOOD v1.5's test inputs
for each benchmark, made by torchvision/PIL exactly as OpenOOD's
TestStandardPreProcessor (openood/preprocessors/test_preprocessor.py) builds
them:

    Compose([Convert('RGB'), Resize(pre_size, interpolation), CenterCrop(image_size),
             ToTensor(), Normalize(mean, std)])

with Convert and normalization_dict imported from OpenOOD's own
openood/preprocessors/transform.py and pre_size, image_size, interpolation
and normalization_type read from OpenOOD's configs/datasets/<bench>/<bench>.yml.

Run from the repository root (torch 1.13, torchvision 0.14, PIL 9.4):

    /usr/bin/python3 scripts/gen_openood_preprocess_fixtures.py [OPENOOD_DIR]

Sources (PNG): photo (300×257 RGB), small (40×37 RGB, upsampled), digit
(28×28 greyscale, as MNIST's OOD images: Convert('RGB') replicates it).
Per (source, benchmark): uint8_<src>_<pre>to<size>.bin, the image after
CenterCrop (HWC uint8, = ToTensor·255 exactly), and in cases.json 101
sampled values of the normalised CHW tensor (flat index k·7919 mod numel)
and the tensor's float64 sum.
"""
import importlib.util
import json
import os
import sys

import numpy as np
import torch
import yaml
from PIL import Image
from torchvision import transforms as T

OPENOOD = sys.argv[1] if len(sys.argv) > 1 else "../openood"
OUT = "cmd/t2f/testdata/openood_preprocess"

spec = importlib.util.spec_from_file_location("openood_transform", os.path.join(OPENOOD, "openood", "preprocessors", "transform.py"))
tr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tr)

rng = np.random.default_rng(11)


def smooth(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 100 * np.sin(x / 7.0)[..., None] * np.cos(y / 11.0)[..., None] + 20 * np.sin((x + y) / 3.0)[..., None]
    img = base + rng.normal(0, 6, size=(h, w, c)) + np.array([0, 15, -15][:c])
    return np.clip(img, 0, 255).astype(np.uint8)


os.makedirs(OUT, exist_ok=True)
srcs = {"photo": Image.fromarray(smooth(257, 300, 3), "RGB"), "small": Image.fromarray(smooth(37, 40, 3), "RGB"),
        "digit": Image.fromarray(smooth(28, 28, 1)[..., 0], "L")}
for name, im in srcs.items():
    im.save(os.path.join(OUT, name + ".png"))

cases = []
for bench in ("cifar10", "cifar100", "imagenet200", "imagenet"):
    cfg = yaml.safe_load(open(os.path.join(OPENOOD, "configs", "datasets", bench, bench + ".yml")))["dataset"]
    pre, size = cfg["pre_size"], cfg["image_size"]
    mean, std = tr.normalization_dict[cfg["normalization_type"]]
    interp = tr.interpolation_modes[cfg["interpolation"]]
    geometry = T.Compose([tr.Convert("RGB"), T.Resize(pre, interpolation=interp), T.CenterCrop(size)])
    full = T.Compose([tr.Convert("RGB"), T.Resize(pre, interpolation=interp), T.CenterCrop(size), T.ToTensor(),
                      T.Normalize(mean=mean, std=std)])
    for name, im in srcs.items():
        u8 = np.asarray(geometry(im), dtype=np.uint8)
        fn = f"uint8_{name}_{pre}to{size}.bin"
        u8.tofile(os.path.join(OUT, fn))
        x = full(im)
        assert torch.equal((T.ToTensor()(geometry(im)) * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(u8.copy()))
        flat = x.reshape(-1)
        idx = [(k * 7919) % flat.numel() for k in range(101)]
        cases.append({"bench": bench, "src": name + ".png", "pre_size": pre, "image_size": size,
                      "normalization_type": cfg["normalization_type"], "mean": mean, "std": std, "uint8": fn,
                      "index": idx, "values": [float(flat[i]) for i in idx], "sum": float(flat.double().sum())})
json.dump(cases, open(os.path.join(OUT, "cases.json"), "w"), indent=0)
