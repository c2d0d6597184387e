"""A mergeable quantile sketch with a deterministic rank-error bound (NumPy, no randomness).

The sketch is the compactor hierarchy behind MRL98 / KLL, deterministic: level ``h``
holds values of weight ``2**h``. When a level holds more than :data:`CAPACITY` values it
is sorted and *compacted*: every other value (alternating which half, to avoid a bias)
moves up one level with twice the weight, the rest are dropped. Merging two sketches
concatenates their levels and compacts again, so partial sketches of batches, bundles
and workers combine in any order.

Error bound: one compaction at level ``h`` shifts the rank of any value by at most
``2**h``, and at most ``N / (CAPACITY * 2**h)`` compactions happen there (each one moves
at least ``CAPACITY * 2**h`` of the total weight ``N`` through it), i.e. at most
``N / CAPACITY`` per level. With ``H = ceil(log2(N / CAPACITY))`` levels the rank of a
returned q-quantile is within ``H / CAPACITY * N`` of ``q * N``: below
:data:`EPSILON` ``* N`` for ``N`` up to ``CAPACITY * 2**16`` (about 1.07e9) values, and
exact while ``N <= CAPACITY``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CAPACITY = 16384
EPSILON = 0.001  # >= ceil(log2(N / CAPACITY)) / CAPACITY for N <= CAPACITY * 2**16


@dataclass
class QuantileSketch:
    """Levels of sorted-or-not values; ``levels[h]`` values weigh ``2**h``."""

    levels: list[np.ndarray] = field(default_factory=list)
    parity: int = 0  # which half the next compaction keeps

    @property
    def count(self) -> int:
        """Total weight (the number of values summarised)."""
        return sum(len(level) << h for h, level in enumerate(self.levels))

    def add(self, values: np.ndarray) -> "QuantileSketch":
        """Adds values (weight 1 each); returns self."""
        return self.merge([QuantileSketch([np.asarray(values, dtype=np.float64)])])

    def merge(self, others: list["QuantileSketch"]) -> "QuantileSketch":
        """Merges ``others`` into this sketch; returns self."""
        for other in others:
            for h, level in enumerate(other.levels):
                while len(self.levels) <= h:
                    self.levels.append(np.empty(0, dtype=np.float64))
                if len(level):
                    self.levels[h] = np.concatenate([self.levels[h], level])
        self._compact()
        return self

    def _compact(self) -> None:
        h = 0
        while h < len(self.levels):
            level = self.levels[h]
            if len(level) > CAPACITY:
                level = np.sort(level, kind="stable")
                if len(level) % 2:  # an odd value out stays at this level, unweighted by the halving
                    keep, level = level[-1:], level[:-1]
                else:
                    keep = np.empty(0, dtype=np.float64)
                promoted = level[self.parity::2]
                self.parity ^= 1
                self.levels[h] = keep
                if h + 1 == len(self.levels):
                    self.levels.append(np.empty(0, dtype=np.float64))
                self.levels[h + 1] = np.concatenate([self.levels[h + 1], promoted])
            h += 1

    def quantiles(self, num: int) -> list[float]:
        """``num`` evenly spaced quantiles, from the smallest to the largest value summarised
        (fewer, all values, when the sketch holds fewer than ``num``)."""
        values = np.concatenate(self.levels) if self.levels else np.empty(0)
        if values.size == 0:
            return []
        weights = np.concatenate([np.full(len(level), 1 << h, dtype=np.int64) for h, level in enumerate(self.levels)])
        order = np.argsort(values, kind="stable")
        values, cumulative = values[order], np.cumsum(weights[order])
        total = int(cumulative[-1])
        if total < num:
            return np.repeat(values, weights[order]).tolist()
        ranks = np.arange(num) * (total - 1) / (num - 1)  # 0-based target ranks
        index = np.searchsorted(cumulative, np.floor(ranks) + 1, side="left")
        return values[np.minimum(index, len(values) - 1)].tolist()
