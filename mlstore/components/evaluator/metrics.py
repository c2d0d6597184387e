"""Exact, mergeable metric accumulators for binary classification, and plot data.

One :class:`MetricsAccumulator` summarises any number of (label, prediction, weight)
rows; two accumulators merge by addition, so Beam can combine them in any order.

What is exact and what is binned:

* ``example_count``, ``weighted_example_count``, ``accuracy``, ``precision``,
  ``recall`` (predicted positive iff ``p >= 0.5``), ``log_loss`` (per-row sum of
  ``-w*log(p)`` / ``-w*log(1-p)``, ``p`` clipped to ``[1e-7, 1-1e-7]``), ``mean_label``,
  ``mean_prediction`` and ``calibration`` (mean prediction / mean label) are exact sums.
* ``auc_roc`` and ``auc_pr`` come from a :class:`~.histogram.ScoreHistogram` of
  weighted positives/negatives by prediction: exact per distinct score up to 10,000
  distinct scores per slice, then 10,000 equal-width bins (confusion matrices at
  10,001 thresholds; see histogram.py). ROC AUC is the trapezoidal area (ties count one
  half, as in scikit-learn). PR AUC is *average precision*: the PR curve is
  interpolated as a step function, each recall increment weighted by the precision at
  the threshold that reached it (``sum_i (R_i - R_{i-1}) * P_i``), which equals
  scikit-learn's ``average_precision_score`` on exact scores. Linear (trapezoidal)
  interpolation in PR space is optimistic (Davis & Goadrich, 2006); the step is not.
  (The Davis-Goadrich closed-form interpolation, Keras' ``summation_method=
  "interpolation"``, was tried: it differs from average precision by ~2e-3 on slices of
  a few hundred rows, so we use the reference definition.)

Undefined metrics (e.g. precision with no predicted positives, AUC with one class)
are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .histogram import N_BINS, ScoreHistogram, prediction_bins

CALIBRATION_BINS = 20
HISTOGRAM_BINS = 50
MAX_CURVE_POINTS = 200
THRESHOLD = 0.5
LOG_EPS = 1e-7

#: Every metric name :func:`compute_metrics` returns (the gates validate against it).
METRIC_NAMES = (
    "example_count", "weighted_example_count", "accuracy", "precision", "recall",
    "auc_roc", "auc_pr", "log_loss", "mean_label", "mean_prediction", "calibration",
)


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.float64)


@dataclass
class MetricsAccumulator:
    """Sufficient statistics of one slice (all sums weighted unless noted)."""

    example_count: int = 0  # unweighted
    weighted_count: float = 0.0
    sum_label: float = 0.0
    sum_prediction: float = 0.0
    sum_log_loss: float = 0.0
    tp: float = 0.0
    fp: float = 0.0
    tn: float = 0.0
    fn: float = 0.0
    scores: ScoreHistogram = field(default_factory=ScoreHistogram.empty)
    calib_pred_sum: np.ndarray = field(default_factory=lambda: _zeros(CALIBRATION_BINS))

    def merge(self, other: "MetricsAccumulator") -> "MetricsAccumulator":
        """Add ``other`` into ``self`` in place and return ``self``."""
        self.example_count += other.example_count
        self.weighted_count += other.weighted_count
        self.sum_label += other.sum_label
        self.sum_prediction += other.sum_prediction
        self.sum_log_loss += other.sum_log_loss
        self.tp += other.tp
        self.fp += other.fp
        self.tn += other.tn
        self.fn += other.fn
        self.scores = self.scores.merge(other.scores)
        self.calib_pred_sum += other.calib_pred_sum
        return self


def _group_sums(codes: np.ndarray, n_groups: int, y: np.ndarray, p: np.ndarray,
                w: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group exact sums, keyed by MetricsAccumulator field name."""
    pred_pos = p >= THRESHOLD
    clipped = np.clip(p, LOG_EPS, 1.0 - LOG_EPS)
    row_loss = -w * (y * np.log(clipped) + (1.0 - y) * np.log1p(-clipped))

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=n_groups)

    return {
        "weighted_count": per_group(w), "sum_label": per_group(w * y),
        "sum_prediction": per_group(w * p), "sum_log_loss": per_group(row_loss),
        "tp": per_group(w * (pred_pos & (y == 1))), "fp": per_group(w * (pred_pos & (y == 0))),
        "tn": per_group(w * (~pred_pos & (y == 0))), "fn": per_group(w * (~pred_pos & (y == 1))),
    }


def _group_score_order(codes: np.ndarray, n_groups: int, score_order: np.ndarray) -> np.ndarray:
    """Row order by (group, score): each group becomes a contiguous, score-sorted run.

    NumPy's stable sort is a radix sort for 16-bit ints, hence the narrowing.
    """
    sort_codes = codes[score_order]
    if n_groups <= np.iinfo(np.uint16).max:
        sort_codes = sort_codes.astype(np.uint16)
    return score_order[np.argsort(sort_codes, kind="stable")]


def batch_accumulators(codes: np.ndarray, n_groups: int, labels: np.ndarray,
                       predictions: np.ndarray, weights: np.ndarray,
                       score_order: np.ndarray | None = None) -> list[MetricsAccumulator]:
    """Accumulate rows into one accumulator per group, vectorised.

    Args:
        codes: int group index of each row, in ``[0, n_groups)``.
        n_groups: number of groups.
        labels: 0/1 labels (float or int).
        predictions: P(label=1) in ``[0, 1]``.
        weights: non-negative example weights.
        score_order: ``np.argsort(predictions)`` if the caller already has it (shared
            across the slice specs of one batch); computed when ``None``.

    Returns:
        ``n_groups`` accumulators, in group order.
    """
    y = labels.astype(np.float64)
    p = predictions.astype(np.float64)
    w = weights.astype(np.float64)
    counts = np.bincount(codes, minlength=n_groups)
    sums = _group_sums(codes, n_groups, y, p, w)
    calib_bins = prediction_bins(p) // (N_BINS // CALIBRATION_BINS)
    calib = np.bincount(codes * CALIBRATION_BINS + calib_bins, weights=w * p,
                        minlength=n_groups * CALIBRATION_BINS).reshape(n_groups, CALIBRATION_BINS)
    order = _group_score_order(codes, n_groups, np.argsort(p) if score_order is None else score_order)
    p_s, wy_s, wn_s = p[order], (w * y)[order], (w * (1.0 - y))[order]
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for g in range(n_groups):
        rows = slice(starts[g], starts[g + 1])  # a view: no per-group mask or sort
        out.append(MetricsAccumulator(
            example_count=int(counts[g]),
            **{k: float(v[g]) for k, v in sums.items()},
            scores=ScoreHistogram.from_rows(p_s[rows], wy_s[rows], wn_s[rows]),
            calib_pred_sum=calib[g].astype(np.float64),
        ))
    return out


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _cumulative(acc: MetricsAccumulator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, TP, FP) from the highest score down; point 0 predicts nothing."""
    thresholds, pos, neg = acc.scores.descending()
    tp = np.concatenate([[0.0], np.cumsum(pos)])
    fp = np.concatenate([[0.0], np.cumsum(neg)])
    occupied = np.concatenate([[True], (pos + neg) > 0])
    # Scores/bins with zero weight are not thresholds anyone could observe.
    return np.concatenate([[np.inf], thresholds])[occupied], tp[occupied], fp[occupied]


def auc_roc(acc: MetricsAccumulator) -> float | None:
    """Trapezoidal ROC AUC over the binned thresholds; ``None`` with one class."""
    _, tp, fp = _cumulative(acc)
    pos, neg = tp[-1], fp[-1]
    if pos <= 0 or neg <= 0:
        return None
    return float(np.trapezoid(tp / pos, fp / neg))


def auc_pr(acc: MetricsAccumulator) -> float | None:
    """PR AUC as average precision over the binned thresholds (see module docstring)."""
    _, tp, fp = _cumulative(acc)
    pos = tp[-1]
    if pos <= 0:
        return None
    predicted = tp[1:] + fp[1:]
    precision = np.divide(tp[1:], predicted, out=np.zeros_like(predicted), where=predicted > 0)
    # Step interpolation: each recall increment earns the precision of the threshold
    # that produced it (bins without positives add no recall, hence no area).
    return float(np.sum(np.diff(tp) / pos * precision))


def compute_metrics(acc: MetricsAccumulator) -> dict[str, float | int | None]:
    """Final metric values of one slice, keyed by :data:`METRIC_NAMES`."""
    wc = acc.weighted_count
    mean_label = _ratio(acc.sum_label, wc)
    mean_pred = _ratio(acc.sum_prediction, wc)
    return {
        "example_count": acc.example_count,
        "weighted_example_count": float(wc),
        "accuracy": _ratio(acc.tp + acc.tn, wc),
        "precision": _ratio(acc.tp, acc.tp + acc.fp),
        "recall": _ratio(acc.tp, acc.tp + acc.fn),
        "auc_roc": auc_roc(acc),
        "auc_pr": auc_pr(acc),
        "log_loss": _ratio(acc.sum_log_loss, wc),
        "mean_label": mean_label,
        "mean_prediction": mean_pred,
        "calibration": _ratio(mean_pred, mean_label) if mean_pred is not None and mean_label else None,
    }


def _downsample(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(np.int64))


def _curves(acc: MetricsAccumulator) -> tuple[dict, dict]:
    thresholds, tp, fp = _cumulative(acc)
    pos, neg = tp[-1], fp[-1]
    idx = _downsample(len(tp))
    t, tpi, fpi = thresholds[idx], tp[idx], fp[idx]
    t = np.minimum(t, 1.0)  # point 0 ("predict nothing") is shown at threshold 1
    roc = {"thresholds": t.tolist(),
           "fpr": (fpi / neg).tolist() if neg > 0 else [],
           "tpr": (tpi / pos).tolist() if pos > 0 else []}
    predicted = tpi + fpi
    precision = np.divide(tpi, predicted, out=np.ones_like(predicted), where=predicted > 0)
    pr = {"thresholds": t.tolist(), "precision": precision.tolist(),
          "recall": (tpi / pos).tolist() if pos > 0 else []}
    return roc, pr


def compute_plots(acc: MetricsAccumulator) -> dict:
    """Plot data of one slice: calibration, ROC, PR curves and prediction histogram.

    Curves keep at most ``MAX_CURVE_POINTS`` points, spread evenly over the occupied
    prediction bins (so dense regions of the curve keep their detail).
    """
    roc, pr = _curves(acc)
    c_pos, c_neg = acc.scores.coarse(CALIBRATION_BINS)
    c_all = c_pos + c_neg
    nonempty = c_all > 0
    safe = np.where(nonempty, c_all, 1.0)
    calibration = {
        "bin_edges": np.linspace(0.0, 1.0, CALIBRATION_BINS + 1).tolist(),
        "weighted_count": c_all.tolist(),
        "mean_prediction": [float(v) if ok else None for v, ok in zip(acc.calib_pred_sum / safe, nonempty)],
        "mean_label": [float(v) if ok else None for v, ok in zip(c_pos / safe, nonempty)],
    }
    h_pos, h_neg = acc.scores.coarse(HISTOGRAM_BINS)
    histogram = {
        "bin_edges": np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1).tolist(),
        "positives": h_pos.tolist(),
        "negatives": h_neg.tolist(),
    }
    return {"calibration": calibration, "roc": roc, "pr": pr, "prediction_histogram": histogram}
