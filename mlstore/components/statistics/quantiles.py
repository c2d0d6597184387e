"""Quantiles and histogram counts of a numeric feature from Apache DataSketches' KLL sketch.

The sketch is ``datasketches.kll_doubles_sketch`` (KLL: Karnin, Lang, Liberty, "Optimal
Quantile Approximation in Streams", FOCS 2016), the sketch TFDV uses as well (tfx_bsl's
``QuantilesSketch`` wraps DataSketches' KLL). It is fed NumPy arrays (each batch's values go
into the sketch of the bundle, :func:`add_values`); sketches of bundles and workers merge in
any order and cross processes in DataSketches' serialized form (``serialize()`` /
``kll_doubles_sketch.deserialize``).

Error bound: with :data:`K` = 16,384, DataSketches states a normalized rank error of
1.8e-4 for quantiles and ranks and 2.6e-4 for the CDF
(``kll_doubles_sketch.get_normalized_rank_error(K, as_pmf)``, the 99th percentile of the
worst error over all ranks, fitted to measurements). We state :data:`EPSILON` = 0.001,
over five times the first and nearly four times the second: a returned q-quantile has a
rank within ``EPSILON * N`` of ``q * N``, and a CDF value is within ``EPSILON`` of the true
fraction. The bound is probabilistic, not deterministic: KLL compacts with random offsets
and its error has a sub-Gaussian tail, so exceeding 0.001 is vanishingly unlikely, not
impossible. The sketch tracks the exact min and max; :func:`quantiles` returns them for
q = 0 and 1.

Exactness and reproducibility: while a feature has at most ``K`` values the sketch keeps
them all (no compaction), so quantiles and histogram counts are exact and identical from
run to run. Above ``K`` the random compactions make reruns, even on one worker, return
other quantiles and counts, always within the bound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketches import kll_doubles_sketch

K = 16384
EPSILON = 0.001  # >= kll_doubles_sketch.get_normalized_rank_error(K, True) == 2.6e-4, see above


def add_values(sketch: kll_doubles_sketch | None, values: np.ndarray) -> kll_doubles_sketch:
    """``sketch`` (a new one if ``None``) updated with ``values`` (float64)."""
    if sketch is None:
        sketch = kll_doubles_sketch(K)
    sketch.update(np.require(values, np.float64, ["C", "W"]))  # DataSketches takes writeable arrays only
    return sketch


def quantiles(sketch: kll_doubles_sketch, ranks: Sequence[float]) -> list[float]:
    """The q-quantiles for q in ``ranks``: the smallest value with at least a fraction q of
    the values at or below it (exactly NumPy's ``method="inverted_cdf"`` up to ``K`` values).
    q = 0 and q = 1 are the exact min and max (KLL's retained items may no longer hold them)."""
    ends = {0.0: sketch.get_min_value(), 1.0: sketch.get_max_value()}
    return [ends.get(q, value) for q, value in zip(ranks, sketch.get_quantiles(list(ranks), inclusive=True))]


def bucket_counts(sketch: kll_doubles_sketch, edges: Sequence[float]) -> list[int]:
    """How many values fall in each bucket ``[edges[i], edges[i + 1])`` (the last one closed),
    ``edges`` increasing from the minimum to the maximum, from the sketch's CDF. The counts
    sum to the number of values; each is exact up to ``K`` values."""
    cdf = np.array([0.0, *sketch.get_cdf(list(edges[1:-1]), inclusive=False)])  # ends with 1.0
    cumulative = np.rint(cdf * sketch.n).astype(np.int64)  # KLL's ranks are integer weights / n
    return np.diff(cumulative).tolist()
