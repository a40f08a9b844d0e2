# Generates the PIL/torchvision reference fixtures for pipeline's preprocessing tests.
# Rerun from this folder with Debian's interpreter:  /usr/bin/python3 gen.py
# (PIL 9.4, torchvision 0.14). Writes src_*.png inputs, out_*.bin outputs (raw HWC uint8)
# and cases.json.
import json
import numpy as np
from PIL import Image
from torchvision import transforms as T

rng = np.random.default_rng(20261127)

def smooth_noise(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(x / 3.0)[..., None] * np.cos(y / 5.0)[..., None]
    img = base + rng.normal(0, 25, size=(h, w, c))
    return np.clip(img, 0, 255).astype(np.uint8)

srcs = {
    "rgb45x30": Image.fromarray(smooth_noise(30, 45, 3), "RGB"),    # landscape, shrink + crop
    "rgb64": Image.fromarray(smooth_noise(64, 64, 3), "RGB"),       # square shrink 64 -> 32
    "rgb21x37": Image.fromarray(smooth_noise(37, 21, 3), "RGB"),    # portrait, upsample + crop
    "grey13x20": Image.fromarray(smooth_noise(20, 13, 1)[..., 0], "L"),
}
for name, im in srcs.items():
    im.save(f"src_{name}.png")

modes = {"bilinear": T.InterpolationMode.BILINEAR, "box": T.InterpolationMode.BOX}
cases = []
for name, im in srcs.items():
    for size in (16, 32):
        for channels in (1, 3):
            for resample, mode in modes.items():
                conv = im.convert("RGB" if channels == 3 else "L")
                out = T.Compose([T.Resize(size, interpolation=mode), T.CenterCrop(size)])(conv)
                arr = np.asarray(out, dtype=np.uint8).reshape(size, size, channels)
                fn = f"out_{name}_{size}_{channels}_{resample}.bin"
                arr.tofile(fn)
                cases.append({"src": f"src_{name}.png", "size": size, "channels": channels, "resample": resample, "out": fn})
# OpenOOD's ImageNet test transform shape: Resize(pre) then CenterCrop(size) with pre > size.
for name, im in srcs.items():
    for pre, size in ((20, 16), (37, 32)):
        for channels in (1, 3):
            conv = im.convert("RGB" if channels == 3 else "L")
            out = T.Compose([T.Resize(pre, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(size)])(conv)
            arr = np.asarray(out, dtype=np.uint8).reshape(size, size, channels)
            fn = f"out_{name}_{pre}to{size}_{channels}_bilinear.bin"
            arr.tofile(fn)
            cases.append({"src": f"src_{name}.png", "resize": pre, "size": size, "channels": channels, "resample": "bilinear", "out": fn})
json.dump(cases, open("cases.json", "w"), indent=1)
