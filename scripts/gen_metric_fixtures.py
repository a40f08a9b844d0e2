#!/usr/bin/python3
"""Fixtures for evaluate/metrics, computed with scikit-learn exactly as OpenOOD v1.5 does.

Rerun (Debian's interpreter, which has scikit-learn 1.2 and numpy):

    /usr/bin/python3 scripts/gen_metric_fixtures.py            # writes evaluate/metrics/testdata/cases.json
    /usr/bin/python3 scripts/gen_metric_fixtures.py --bench    # times OpenOOD's metrics on 2,000,000 scores

The expected values follow OpenOOD v1.5 `openood/evaluators/metrics.py` (`auc_and_fpr_recall`):
  fpr95 (OOD positive)   fpr[argmax(tpr >= 0.95)] of roc_curve(ood, -conf)
  auroc                  auc(fpr, tpr) of the same curve
  aupr_in                auc(recall, precision) of precision_recall_curve(1 - ood, conf)
  aupr_out               auc(recall, precision) of precision_recall_curve(ood, -conf)
and the classic (OpenOOD v1.0) FPR@95 with ID positive:
  fpr95_id               fpr[argmax(tpr >= 0.95)] of roc_curve(1 - ood, conf)
plus OpenOOD's acc() (mean(pred == label) over label != -1) where a case has predictions.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn import metrics

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "evaluate", "metrics", "testdata", "cases.json")


def openood(conf, label):
    ood = np.zeros_like(label)
    ood[label == -1] = 1
    fpr_list, tpr_list, _ = metrics.roc_curve(ood, -conf)
    fpr = fpr_list[np.argmax(tpr_list >= 0.95)]
    p_in, r_in, _ = metrics.precision_recall_curve(1 - ood, conf)
    p_out, r_out, _ = metrics.precision_recall_curve(ood, -conf)
    auroc = metrics.auc(fpr_list, tpr_list)
    aupr_in = metrics.auc(r_in, p_in)
    aupr_out = metrics.auc(r_out, p_out)
    cfpr, ctpr, _ = metrics.roc_curve(1 - ood, conf)
    fpr_id = cfpr[np.argmax(ctpr >= 0.95)]
    return dict(fpr95=float(fpr), auroc=float(auroc), aupr_in=float(aupr_in), aupr_out=float(aupr_out),
                fpr95_id=float(fpr_id), roc_fpr=[float(x) for x in fpr_list], roc_tpr=[float(x) for x in tpr_list])


def acc(pred, label):
    ind = label != -1
    return float(np.mean(pred[ind] == label[ind]))


def case(name, conf, label, pred=None, keep_roc=True):
    conf = np.asarray(conf, dtype=np.float64)
    label = np.asarray(label, dtype=np.int64)
    d = dict(name=name, scores=[float(x) for x in conf], labels=[int(x) for x in label])
    d.update(openood(conf, label))
    if not keep_roc:
        del d["roc_fpr"], d["roc_tpr"]
    if pred is not None:
        pred = np.asarray(pred, dtype=np.int64)
        d["preds"] = [int(x) for x in pred]
        d["acc"] = acc(pred, label)
    return d


def labels_of(n_id, n_ood, rng=None, classes=10):
    ids = np.zeros(n_id, dtype=np.int64) if rng is None else rng.integers(0, classes, n_id)
    return np.concatenate([ids, -np.ones(n_ood, dtype=np.int64)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="store_true", help="time OpenOOD's metrics on 2,000,000 scores and exit")
    args = ap.parse_args()
    if args.bench:
        bench()
        return

    rng = np.random.default_rng(20261127)
    cases = []
    cases.append(case("all_equal", [0.5] * 17, labels_of(10, 7)))
    cases.append(case("one_ood", np.concatenate([rng.normal(1, 1, 50), [0.3]]), labels_of(50, 1)))
    cases.append(case("one_id", np.concatenate([[0.3], rng.normal(0, 1, 50)]), labels_of(1, 50)))
    cases.append(case("one_each", [2.0, 1.0], labels_of(1, 1)))
    cases.append(case("one_each_tied", [1.0, 1.0], labels_of(1, 1)))
    cases.append(case("perfect", np.concatenate([rng.normal(10, 1, 40), rng.normal(-10, 1, 60)]), labels_of(40, 60)))
    cases.append(case("reversed", np.concatenate([rng.normal(-10, 1, 40), rng.normal(10, 1, 60)]), labels_of(40, 60)))
    # Every distinct score holds one ID and one OOD sample: all ROC points are collinear, and
    # drop_intermediate leaves only the end points, so FPR@95 is 1, not 0.95.
    v = np.arange(100, dtype=np.float64)
    cases.append(case("diagonal_steps_drop_intermediate", np.concatenate([v, v]), labels_of(100, 100)))
    # Same with a short corner before the diagonal: some interior points are kept.
    cases.append(case("diagonal_steps_with_corner", np.concatenate([v, v[3:], [-1.0, -2.0, -3.0]]), labels_of(100, 100)))
    # -0.0 and 0.0 are the same threshold for numpy; denormals and large magnitudes keep their order.
    cases.append(case("signed_zero_and_extremes", [0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308, 0.0, -0.0, 1.0, -1.0],
                      [0, 1, 2, -1, 3, -1, -1, -1, -1, 4]))
    # ID labels are class indices (FSOOD keeps them); anything != -1 is ID.
    cases.append(case("class_labels_and_preds", rng.integers(0, 5, 60).astype(np.float64) / 4,
                      np.concatenate([rng.integers(0, 3, 35), -np.ones(25, dtype=np.int64)]),
                      pred=rng.integers(0, 3, 60)))
    # Many small random cases over tiny score alphabets: heavy ties, uneven step sizes.
    for i in range(40):
        n_id = int(rng.integers(1, 40))
        n_ood = int(rng.integers(1, 40))
        alphabet = int(rng.integers(1, 8))
        conf = rng.integers(0, alphabet, n_id + n_ood).astype(np.float64) - alphabet / 2
        conf[:n_id] += rng.integers(0, 2, n_id)  # ID a little higher on average
        cases.append(case(f"random_small_{i:02d}", conf, labels_of(n_id, n_ood)))
    # Large random with heavy ties (scores rounded to 2 decimals), shuffled order, class labels.
    n_id, n_ood = 9000, 11000
    conf = np.concatenate([np.round(rng.normal(1.0, 1.0, n_id), 2), np.round(rng.normal(0.0, 1.2, n_ood), 2)])
    label = labels_of(n_id, n_ood, rng)
    pred = np.where(rng.random(n_id + n_ood) < 0.9, label, rng.integers(0, 10, n_id + n_ood))
    perm = rng.permutation(n_id + n_ood)
    cases.append(case("large_heavy_ties", conf[perm], label[perm], pred=pred[perm], keep_roc=False))
    # Large, continuous (almost no ties), unbalanced like CIFAR-10 vs MNIST.
    n_id, n_ood = 3000, 21000
    conf = np.concatenate([rng.normal(2.0, 1.0, n_id), rng.normal(0.0, 1.0, n_ood)])
    cases.append(case("large_continuous_unbalanced", conf, labels_of(n_id, n_ood), keep_roc=False))

    with open(OUT + ".tmp", "w") as f:
        json.dump(dict(generator="scripts/gen_metric_fixtures.py", sklearn=__import__("sklearn").__version__,
                       numpy=np.__version__, cases=cases), f)
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}", file=sys.stderr)


def bench():
    rng = np.random.default_rng(1)
    n = 1_000_000
    conf = np.concatenate([rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)])
    label = labels_of(n, n)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        openood_core(conf, label)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"sklearn {__import__('sklearn').__version__}: OpenOOD auc_and_fpr_recall on {2 * n} scores: "
          f"median {times[len(times) // 2]:.3f} s (runs: {', '.join(f'{t:.3f}' for t in times)})")


def openood_core(conf, label):
    # Exactly OpenOOD v1.5's auc_and_fpr_recall (no classic FPR, no ROC export).
    ood = np.zeros_like(label)
    ood[label == -1] = 1
    fpr_list, tpr_list, _ = metrics.roc_curve(ood, -conf)
    fpr = fpr_list[np.argmax(tpr_list >= 0.95)]
    p_in, r_in, _ = metrics.precision_recall_curve(1 - ood, conf)
    p_out, r_out, _ = metrics.precision_recall_curve(ood, -conf)
    return metrics.auc(fpr_list, tpr_list), metrics.auc(r_in, p_in), metrics.auc(r_out, p_out), fpr


if __name__ == "__main__":
    main()
