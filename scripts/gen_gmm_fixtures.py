"""Oracle fixtures for OpenOOD's `gmm` post-processor and its scikit-learn pieces.

Runs OpenOOD's own, unmodified GMMPostprocessor (openood/postprocessors/
gmm_postprocessor.py, default configuration of configs/postprocessors/gmm.yml:
feature_type_list [stat, mean, flat], reduce_dim_list [none, none, pca_50],
num_clusters_list [3, 1, 50], alpha_list [0, 0, 1]) — imported from an OpenOOD
checkout (default ../openood, or $OPENOOD) module by module, see
openood_shim.py — on OpenOOD's ResNet18_32x32 at stage widths 8-16-32-64 (the
t2f engine's --width 0.125; gen_network_fixtures.py's SmallResNet18) on
32×32 synthetic images, trained for a few SGD steps. `feature_list[2]` is
layer2's output, 16·16·16 = 4,096 values per image. PCA(50) on 400 ID-train
images takes scikit-learn's randomized solver with random_state=None, so
numpy's global generator is seeded (np.random.seed(0)) before setup.

Images are stored as uint8 (images.u8, NCHW: ID train, ID test, OOD test)
with the normalisation (u/255 − 0.5)/0.25 applied in float32 as
torchvision's ToTensor and Normalize do, so the Go test rebuilds the
network's exact input.

arrays.bin holds little-endian arrays indexed in fixture.json ("arrays":
name → dtype, shape, byte offset):

  transform, means, precision, weights (f4)  OpenOOD's layer-2 statistics as its
      scoring reads them (float32 torch tensors): PCA components (4096×50),
      GMM means (50×50), precision (50×50), weights (50)
  id_test, ood_test (f4)   OpenOOD's scores (postprocess conf)
  train_proj (f8)          ID-train layer-2 maps projected on the float64 PCA
      components (what GaussianMixture was fitted on), 400×50
  kmeans_init (i4)         the indices scikit-learn's k-means++ picks on it
      (GaussianMixture(random_state=0)'s KMeans initialisation)
  kmeans_labels (i4)       KMeans' labels from those centres (the GMM's initial
      responsibilities)
  sk_means, sk_precision, sk_weights (f8)  the fitted GaussianMixture
  pca_x (f4), pca_components, pca_variance (f8)   scikit-learn PCA(10) on a
      small 80×600 matrix (randomized solver, transposed) ...
  pcafull_x (f4), pcafull_components, pcafull_variance (f8)  ... and on 300×40
      (the full solver)
  mix_x (f8), mix_labels (i4), mix_means, mix_precision, mix_weights (f8)
      a well-separated 4-component tied mixture in 5 dimensions, fitted by
      GaussianMixture(4, covariance_type='tied', random_state=0)
  pcatall_a, pcatall_b (f8), pcatall_components, pcatall_variance (f8)
      PCA(10) of the 600×510 float32 matrix a·b + 0.05·sin(0.013·i·j + 0.5·i)
      + 3 (the randomized solver, not transposed)
  pcawide_x (f4), pcawide_components, pcawide_variance (f8)   PCA(10) of a
      40×300 matrix (the full solver with fewer rows than columns)

fixture.json also records OpenOOD's AUROC, the per-layer log-densities'
range of the two α = 0 layers (finite, so their 0·log terms are 0), and the
spread over 10 seeds s of PCA (np.random.seed(s)) and
GaussianMixture(random_state=s) scored by OpenOOD's compute_GMM_score: AUROC
and the fitted mean log-likelihood (lower_bound_).

    /usr/bin/python3 scripts/gen_gmm_fixtures.py
"""
import importlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_network_fixtures as net_fx  # SmallResNet18, FeatureListView, train, save_safetensors, config, auroc

from sklearn.cluster import KMeans
from sklearn.cluster._kmeans import _kmeans_plusplus
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

gmm_pp = importlib.import_module("openood.postprocessors.gmm_postprocessor")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluate", "posthoc", "testdata", "gmm")
CLASSES = 5
SIZE = 32
TRAIN_N, ID_N, OOD_N = 400, 150, 150
MEAN, STD = 0.5, 0.25
GMM_ARGS = {"num_clusters_list": [3, 1, 50], "feature_type_list": ["stat", "mean", "flat"],
            "alpha_list": [0, 0, 1], "reduce_dim_list": ["none", "none", "pca_50"]}


def make_images(gen):
    """uint8 images: class templates plus noise (ID); a random blend of two
    templates plus the same noise (OOD, from the ID-like blend w = 1 to the
    far w = 0.5)."""
    templates = F.avg_pool2d(torch.randn(CLASSES, 3, SIZE, SIZE, generator=gen), 7, 1, 3) * 4

    def quant(x):
        return torch.clamp(torch.round(128 + 40 * x), 0, 255).to(torch.uint8)

    def id_set(n):
        y = torch.arange(n) % CLASSES
        x = templates[y] * (0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=gen)) + 0.8 * torch.randn(n, 3, SIZE, SIZE, generator=gen)
        return quant(x), y

    def ood_set(n):
        a = torch.randint(0, CLASSES, (n,), generator=gen)
        b = (a + 1 + torch.randint(0, CLASSES - 1, (n,), generator=gen)) % CLASSES
        w = 0.5 + 0.5 * torch.rand(n, 1, 1, 1, generator=gen)
        x = w * templates[a] + (1 - w) * templates[b] + 0.8 * torch.randn(n, 3, SIZE, SIZE, generator=gen)
        return quant(x), torch.full((n,), -1)
    return id_set, ood_set


def normalise(u8):
    # torchvision ToTensor (float32 /255) then Normalize ((x − mean)/std), float32.
    return u8.float().div(255).sub(MEAN).div(STD)


class Arrays:
    def __init__(self):
        self.index, self.blobs, self.off = {}, [], 0

    def add(self, name, a, dtype):
        a = np.ascontiguousarray(np.asarray(a), dtype=dtype)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        self.index[name] = {"dtype": np.dtype(dtype).str[1:], "shape": list(a.shape), "offset": self.off}
        self.blobs.append(b)
        self.off += len(b)


def layer_logp(fl, means, prec, weights, transform, layer):
    """OpenOOD's per-layer log(prob + 1e-45) for one layer (compute_GMM_score)."""
    prob = gmm_pp.compute_GMM_score(fl, fl.x, means, prec, weights, transform, layer, GMM_ARGS["feature_type_list"])
    return torch.log(prob + 1e-45).reshape(-1)


class Bound(torch.nn.Module):
    """FeatureListView over a fixed input (compute_GMM_score calls model(data))."""

    def __init__(self, view, x):
        super().__init__()
        self.view, self.x = view, x

    def forward(self, x, return_feature_list=False):
        return self.view(x, return_feature_list=return_feature_list)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(5)
    id_set, ood_set = make_images(gen)
    utr, ytr = id_set(TRAIN_N)
    uid, _ = id_set(ID_N)
    uood, _ = ood_set(OOD_N)
    xtr, xid, xood = normalise(utr), normalise(uid), normalise(uood)

    torch.manual_seed(2)
    bb = net_fx.SmallResNet18(CLASSES)
    net_fx.train(bb, xtr, ytr, 60, gen)
    bb.eval()
    os.makedirs(OUT, exist_ok=True)
    net_fx.save_safetensors(os.path.join(OUT, "model.safetensors"), dict(bb.state_dict()))
    with open(os.path.join(OUT, "images.u8.tmp"), "wb") as f:
        for u in (utr, uid, uood):
            f.write(u.numpy().tobytes())
    os.replace(os.path.join(OUT, "images.u8.tmp"), os.path.join(OUT, "images.u8"))
    view = net_fx.FeatureListView(bb).eval()

    # OpenOOD's GMMPostprocessor, default configuration, one train batch.
    pp = gmm_pp.GMMPostprocessor(net_fx.config("gmm", GMM_ARGS))
    np.random.seed(0)
    pp.setup(view, {"train": [{"data_aux": xtr.clone(), "label": ytr}]}, {})
    with torch.no_grad():
        _, s_id = pp.postprocess(view, xid.clone())
        _, s_ood = pp.postprocess(view, xood.clone())
    s_id, s_ood = s_id.reshape(-1).numpy(), s_ood.reshape(-1).numpy()
    auroc = net_fx.auroc(s_id.astype(np.float64), s_ood.astype(np.float64))
    floor = float(torch.log(torch.tensor([0.0]) + 1e-45))
    print("OpenOOD gmm AUROC", auroc, "floor", floor, "saturated id/ood", int((s_id == floor).sum()), int((s_ood == floor).sum()))

    # The α = 0 layers: their log-densities are finite, so 0·log(…) = 0.
    layer_range = []
    for layer in (0, 1):
        lo, hi = np.inf, -np.inf
        for x in (xid, xood):
            with torch.no_grad():
                v = layer_logp(Bound(view, x), pp.feature_mean, pp.feature_prec, pp.component_weight_list, pp.transform_matrix_list, layer)
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        layer_range.append([lo, hi])

    # The layer-2 fit, replayed: the same PCA (numpy seeded 0 as above) in float64.
    with torch.no_grad():
        _, fl = view(xtr, return_feature_list=True)
    flat = np.array(fl[2].reshape(TRAIN_N, -1).tolist())  # float64, as tensor2list → np.array
    np.random.seed(0)
    # setup ran PCA only for layer 2; layers 0 and 1 use np.eye (no random draw).
    pca = PCA(n_components=50).fit(flat)
    t64 = pca.components_.T
    assert torch.equal(torch.Tensor(t64), pp.transform_matrix_list[2]), "replayed PCA differs from OpenOOD's"
    proj = flat @ t64
    gm = GaussianMixture(n_components=50, random_state=0, covariance_type="tied").fit(proj)
    assert torch.equal(torch.Tensor(gm.means_), pp.feature_mean[2]), "replayed GMM differs from OpenOOD's"
    km = KMeans(n_clusters=50, n_init=1, random_state=0).fit(proj)
    xc = proj - proj.mean(axis=0)
    _, init_idx = _kmeans_plusplus(xc, 50, (xc * xc).sum(axis=1), np.random.RandomState(0))
    km2 = KMeans(n_clusters=50, n_init=1, init=proj[init_idx]).fit(proj)
    assert np.array_equal(km.labels_, km2.labels_), "k-means++ indices do not reproduce KMeans"

    # Spread over seeds: PCA's generator and GaussianMixture's random_state.
    spread = []
    for s in range(10):
        np.random.seed(s)
        t = PCA(n_components=50).fit(flat).components_.T
        g = GaussianMixture(n_components=50, random_state=s, covariance_type="tied").fit(flat @ t)
        args = [[None, None, torch.Tensor(v)] for v in (g.means_, g.precisions_, g.weights_, t)]
        with torch.no_grad():
            a = net_fx.auroc(layer_logp(Bound(view, xid), *args, 2).double().numpy(),
                             layer_logp(Bound(view, xood), *args, 2).double().numpy())
        spread.append({"seed": s, "auroc": a, "lower_bound": float(g.lower_bound_), "n_iter": int(g.n_iter_)})
    print("spread AUROC", min(e["auroc"] for e in spread), max(e["auroc"] for e in spread),
          "lower bound", min(e["lower_bound"] for e in spread), max(e["lower_bound"] for e in spread))

    arr = Arrays()
    arr.add("transform", pp.transform_matrix_list[2].numpy(), "<f4")
    arr.add("means", pp.feature_mean[2].numpy(), "<f4")
    arr.add("precision", pp.feature_prec[2].numpy(), "<f4")
    arr.add("weights", pp.component_weight_list[2].numpy(), "<f4")
    arr.add("id_test", s_id, "<f4")
    arr.add("ood_test", s_ood, "<f4")
    arr.add("train_proj", proj, "<f8")
    arr.add("kmeans_init", init_idx, "<i4")
    arr.add("kmeans_labels", km.labels_, "<i4")
    arr.add("sk_means", gm.means_, "<f8")
    arr.add("sk_precision", gm.precisions_, "<f8")
    arr.add("sk_weights", gm.weights_, "<f8")

    # Small PCA cases: low-rank signal plus noise, float32-valued like features.
    rng = np.random.RandomState(7)
    pcas = {}
    for name, (n, d) in {"pca": (80, 600), "pcafull": (300, 40)}.items():
        # rank 10 plus small noise: a clear gap after the 10th component, so
        # every solver (and both generators) converges to the same basis.
        sig = np.linspace(10, 1, 10)
        x = (rng.randn(n, 10) * sig) @ rng.randn(10, d) + 0.05 * rng.randn(n, d) + 3
        x = x.astype(np.float32)
        np.random.seed(0)
        p = PCA(n_components=10).fit(x.astype(np.float64))
        pcas[name] = p._fit_svd_solver
        arr.add(name + "_x", x, "<f4")
        arr.add(name + "_components", p.components_, "<f8")
        arr.add(name + "_variance", p.explained_variance_, "<f8")
    assert pcas == {"pca": "randomized", "pcafull": "full"}, pcas

    # A well-separated tied mixture.
    centres = rng.randn(4, 5) * 6
    a = rng.randn(5, 5) * 0.5 + np.eye(5)
    labels = rng.randint(0, 4, 600)
    x = centres[labels] + rng.randn(600, 5) @ a
    mg = GaussianMixture(n_components=4, random_state=0, covariance_type="tied").fit(x)
    arr.add("mix_x", x, "<f8")
    arr.add("mix_labels", labels, "<i4")
    arr.add("mix_means", mg.means_, "<f8")
    arr.add("mix_precision", mg.precisions_, "<f8")
    arr.add("mix_weights", mg.weights_, "<f8")

    # Two more PCA shapes: tall (600×510, the randomized solver without
    # transposition, 7 power iterations: CIFAR-10 train's case, n > d) from
    # stored factors and a deterministic pattern, and wide-and-small (40×300,
    # the full solver with n < d).
    fa, fb = rng.randn(600, 10) * np.linspace(10, 1, 10), rng.randn(10, 510)
    i, j = np.meshgrid(np.arange(600), np.arange(510), indexing="ij")
    x = (fa @ fb + 0.05 * np.sin(0.013 * i * j + 0.5 * i) + 3).astype(np.float32)
    np.random.seed(0)
    p = PCA(n_components=10).fit(x.astype(np.float64))
    assert p._fit_svd_solver == "randomized"
    arr.add("pcatall_a", fa, "<f8")
    arr.add("pcatall_b", fb, "<f8")
    arr.add("pcatall_components", p.components_, "<f8")
    arr.add("pcatall_variance", p.explained_variance_, "<f8")
    x = ((rng.randn(40, 10) * np.linspace(10, 1, 10)) @ rng.randn(10, 300) + 0.05 * rng.randn(40, 300) + 3).astype(np.float32)
    p = PCA(n_components=10).fit(x.astype(np.float64))
    assert p._fit_svd_solver == "full"
    arr.add("pcawide_x", x, "<f4")
    arr.add("pcawide_components", p.components_, "<f8")
    arr.add("pcawide_variance", p.explained_variance_, "<f8")

    with open(os.path.join(OUT, "arrays.bin.tmp"), "wb") as f:
        f.write(b"".join(arr.blobs))
    os.replace(os.path.join(OUT, "arrays.bin.tmp"), os.path.join(OUT, "arrays.bin"))
    fixture = {"classes": CLASSES, "size": SIZE, "widths": list(net_fx.WIDTHS), "mean": MEAN, "std": STD,
               "train_n": TRAIN_N, "id_n": ID_N, "ood_n": OOD_N, "train_labels": ytr.tolist(),
               "auroc": auroc, "floor": floor, "layer_logp_range": layer_range,
               "sk_lower_bound": float(gm.lower_bound_), "sk_n_iter": int(gm.n_iter_), "sk_converged": bool(gm.converged_),
               "kmeans_n_iter": int(km.n_iter_),
               "mix_lower_bound": float(mg.lower_bound_), "mix_n_iter": int(mg.n_iter_),
               "spread": spread, "arrays": arr.index}
    with open(os.path.join(OUT, "fixture.json.tmp"), "w") as f:
        json.dump(fixture, f, indent=0, separators=(",", ":"))
    os.replace(os.path.join(OUT, "fixture.json.tmp"), os.path.join(OUT, "fixture.json"))


if __name__ == "__main__":
    main()
