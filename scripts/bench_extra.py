"""OpenOOD's PyTorch post-processors for the `t2f features --extra` methods,
timed on ResNet-18 32×32 (OpenOOD's ResNet18_32x32, width 1, 10 classes) on
2 threads, batch 128 of random 3×32×32 images: images/s per method, printed
as `name images/s` lines. The same cases as BenchmarkExtra in
cmd/t2f/features_extra_bench_test.go; scripts/bench_extra.sh runs both.

odin-grid is what OpenOOD's APS costs per image for ODIN: one
postprocess call per (temperature, noise) of the sweep (8); odin-one and
iodin-one are one setting. rankfeat is RankFeatPostprocessor (SVD), adascale
AdaScalePostprocessor.postprocess (gradient, perturbation, second forward),
mds_ensemble MDSEnsemblePostprocessor.postprocess in its default
configuration (stem layer; synthetic class means and identity precision in
place of the ID-train statistics, which t2f features computes once), gram
GRAMPostprocessor.postprocess (hooks on the 20 convolutions, Gram features of
powers 1..5, deviations; synthetic ranges [0, 1] and normalisation 1).
gmm GMMPostprocessor.postprocess in its default configuration (synthetic
statistics for its three layers; the fit on ID train is not timed).
plain is the network's forward alone.

    /usr/bin/python3 scripts/bench_extra.py [--reps 3]
"""
import argparse
import importlib
import os
import sys
import time

import torch_bench_env  # noqa: E402  (the script's directory is sys.path[0])

torch_bench_env.apply()

import torch

import openood_shim

OPENOOD = os.environ.get("OPENOOD", "../openood")
openood_shim.install(OPENOOD)  # OpenOOD module by module, CPU only

resnet = importlib.import_module("openood.networks.resnet18_32x32")
odin_pp = importlib.import_module("openood.postprocessors.odin_postprocessor")
iodin_pp = importlib.import_module("openood.postprocessors.iodin_postprocessor")
rankfeat_pp = importlib.import_module("openood.postprocessors.rankfeat_postprocessor")
adascale_pp = importlib.import_module("openood.postprocessors.adascale_postprocessor")
adascale_net = importlib.import_module("openood.networks.adascale_net")
mds_ens_pp = importlib.import_module("openood.postprocessors.mds_ensemble_postprocessor")
gram_pp = importlib.import_module("openood.postprocessors.gram_postprocessor")
gmm_pp = importlib.import_module("openood.postprocessors.gmm_postprocessor")


AttrDict = openood_shim.AttrDict


def config(name, args, sweep=None):
    return AttrDict(dataset=AttrDict(name="cifar10"),
                    postprocessor=AttrDict(name=name, postprocessor_args=AttrDict(args),
                                           postprocessor_sweep=AttrDict(sweep or {})))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = resnet.ResNet18_32x32(num_classes=10).eval()
    x = torch.randn(a.batch, 3, 32, 32)
    odin = odin_pp.ODINPostprocessor(config("odin", {"temperature": 1000, "noise": 0.0014}))
    iodin = iodin_pp.IODINPostprocessor(config("iodin", {"temperature": 1000, "noise": 0.0014}))
    rank = rankfeat_pp.RankFeatPostprocessor(config("rankfeat", {"accelerate": False, "temperature": 1}))
    ada_net = adascale_net.AdaScaleANet(net).eval()
    ada = adascale_pp.AdaScalePostprocessor(config("adascale_a", {"num_samples": 5000, "percentile": [75, 85], "k1": 5, "k2": 1, "lmbda": 10, "o": 0.05}))
    ada.feature_dim = 512
    ada.setup_flag = True
    ada.feature_log = torch.rand(256, 512)
    ada.feature_perturbed_log = torch.rand(256, 512)
    ada.feature_shift_log = torch.rand(256, 512)
    ada.set_hyperparam([[75, 85], 5, 1, 10, 0.05])

    mds = mds_ens_pp.MDSEnsemblePostprocessor(config("mds_ensemble", {
        "noise": 0.0014, "feature_type_list": ["mean"], "alpha_list": [1], "reduce_dim_list": ["none"]}))
    mds.feature_mean = [torch.randn(10, 64)]
    mds.feature_prec = [torch.eye(64)]
    mds.transform_matrix = [torch.eye(64)]
    mds.alpha_list, mds.setup_flag = [1], True

    gram = gram_pp.GRAMPostprocessor(config("gram", {"powers": [1, 2, 3, 4, 5]}, {"powers_list": [[1, 2, 3, 4, 5]]}))
    fe = gram_pp.FeatureExtractor(net)
    with torch.no_grad():
        _, feats = fe(x[:1])
    fe.destroy_hooks()
    gram.feature_min, gram.feature_max = {}, {}
    for l, f in enumerate(feats):
        for p in [1, 2, 3, 4, 5]:
            for c in range(10):
                gram.feature_min[l, p, c] = torch.zeros(1, f.shape[1])
                gram.feature_max[l, p, c] = torch.ones(1, f.shape[1])
    gram.normalize_factors, gram.setup_flag = torch.ones(1, len(feats)), True

    def gram_post():
        with torch.no_grad():
            gram.postprocess(net, x.clone())

    # gmm's default configuration (gmm.yml): three layers, alpha [0, 0, 1];
    # synthetic statistics (the fit on ID train is not timed).
    gmm = gmm_pp.GMMPostprocessor(config("gmm", {
        "num_clusters_list": [3, 1, 50], "feature_type_list": ["stat", "mean", "flat"],
        "alpha_list": [0, 0, 1], "reduce_dim_list": ["none", "none", "pca_50"]}))
    gmm.feature_mean = [torch.randn(3, 128), torch.randn(1, 64), torch.randn(50, 50)]
    gmm.feature_prec = [torch.eye(128), torch.eye(64), torch.eye(50)]
    gmm.component_weight_list = [torch.full((3,), 1 / 3), torch.ones(1), torch.full((50,), 1 / 50)]
    gmm.transform_matrix_list = [torch.eye(128), torch.eye(64), torch.randn(128 * 16 * 16, 50) * 0.01]

    def plain():
        with torch.no_grad():
            net(x)

    def odin_grid():
        for t in [1, 10, 100, 1000]:
            for e in [0.0014, 0.0028]:
                odin.set_hyperparam([t, e])
                odin.postprocess(net, x.clone())

    cases = [
        ("plain", plain),
        ("odin-grid", odin_grid),
        ("odin-one", lambda: odin.postprocess(net, x.clone())),
        ("iodin-one", lambda: iodin.postprocess(net, x.clone())),
        ("rankfeat", lambda: rank.postprocess(net, x.clone())),
        ("adascale", lambda: ada.postprocess(ada_net, x.clone())),
        ("mds_ensemble", lambda: mds.postprocess(net, x.clone())),
        ("gram", gram_post),
        ("gmm", lambda: gmm.postprocess(net, x.clone())),
    ]
    for name, f in cases:
        f()  # warm-up
        best = float("inf")
        for _ in range(a.reps):
            t0 = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t0)
        print(f"{name} {a.batch / best:.2f}", flush=True)


if __name__ == "__main__":
    main()
