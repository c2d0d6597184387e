"""A mergeable histogram of weighted positives/negatives by prediction score.

It backs the AUCs and the curves. Two modes:

* **exact** -- it keeps every distinct score while that stays cheap (always for a slice
  of at most ``MAX_EXACT_SCORES`` examples), so AUCs equal the exact (scikit-learn)
  values.
* **binned** -- beyond that it collapses into ``N_BINS`` (10,000) equal-width bins on
  ``[0, 1]`` (confusion matrices at 10,001 thresholds), bounded in size whatever the
  data. Predictions closer than 1e-4 then count as ties; that moves an AUC by at most
  about ``(colliding pairs) / (positives * rank)``, negligible for slices of more than
  10,000 examples.

Why both: small slices are where binning error is largest relative to the data (two
top-ranked predictions sharing a bin shift average precision by ~1/(2*positives)), and
they are also the ones that are cheap to keep exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 10_000
MAX_EXACT_SCORES = 10_000


def prediction_bins(predictions: np.ndarray) -> np.ndarray:
    """Bin of each prediction in ``[0, 1]`` (1.0 falls in the last bin)."""
    return np.minimum((np.asarray(predictions) * N_BINS).astype(np.int64), N_BINS - 1)


@dataclass
class ScoreHistogram:
    """Weighted positives/negatives per score.

    Attributes:
        scores: sorted distinct scores in exact mode; ``None`` in binned mode.
        pos: weighted positives per score (exact) or per bin (binned).
        neg: weighted negatives, aligned with ``pos``.
    """

    scores: np.ndarray | None
    pos: np.ndarray
    neg: np.ndarray

    @classmethod
    def empty(cls) -> "ScoreHistogram":
        return cls(np.zeros(0), np.zeros(0), np.zeros(0))

    @classmethod
    def from_rows(cls, predictions: np.ndarray, pos_weight: np.ndarray,
                  neg_weight: np.ndarray) -> "ScoreHistogram":
        """Histogram of rows with prediction, weight-if-positive, weight-if-negative."""
        if len(predictions) > MAX_EXACT_SCORES:  # cannot stay exact: skip the sort
            bins = prediction_bins(predictions)
            return cls(None, np.bincount(bins, weights=pos_weight, minlength=N_BINS).astype(np.float64),
                       np.bincount(bins, weights=neg_weight, minlength=N_BINS).astype(np.float64))
        if len(predictions) > 1 and (np.diff(predictions) >= 0).all():
            # Already sorted (batch_accumulators sorts rows by score): unique in O(n).
            new = np.concatenate([[True], predictions[1:] != predictions[:-1]])
            scores, inverse = predictions[new], np.cumsum(new) - 1
        else:
            scores, inverse = np.unique(predictions, return_inverse=True)
        return cls(scores, np.bincount(inverse, weights=pos_weight, minlength=len(scores)),
                   np.bincount(inverse, weights=neg_weight, minlength=len(scores)))

    def binned(self) -> "ScoreHistogram":
        """This histogram in binned mode (a no-op if already binned)."""
        if self.scores is None:
            return self
        bins = prediction_bins(self.scores)
        return ScoreHistogram(None, np.bincount(bins, weights=self.pos, minlength=N_BINS).astype(np.float64),
                              np.bincount(bins, weights=self.neg, minlength=N_BINS).astype(np.float64))

    def merge(self, other: "ScoreHistogram") -> "ScoreHistogram":
        """Return the sum of two histograms (inputs are not modified)."""
        exact = self.scores is not None and other.scores is not None
        # Stay exact while the parts together have at most MAX_EXACT_SCORES scores, so a
        # slice with at most that many examples is always exact (and no sort is spent
        # on slices that are about to be binned anyway).
        if exact and len(self.scores) + len(other.scores) <= MAX_EXACT_SCORES:
            scores, inverse = np.unique(np.concatenate([self.scores, other.scores]), return_inverse=True)
            pos = np.bincount(inverse, weights=np.concatenate([self.pos, other.pos]), minlength=len(scores))
            neg = np.bincount(inverse, weights=np.concatenate([self.neg, other.neg]), minlength=len(scores))
            return ScoreHistogram(scores, pos, neg)
        a, b = self.binned(), other.binned()
        return ScoreHistogram(None, a.pos + b.pos, a.neg + b.neg)

    def descending(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(thresholds, pos, neg)`` from the highest score down.

        In binned mode a bin's threshold is its lower edge.
        """
        if self.scores is not None:
            return self.scores[::-1], self.pos[::-1], self.neg[::-1]
        edges = np.arange(N_BINS, dtype=np.float64) / N_BINS
        return edges[::-1], self.pos[::-1], self.neg[::-1]

    def coarse(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Weighted (positives, negatives) in ``n`` equal-width bins (n divides N_BINS)."""
        b = self.binned()
        return b.pos.reshape(n, -1).sum(axis=1), b.neg.reshape(n, -1).sum(axis=1)
