#!/usr/bin/python3
# PIL reference for the pipeline build benchmarks (docs/benchmarks.md "Pipeline").
# Run with Debian's interpreter:  /usr/bin/python3 scripts/bench_pipeline.py DIR
# Creates DIR/{png32,jpg32,png64,jpg64}/c{0,1}/NNNN.{png,jpg} (2,000 smooth-noise RGB
# images per set, made once) and times, in one process, what `t2f pipeline build
# --size 32` does per image: open + decode + convert("RGB") + torchvision-style
# Resize(32, bilinear) + CenterCrop(32) + np.asarray. Prints the median of 5 runs in
# images/s (wall clock) and images/cpu-s (process CPU time, robust to machine load).
# The Go benchmark reads the same files: go test ./pipeline -bench Build -benchdata DIR
import os, sys, time, statistics
import numpy as np
from PIL import Image

N = 2000
root = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "/tmp/t2f-benchdata"
rng = np.random.default_rng(1)

def make(kind, side):
    d = os.path.join(root, f"{kind}{side}")
    if os.path.isdir(d):
        return d
    y, x = np.mgrid[0:side, 0:side]
    for i in range(N):
        c = os.path.join(d, f"c{i % 2}")
        os.makedirs(c, exist_ok=True)
        base = 128 + 90 * np.sin(x / (2 + i % 5))[..., None] * np.cos(y / (3 + i % 7))[..., None]
        arr = np.clip(base + rng.normal(0, 20, size=(side, side, 3)), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr, "RGB")
        if kind == "png":
            im.save(os.path.join(c, f"{i:04d}.png"))
        else:
            im.save(os.path.join(c, f"{i:04d}.jpg"), quality=90)
    return d

def pil_build(d, size=32):
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs)
    t, c = time.perf_counter(), time.process_time()
    for f in files:
        im = Image.open(f).convert("RGB")
        w, h = im.size
        if min(w, h) != size:  # torchvision Resize(int) skips when the shorter side already matches
            if w <= h:
                im = im.resize((size, int(size * h / w)), Image.BILINEAR)
            else:
                im = im.resize((int(size * w / h), size), Image.BILINEAR)
        w, h = im.size
        l, tp = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
        im = im.crop((l, tp, l + size, tp + size))
        np.asarray(im)
    return len(files) / (time.perf_counter() - t), len(files) / (time.process_time() - c)

# Optional: --set png32 --runs 1 times one set (scripts/bench_pipeline.sh interleaves
# PIL and Go runs this way so both see the same machine load).
sets = (("png", 32), ("jpg", 32), ("png", 64), ("jpg", 64))
runs = 5
if "--set" in sys.argv:
    name = sys.argv[sys.argv.index("--set") + 1]
    sets = [(name[:3], int(name[3:]))]
if "--runs" in sys.argv:
    runs = int(sys.argv[sys.argv.index("--runs") + 1])
for kind, side in sets:
    d = make(kind, side)
    res = [pil_build(d) for _ in range(runs)]
    rates, cpu = [r for r, _ in res], [c for _, c in res]
    print(f"PIL {kind}{side}->32: median {statistics.median(rates):,.0f} images/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
          f" cpu: {statistics.median(cpu):,.0f} images/cpu-s (cpuruns: {', '.join(f'{r:,.0f}' for r in cpu)})")
