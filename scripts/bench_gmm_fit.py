"""The cost of gmm's fit in OpenOOD (get_GMM_stat's estimation step for the
layer that counts): scikit-learn's PCA(50) and GaussianMixture(50,
covariance_type='tied', random_state=0) on n synthetic maps of d = 32,768
values (rank 64 plus noise through a ReLU, like a stage map; float64, as
OpenOOD's np.array of tensor2list), on 2 BLAS threads. The same shapes as
BenchmarkFitGMMLayer in evaluate/posthoc/gmmfit_test.go:

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/bench_gmm_fit.py
    go test -run '^$' -bench FitGMMLayer -benchtime 1x -cpu 2 ./evaluate/posthoc

Prints `n d seconds em-iterations` per shape (OpenOOD's collection pass and
its Python-list conversion are not timed).
"""
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture


def synth_maps(n, d, r, rng):
    f = rng.standard_normal((n, r)) * (10 / (1 + np.arange(r)))
    basis = rng.standard_normal((r, d)) / np.sqrt(d)
    return np.maximum(0, f @ basis + 0.1 * rng.standard_normal((n, d))).astype(np.float32).astype(np.float64)


def main():
    for n, d in [(2000, 32768), (10000, 32768)]:
        x = synth_maps(n, d, 64, np.random.default_rng(5))
        np.random.seed(0)
        t0 = time.perf_counter()
        t = PCA(n_components=50).fit(x).components_.T
        g = GaussianMixture(n_components=50, random_state=0, covariance_type="tied").fit(x @ t)
        print(n, d, f"{time.perf_counter() - t0:.2f}", g.n_iter_, flush=True)


if __name__ == "__main__":
    main()
