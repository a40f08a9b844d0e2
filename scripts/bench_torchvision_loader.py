#!/usr/bin/python3
"""Same-machine reference for the augment loader benchmark (docs/benchmarks.md, "Augmentation loader").

Measures images/s of OpenOOD's small-image training transform
(RandomHorizontalFlip(0.5) → RandomCrop(size, padding 4) → ToTensor → Normalize) at batch 128:
  * torchvision's DataLoader over PIL images (what OpenOOD runs), num_workers 0 and 2;
  * a vectorised uint8 torch version (pad, gather the crops, flip, normalise a whole batch at once),
    one thread — the fastest reasonable Python baseline.
for 32×32×3 (CIFAR constants) and 28×28×1 (MNIST, single-channel 'L' images, mean = std = 0.5);
and the ImageNet transform (RandomResizedCrop(224) + flip + ToTensor + Normalize) on 256×320 RGB PIL
images in one process.

Run:  /usr/bin/python3 scripts/bench_torchvision_loader.py [--images 10000] [--repeat 3]
then, in the same session, the Go side:
      go test -run '^$' -bench 'Loader' -count 5 ./augment
(`go tool task bench:augment` runs both). Needs Debian's torch 1.13 and python3-torchvision.
Prints one line per measurement: the median of --repeat runs and every run, as images per wall
second and images per CPU second (this process plus its DataLoader worker processes, user + system).
On the shared 2-core machine the CPU-second rate is the per-core figure; wall time mostly measures
how much CPU the scheduler granted. The Go benchmarks report the same two metrics.
"""
import argparse
import resource
import statistics
import time

import numpy as np
import torch_bench_env  # noqa: E402  (the script's directory is sys.path[0])

torch_bench_env.apply()

import torch
import torchvision.transforms as T
from PIL import Image

NORMS = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), "mnist": ((0.5,), (0.5,))}


class PILDataset(torch.utils.data.Dataset):
    """In-memory uint8 images handed to the transform as PIL images, as OpenOOD's ImglistDataset does
    (minus file decoding)."""

    def __init__(self, arr, labels, transform):
        self.arr, self.labels, self.transform = arr, labels, transform

    def __len__(self):
        return len(self.arr)

    def __getitem__(self, i):
        a = self.arr[i]
        img = Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(a, "RGB")
        return self.transform(img), int(self.labels[i])


def cpu_seconds():
    """CPU time of this process and its reaped children (DataLoader workers), user + system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    """Run fn() -> images; return (images per wall second, images per CPU second)."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    n = fn()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return n / wall, n / cpu


def bench_dataloader(arr, labels, norm, workers):
    size = arr.shape[1]
    mean, std = NORMS[norm]
    tf = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(size, padding=4), T.ToTensor(), T.Normalize(mean, std)])
    dl = torch.utils.data.DataLoader(PILDataset(arr, labels, tf), batch_size=128, shuffle=True, num_workers=workers,
                                     drop_last=False, persistent_workers=False)
    n = 0
    for x, y in dl:
        n += x.shape[0]
    return n


def bench_vectorised(arr, labels, norm):
    """Batched uint8 crop+flip in torch, then one float conversion and normalisation per batch."""
    n_img, h, w, c = arr.shape
    mean, std = NORMS[norm]
    mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    data = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # N, C, H, W uint8
    lab = torch.from_numpy(labels)
    ar_h, ar_w = torch.arange(h), torch.arange(w)
    perm = torch.randperm(n_img)
    n = 0
    for s in range(0, n_img, 128):
        idx = perm[s:s + 128]
        b = data[idx]
        bsz = b.shape[0]
        p = torch.nn.functional.pad(b, (4, 4, 4, 4))
        top = torch.randint(0, 9, (bsz,))
        left = torch.randint(0, 9, (bsz,))
        flip = torch.rand(bsz) < 0.5
        rowsel = p.gather(2, (top[:, None] + ar_h)[:, None, :, None].expand(bsz, c, h, w + 8))
        crop = rowsel.gather(3, (left[:, None] + ar_w)[:, None, None, :].expand(bsz, c, h, w))
        # Crop-then-flip: with symmetric padding the same distribution as flip-then-crop.
        crop = torch.where(flip[:, None, None, None], crop.flip(3), crop)
        x = crop.float().div_(255).sub_(mean).div_(std)
        y = lab[idx]
        n += bsz
    return n


def bench_resized_crop(arr):
    """RandomResizedCrop(224) + flip + ToTensor + Normalize on PIL images, one process, no DataLoader."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
    for a in arr:
        tf(Image.fromarray(a, "RGB"))
    return len(arr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.RandomState(1)
    for shape, norm in (((32, 32, 3), "cifar10"), ((28, 28, 1), "mnist")):
        arr = rng.randint(0, 256, size=(args.images,) + shape, dtype=np.uint8)
        labels = rng.randint(0, 10, size=args.images).astype(np.int64)
        name = "x".join(map(str, shape))
        for label, fn in (("dataloader-0-workers", lambda: bench_dataloader(arr, labels, norm, 0)),
                          ("dataloader-2-workers", lambda: bench_dataloader(arr, labels, norm, 2)),
                          ("vectorised-uint8-1-thread", lambda: bench_vectorised(arr, labels, norm))):
            report(f"{name} {label}", [timed(fn) for _ in range(args.repeat)])
    arr = rng.randint(0, 256, size=(300, 256, 320, 3), dtype=np.uint8)
    report("256x320x3 resized-crop-224-pil-1-process", [timed(lambda: bench_resized_crop(arr)) for _ in range(args.repeat)])


def report(what, runs):
    wall, cpu = [r[0] for r in runs], [r[1] for r in runs]
    print(f"{what}: median {statistics.median(wall):,.0f} images/s, {statistics.median(cpu):,.0f} images/cpu-s  runs "
          + " ".join(f"{w:,.0f}/{c:,.0f}" for w, c in runs), flush=True)


if __name__ == "__main__":
    main()
