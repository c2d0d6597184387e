"""The compactor quantile sketch keeps its stated rank bound, exact below its capacity."""

from __future__ import annotations

import numpy as np
import pytest

from mlstore.components.statistics.quantiles import CAPACITY, EPSILON, QuantileSketch


def _rank_errors(sorted_values: np.ndarray, quantiles: list[float]) -> float:
    n = len(sorted_values)
    worst = 0.0
    for i, value in enumerate(quantiles):
        target = i / (len(quantiles) - 1) * (n - 1)
        low, high = np.searchsorted(sorted_values, value, "left"), np.searchsorted(sorted_values, value, "right") - 1
        worst = max(worst, 0.0 if low <= target <= high else min(abs(target - low), abs(target - high)))
    return worst


def test_exact_below_capacity():
    values = np.random.default_rng(1).normal(size=CAPACITY)
    sketch = QuantileSketch().add(values[:5000]).merge([QuantileSketch().add(values[5000:])])
    assert sketch.count == CAPACITY and len(sketch.levels) == 1
    assert _rank_errors(np.sort(values), sketch.quantiles(1001)) < 1  # the value at the floor of the rank


@pytest.mark.parametrize("data", ["sorted", "normal", "few_values"])
def test_rank_bound_at_two_million_values_merged_in_any_order(data):
    rng = np.random.default_rng(7)
    n = 2_000_000
    values = {"sorted": np.arange(n, dtype=np.float64), "normal": rng.normal(size=n),
              "few_values": rng.integers(0, 20, n).astype(np.float64)}[data]
    partials = [QuantileSketch().add(chunk) for chunk in np.array_split(values, 97)]
    order = rng.permutation(len(partials))
    merged = QuantileSketch()
    for i in range(0, len(order), 10):  # bundles of partials, merged bundle by bundle
        merged.merge([QuantileSketch().merge([partials[j] for j in order[i:i + 10]])])
    assert merged.count == n
    assert sum(len(level) for level in merged.levels) < 20 * CAPACITY  # a summary, not the data
    assert _rank_errors(np.sort(values), merged.quantiles(1001)) <= EPSILON * n
