// Package metrics computes OpenOOD v1.5's OOD-detection metrics exactly as
// OpenOOD does with scikit-learn (openood/evaluators/metrics.py,
// compute_all_metrics), tie for tie, plus the classic FPR@95 under its own
// name and the closed-set accuracy.
//
// # Inputs
//
// Scores are float64, one per sample, with higher = more in-distribution
// (ID). Labels are int32: −1 marks an OOD sample, any class index ≥ 0 an ID
// sample (for full-spectrum OOD the covariate-shifted ID sets keep their class
// labels, so they count as ID). Scores must be finite: scikit-learn rejects
// NaN and ±Inf, and so does this package, naming the index. −0.0 and +0.0
// are the same score, as in numpy.
//
// # Conventions (which number is which)
//
//   - FPR95 — OpenOOD v1.5 (since commit 873e8c2, Aug 2023): OOD is the
//     positive class and −score the detector output. FPR95 is the fraction of
//     ID samples flagged OOD at the most permissive threshold that still
//     flags ≥ 95% of the OOD samples: fpr[argmax(tpr >= 0.95)] on
//     sklearn roc_curve(ood, −score). Lower is better.
//   - FPR95ID — the classic convention of OpenOOD v1.0 and most papers before
//     2023: ID is the positive class; the fraction of OOD samples accepted as
//     ID at the threshold that keeps ≥ 95% of the ID samples:
//     fpr[argmax(tpr >= 0.95)] on roc_curve(id, score). Lower is better.
//     The two differ; tables label them "FPR@95" and "FPR@95_IDpos".
//   - AUROC — trapezoidal area under roc_curve(ood, −score); the same for
//     either positive class: P(score_ID > score_OOD) + ½·P(tie).
//   - AUPRIn — trapezoidal area (sklearn auc, not average_precision_score)
//     under precision_recall_curve(id, score): ID positive.
//   - AUPROut — the same under precision_recall_curve(ood, −score).
//   - Accuracy — mean(pred == label) over the rows with label ≥ 0.
//
// All values are fractions in [0, 1]; OpenOOD's tables show them ×100.
//
// # Ties and curve points (exactly scikit-learn 1.2)
//
// A curve has one point per distinct score: all samples with an equal score
// enter together. The ROC curve starts at (0, 0) and keeps scikit-learn's
// drop_intermediate=True rule: a point is dropped when the steps before and
// after it are identical in both counts (collinear, equally spaced). This
// can change FPR95: when every distinct score holds one ID and one OOD
// sample, only the end points remain and FPR95 is 1, not 0.95. The
// precision–recall curve has every point (no dropping) plus scikit-learn's
// appended (recall 0, precision 1); points at recall 1 beyond the first add
// no area, so older scikit-learn versions that truncated them agree.
//
// # Speed
//
// The ID and OOD scores are each sorted once (an LSD radix sort on the
// order-preserving uint64 image of the float64), merged into per-score
// counts, and every curve is accumulated in that one pass. AUROC is summed
// in exact integer arithmetic.
package metrics
