#!/usr/bin/python3
"""Generate golden.json.gz, the torchvision reference outputs the augment tests check against.

Rerun (from the repository root):  /usr/bin/python3 augment/testdata/gen_golden.py
Needs Debian's torch 1.13 and torchvision 0.14 (apt-get install python3-torchvision) and PIL 9.4.
The Go tests only read golden.json.gz; they never run Python.

What it records, all through torchvision's own functions on PIL images (the path OpenOOD uses):
  luts     ToTensor + Normalize of the 256 byte values for each preset (float32 bit patterns).
  crops    RandomHorizontalFlip + RandomCrop(size, padding, fill 0) + ToTensor + Normalize with fixed
           flip decisions and crop corners (F.hflip, F.pad, F.crop, the calls the transform classes
           make), and the test transform (ToTensor + Normalize only).
  resized  RandomResizedCrop with fixed boxes (F.resized_crop, bilinear, i.e. PIL's antialiased
           bilinear resize on uint8) + optional flip: the uint8 PIL result and, for small outputs,
           the normalised float32 tensor.
  boxes    RandomResizedCrop.get_params runs with every random number it drew (torch.Tensor.uniform_
           and torch.randint are spied on), so the Go sampler can replay them.
Before writing, it checks that the functional calls reproduce the transform classes for seeded runs.
"""
import base64
import gzip
import json
import math
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
import PIL

PRESETS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mnist": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def norm_for(name, channels):
    m, s = PRESETS[name]
    return list(m[:channels]), list(s[:channels])


def to_pil(arr):
    return Image.fromarray(arr[:, :, 0], "L") if arr.shape[2] == 1 else Image.fromarray(arr, "RGB")


def finish(img, norm, channels):
    m, s = norm_for(norm, channels)
    return F.normalize(F.to_tensor(img), m, s)


def make_image(rng, h, w, c):
    """Smooth gradients plus noise, with saturated corners so 0 and 255 occur."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255.0 / max(w - 1, 1)), (y * 255.0 / max(h - 1, 1)), ((x + y) * 127.0 / max(h + w - 2, 1))], -1)[:, :, :c]
    noise = rng.normal(0, 40, size=(h, w, c))
    a = np.clip(base + noise, 0, 255).astype(np.uint8)
    a[0, 0, :] = 0
    a[-1, -1, :] = 255
    return a


def main():
    rng = np.random.RandomState(20261127)
    out = {"generator": "augment/testdata/gen_golden.py",
           "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__},
           "images": {}, "luts": [], "crops": [], "resized": [], "boxes": []}

    # Lookup tables: one 1×256 image per channel count holding every byte value.
    for name in PRESETS:
        for ch in (1, 3) if name == "mnist" else (3,):
            arr = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (1, 1, ch))
            t = finish(to_pil(arr), name, ch).numpy()  # (ch, 1, 256)
            out["luts"].append({"norm": name, "channels": ch,
                                "bits": [[int(b) for b in t[k, 0].view(np.uint32)] for k in range(ch)]})

    images = {
        "rgb32": make_image(rng, 32, 32, 3),
        "grey28": make_image(rng, 28, 28, 1),
        "rgb36x30": make_image(rng, 36, 30, 3),
        "rgb96x128": make_image(rng, 96, 128, 3),
        "grey50x60": make_image(rng, 50, 60, 1),
    }
    for k, a in images.items():
        out["images"][k] = {"h": a.shape[0], "w": a.shape[1], "c": a.shape[2], "b64": b64(a)}

    def pil_of(name, out_channels):
        img = to_pil(images[name])
        if out_channels == 3 and img.mode == "L":
            img = img.convert("RGB")
        return img

    # Crop cases: (image, norm, out channels, size, padding, flip, top, left). Size 0 = stored size.
    crops = [
        ("rgb32", "cifar10", 3, 32, 4, False, 4, 4),
        ("rgb32", "cifar10", 3, 32, 4, True, 4, 4),
        ("rgb32", "cifar10", 3, 32, 4, False, 0, 0),
        ("rgb32", "cifar10", 3, 32, 4, True, 0, 8),
        ("rgb32", "cifar100", 3, 32, 4, True, 8, 0),
        ("rgb32", "cifar100", 3, 32, 4, False, 8, 8),
        ("rgb32", "imagenet", 3, 32, 4, True, 3, 6),
        ("grey28", "mnist", 1, 28, 4, False, 1, 7),
        ("grey28", "mnist", 1, 28, 4, True, 8, 2),
        ("grey28", "mnist", 3, 28, 4, True, 5, 0),
        ("grey28", "imagenet", 3, 28, 4, False, 0, 3),
        ("rgb36x30", "cifar10", 3, 32, 4, True, 2, 5),
        ("rgb36x30", "cifar10", 3, 32, 4, False, 12, 0),
        ("rgb36x30", "cifar10", 3, 32, 4, True, 12, 6),
    ]
    for (name, norm, oc, size, pad, flip, top, left) in crops:
        img = pil_of(name, oc)
        if flip:
            img = F.hflip(img)
        img = F.pad(img, pad, fill=0)
        img = F.crop(img, top, left, size, size)
        t = finish(img, norm, oc).numpy()
        out["crops"].append({"kind": "crop", "image": name, "norm": norm, "out_channels": oc, "size": size,
                             "padding": pad, "flip": flip, "top": top, "left": left,
                             "shape": list(t.shape), "f32": b64(t.astype("<f4"))})
    for (name, norm, oc) in [("rgb32", "cifar10", 3), ("grey28", "mnist", 1), ("grey28", "mnist", 3),
                             ("rgb36x30", "imagenet", 3)]:
        t = finish(pil_of(name, oc), norm, oc).numpy()
        out["crops"].append({"kind": "test", "image": name, "norm": norm, "out_channels": oc, "size": 0,
                             "padding": 0, "flip": False, "top": 0, "left": 0,
                             "shape": list(t.shape), "f32": b64(t.astype("<f4"))})

    # Resized crops: (image, norm, out channels, size, flip, top, left, height, width).
    resized = [
        ("rgb96x128", "imagenet", 3, 64, False, 3, 5, 90, 120),   # downscale both axes
        ("rgb96x128", "imagenet", 3, 64, True, 10, 20, 20, 30),   # upscale both axes
        ("rgb96x128", "imagenet", 3, 64, False, 7, 33, 80, 64),   # width unchanged: no horizontal pass
        ("rgb96x128", "imagenet", 3, 64, True, 16, 0, 64, 100),   # height unchanged: no vertical pass
        ("rgb96x128", "imagenet", 3, 64, False, 0, 0, 64, 64),    # no resize at all
        ("rgb96x128", "imagenet", 3, 32, True, 40, 90, 3, 5),     # tiny box, large upscale
        ("rgb96x128", "imagenet", 3, 32, False, 0, 0, 96, 128),   # 4× downscale (wide filters)
        ("grey50x60", "mnist", 1, 224, False, 2, 3, 45, 55),      # the ImageNet output size (grey keeps the fixture small)
        ("grey50x60", "mnist", 1, 28, True, 4, 9, 41, 37),
        ("grey50x60", "mnist", 3, 28, False, 0, 1, 50, 59),
    ]
    for (name, norm, oc, size, flip, top, left, h, w) in resized:
        img = F.resized_crop(pil_of(name, oc), top, left, h, w, [size, size], T.InterpolationMode.BILINEAR)
        u8 = np.asarray(img).reshape(size, size, -1)
        case = {"image": name, "norm": norm, "out_channels": oc, "size": size, "flip": flip,
                "top": top, "left": left, "height": h, "width": w, "u8": b64(u8)}
        if size <= 32:
            if flip:
                img = F.hflip(img)
            t = finish(img, norm, oc).numpy()
            case["shape"] = list(t.shape)
            case["f32"] = b64(t.astype("<f4"))
        out["resized"].append(case)

    # get_params replays. Spy on the random calls RandomResizedCrop.get_params makes.
    draws = []
    orig_uniform, orig_randint = torch.Tensor.uniform_, torch.randint

    def spy_uniform(self, a=0.0, b=1.0, **kw):
        r = orig_uniform(self, a, b, **kw)
        draws.append(["u", float(a), float(b), float(r.item())])
        return r

    def spy_randint(low, high, size, **kw):
        r = orig_randint(low, high, size, **kw)
        draws.append(["i", int(low), int(high), int(r.item())])
        return r

    torch.Tensor.uniform_, torch.randint = spy_uniform, spy_randint
    try:
        cases = [((96, 128), (0.08, 1.0), (3 / 4, 4 / 3)), ((256, 256), (0.08, 1.0), (3 / 4, 4 / 3)),
                 ((500, 375), (0.08, 1.0), (3 / 4, 4 / 3)), ((20, 300), (0.5, 1.0), (3 / 4, 4 / 3)),
                 ((300, 20), (0.5, 1.0), (3 / 4, 4 / 3)), ((40, 40), (0.95, 1.0), (0.2, 0.3)),
                 ((40, 41), (0.9, 1.0), (3 / 4, 4 / 3)), ((7, 5), (0.08, 1.0), (3 / 4, 4 / 3))]
        for (hw, scale, ratio) in cases:
            img = Image.new("L", (hw[1], hw[0]))
            for seed in range(30):
                torch.manual_seed(seed)
                draws.clear()
                box = T.RandomResizedCrop.get_params(img, list(scale), list(ratio))
                out["boxes"].append({"h": hw[0], "w": hw[1], "scale": list(scale), "ratio": list(ratio),
                                     "draws": list(draws), "box": list(box)})
    finally:
        torch.Tensor.uniform_, torch.randint = orig_uniform, orig_randint

    check_against_classes(images)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json.gz")
    with gzip.GzipFile(path + ".tmp", "wb", mtime=0) as f:
        f.write(json.dumps(out, separators=(",", ":")).encode())
    os.replace(path + ".tmp", path)
    print("wrote", path, os.path.getsize(path), "bytes;", len(out["crops"]), "crops,", len(out["resized"]),
          "resized,", len(out["boxes"]), "boxes")


def check_against_classes(images):
    """The functional calls above must equal the transform classes with the parameters they drew."""
    m, s = PRESETS["cifar10"]
    img = to_pil(images["rgb32"])
    for seed in range(20):
        torch.manual_seed(seed)
        a = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=4), T.ToTensor(), T.Normalize(m, s)])(img)
        torch.manual_seed(seed)
        x = F.hflip(img) if torch.rand(1) < 0.5 else img
        x = F.pad(x, 4, fill=0)
        i, j, h, w = T.RandomCrop.get_params(x, (32, 32))
        b = F.normalize(F.to_tensor(F.crop(x, i, j, h, w)), m, s)
        assert torch.equal(a, b), seed
    m, s = PRESETS["imagenet"]
    img = to_pil(images["rgb96x128"])
    for seed in range(20):
        torch.manual_seed(seed)
        a = T.Compose([T.RandomResizedCrop(64), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(m, s)])(img)
        torch.manual_seed(seed)
        i, j, h, w = T.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])
        x = F.resized_crop(img, i, j, h, w, [64, 64], T.InterpolationMode.BILINEAR)
        x = F.hflip(x) if torch.rand(1) < 0.5 else x
        b = F.normalize(F.to_tensor(x), m, s)
        assert torch.equal(a, b), seed


if __name__ == "__main__":
    main()
