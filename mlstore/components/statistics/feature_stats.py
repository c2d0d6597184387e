"""Mergeable per-feature accumulators and the TFDV ``FeatureNameStatistics`` they become.

Exact: counts, missing, min, max, zeros, mean and (population) standard deviation,
string value counts (unique, top-k, rank histogram), average length (UTF-8 bytes).
Mean and variance are merged per batch with Chan et al.'s update in batch order
(file, batch number), whatever order the runner combined them in, so the result
does not depend on the number of workers.

Approximate: the median, the quantiles histogram (deciles) and the standard
(equal-width) histogram's counts are read from Apache DataSketches' KLL sketch
(:mod:`~mlstore.components.statistics.quantiles`): a returned q-quantile has a rank
within ``QUANTILE_EPSILON * N`` of ``q * N`` and a bucket count is within
``2 * QUANTILE_EPSILON * N`` of the exact one (a probabilistic bound, see that module);
all exact up to ``quantiles.K`` = 16,384 values of a feature.

Reproducibility: everything exact is identical whatever the runner did (moments are
merged in batch order), and so is everything up to 16,384 values of a feature. Above,
KLL's random compactions make quantiles and histogram counts differ from run to run,
even on one worker, always within the bound.

String values are ranked by count descending, ties by value descending (byte order),
as TFDV ranks them.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from datasketches import kll_doubles_sketch
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlstore.components.statistics import quantiles as kll
from mlstore.components.statistics.columns import FLOAT, INT, STRING, merge_types, string_counts_of_batches

QUANTILE_EPSILON = kll.EPSILON
NUM_HISTOGRAM_BUCKETS = 10
NUM_QUANTILES_HISTOGRAM_BUCKETS = 10
NUM_TOP_VALUES = 20
NUM_RANK_HISTOGRAM_BUCKETS = 1000
_PROTO_TYPES = {INT: statistics_pb2.FeatureNameStatistics.INT, FLOAT: statistics_pb2.FeatureNameStatistics.FLOAT,
                STRING: statistics_pb2.FeatureNameStatistics.STRING, None: statistics_pb2.FeatureNameStatistics.STRING}


@dataclass
class FeatureAccumulator:
    """What one feature's statistics need, mergeable; pickles with the KLL sketch in
    DataSketches' serialized form (how accumulators cross Beam bundles and workers)."""

    type: str | None
    num_missing: int = 0
    moments: dict[tuple, tuple[int, float, float]] = field(default_factory=dict)  # batch id -> (n, mean, M2)
    minimum: float = np.inf
    maximum: float = -np.inf
    num_zeros: int = 0
    sketch: kll_doubles_sketch | None = None  # of the numeric values, None before the first
    counts: Counter = field(default_factory=Counter)
    #: (file, batch size, column, batch number) of the batches read as numbers: their values
    #: as text are counted from the file again should the feature turn out a STRING one
    numeric_batches: set[tuple[str, int, str, int]] = field(default_factory=set)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["sketch"] = self.sketch.serialize() if self.sketch is not None else None
        return state

    def __setstate__(self, state: dict) -> None:
        sketch = state["sketch"]
        self.__dict__.update(state, sketch=kll_doubles_sketch.deserialize(sketch) if sketch is not None else None)


@dataclass
class BatchPartial:
    """One batch's contribution to one feature, the input of :class:`FeatureStatsCombineFn`.

    A numeric batch carries its values (fed to the accumulator's sketch in ``add_input``,
    so there is one sketch per bundle rather than one per batch) and its exact moments.
    """

    type: str | None
    num_missing: int = 0
    batch_id: tuple = ()
    moments: tuple[int, float, float] | None = None  # (n, mean, M2)
    minimum: float = np.inf
    maximum: float = -np.inf
    num_zeros: int = 0
    values: np.ndarray | None = None
    counts: Counter | None = None
    source: tuple[str, int, str, int] | None = None  # (file, batch size, column, batch number)


def numeric_partial(type_: str, batch_id: tuple, values: np.ndarray, num_missing: int,
                    source: tuple[str, int, str, int] | None = None) -> BatchPartial:
    """One batch's contribution to a numeric feature (``values``: the non-missing ones, float64)."""
    partial = BatchPartial(type_, num_missing, batch_id, source=source)
    if values.size:
        mean = float(values.mean())
        deviations = values - mean
        partial.moments = (int(values.size), mean, float(np.sum(deviations * deviations)))
        partial.minimum, partial.maximum = float(values.min()), float(values.max())
        partial.num_zeros = int(values.size - np.count_nonzero(values))
        partial.values = values
    return partial


def string_partial(counts: Counter, num_missing: int) -> BatchPartial:
    """One batch's contribution to a string feature (its value counts)."""
    return BatchPartial(STRING, num_missing, counts=counts)


class FeatureStatsCombineFn:
    """Beam ``CombineFn`` protocol over :class:`BatchPartial` inputs and
    :class:`FeatureAccumulator` accumulators (per feature key).

    A plain class with the CombineFn methods, so it is usable without Beam;
    :mod:`pipeline` wraps it in ``beam.CombineFn``.
    """

    def create_accumulator(self) -> FeatureAccumulator:
        return FeatureAccumulator(None)

    def add_input(self, acc: FeatureAccumulator, partial: BatchPartial) -> FeatureAccumulator:
        acc.type = merge_types(acc.type, partial.type)
        acc.num_missing += partial.num_missing
        if partial.moments is not None:
            acc.moments[partial.batch_id] = partial.moments
            acc.minimum, acc.maximum = min(acc.minimum, partial.minimum), max(acc.maximum, partial.maximum)
            acc.num_zeros += partial.num_zeros
            acc.sketch = kll.add_values(acc.sketch, partial.values)
            if partial.source is not None:
                acc.numeric_batches.add(partial.source)
        if partial.counts:
            acc.counts.update(partial.counts)
        return acc

    def merge_accumulators(self, accs) -> FeatureAccumulator:
        accs = list(accs)
        out = accs[0]
        for acc in accs[1:]:
            out.type = merge_types(out.type, acc.type)
            out.num_missing += acc.num_missing
            out.moments.update(acc.moments)
            out.minimum, out.maximum = min(out.minimum, acc.minimum), max(out.maximum, acc.maximum)
            out.num_zeros += acc.num_zeros
            out.counts.update(acc.counts)
            out.numeric_batches |= acc.numeric_batches
            if acc.sketch is not None:
                if out.sketch is None:
                    out.sketch = copy.copy(acc.sketch)
                else:
                    out.sketch.merge(acc.sketch)
        return out

    def extract_output(self, acc: FeatureAccumulator) -> FeatureAccumulator:
        """The accumulator, a STRING feature's batches read as numbers counted as text."""
        if acc.type == STRING and acc.numeric_batches:
            by_file: dict[tuple[str, int, str], set[int]] = {}
            for path, batch_size, name, number in acc.numeric_batches:
                by_file.setdefault((path, batch_size, name), set()).add(number)
            for (path, batch_size, name), numbers in sorted(by_file.items()):
                acc.counts.update(string_counts_of_batches(path, batch_size, name, numbers))
            acc.numeric_batches = set()
        return acc


@dataclass
class SplitAccumulator:
    """A split's row count and the accumulator of each of its features."""

    num_examples: int = 0
    features: dict[str, FeatureAccumulator] = field(default_factory=dict)


class SplitStatsCombineFn:
    """Beam ``CombineFn`` protocol per split: inputs ``(num_rows, {feature: BatchPartial})``
    (one batch), a :class:`SplitAccumulator`, each feature combined by
    :class:`FeatureStatsCombineFn`. One key per split keeps the graph small (no join of
    row counts and features), which is most of Beam's fixed cost per run."""

    def __init__(self) -> None:
        self._feature = FeatureStatsCombineFn()

    def create_accumulator(self) -> SplitAccumulator:
        return SplitAccumulator()

    def add_input(self, acc: SplitAccumulator, batch: tuple[int, dict[str, BatchPartial]]) -> SplitAccumulator:
        num_rows, partials = batch
        acc.num_examples += num_rows
        for name, partial in partials.items():
            feature = acc.features.get(name)
            if feature is None:
                feature = acc.features[name] = self._feature.create_accumulator()
            self._feature.add_input(feature, partial)
        return acc

    def merge_accumulators(self, accs) -> SplitAccumulator:
        accs = list(accs)
        out = accs[0]
        for acc in accs[1:]:
            out.num_examples += acc.num_examples
            for name, feature in acc.features.items():
                mine = out.features.get(name)
                out.features[name] = feature if mine is None else self._feature.merge_accumulators([mine, feature])
        return out

    def extract_output(self, acc: SplitAccumulator) -> SplitAccumulator:
        for feature in acc.features.values():
            self._feature.extract_output(feature)
        return acc


def dataset_statistics(split: str, acc: SplitAccumulator) -> statistics_pb2.DatasetFeatureStatistics:
    """The TFDV statistics of one split (features by name) from its extracted accumulator."""
    dataset = statistics_pb2.DatasetFeatureStatistics(name=split, num_examples=acc.num_examples)
    for name in sorted(acc.features):
        dataset.features.append(feature_statistics(name, acc.features[name], acc.num_examples))
    return dataset


def merged_moments(moments: dict[tuple, tuple[int, float, float]]) -> tuple[int, float, float]:
    """(count, mean, population variance) from per-batch moments, merged in batch order."""
    n, mean, m2 = 0, 0.0, 0.0
    for key in sorted(moments):
        nb, mb, m2b = moments[key]
        if n == 0:
            n, mean, m2 = nb, mb, m2b
            continue
        total = n + nb
        delta = mb - mean
        mean, m2, n = mean + delta * nb / total, m2 + m2b + delta * delta * n * nb / total, total
    return n, mean, (m2 / n if n else 0.0)


def feature_statistics(name: str, acc: FeatureAccumulator, num_examples: int) -> statistics_pb2.FeatureNameStatistics:
    """The TFDV statistics of one feature from its extracted accumulator."""
    feature = statistics_pb2.FeatureNameStatistics(type=_PROTO_TYPES[acc.type])
    feature.path.step.append(name)
    if acc.type in (INT, FLOAT):
        _numeric(feature.num_stats, acc)
        common = feature.num_stats.common_stats
        non_missing = sum(n for n, _, _ in acc.moments.values())
    else:
        _strings(feature.string_stats, acc)
        common = feature.string_stats.common_stats
        non_missing = sum(acc.counts.values())
    _common(common, non_missing, num_examples - non_missing)
    return feature


def _common(common, non_missing: int, num_missing: int) -> None:
    common.num_non_missing = non_missing
    common.num_missing = num_missing
    if non_missing:
        common.min_num_values = common.max_num_values = 1
        common.avg_num_values = 1.0
        common.tot_num_values = non_missing
        histogram = common.num_values_histogram
        histogram.type = statistics_pb2.Histogram.QUANTILES
        for _ in range(NUM_QUANTILES_HISTOGRAM_BUCKETS):
            histogram.buckets.add(low_value=1, high_value=1, sample_count=non_missing / NUM_QUANTILES_HISTOGRAM_BUCKETS)


def _numeric(stats, acc: FeatureAccumulator) -> None:
    n, mean, variance = merged_moments(acc.moments)
    if n == 0:
        return
    stats.mean = mean
    stats.std_dev = float(np.sqrt(max(variance, 0.0)))
    stats.num_zeros = acc.num_zeros
    stats.min, stats.max = acc.minimum, acc.maximum
    stats.median = kll.quantiles(acc.sketch, [0.5])[0]
    stats.histograms.append(standard_histogram(acc.sketch, acc.minimum, acc.maximum))
    stats.histograms.append(quantiles_histogram(acc.sketch))


def quantiles_histogram(sketch: kll_doubles_sketch) -> statistics_pb2.Histogram:
    """Equal-mass buckets between consecutive deciles (TFDV's QUANTILES histogram)."""
    histogram = statistics_pb2.Histogram(type=statistics_pb2.Histogram.QUANTILES)
    k, n = NUM_QUANTILES_HISTOGRAM_BUCKETS, sketch.n
    bounds = kll.quantiles(sketch, [i / k for i in range(k + 1)])  # from the exact min to the exact max
    for low, high in zip(bounds, bounds[1:]):
        histogram.buckets.add(low_value=low, high_value=high, sample_count=n / k)
    return histogram


def standard_histogram(sketch: kll_doubles_sketch, minimum: float, maximum: float) -> statistics_pb2.Histogram:
    """Equal-width buckets over [min, max] (each half-open, the last closed), counts read
    off the sketch's CDF."""
    histogram = statistics_pb2.Histogram(type=statistics_pb2.Histogram.STANDARD)
    if minimum == maximum:
        histogram.buckets.add(low_value=minimum, high_value=maximum, sample_count=sketch.n)
        return histogram
    k = NUM_HISTOGRAM_BUCKETS
    edges = [minimum + (maximum - minimum) * i / k for i in range(k)] + [maximum]
    for i, count in enumerate(kll.bucket_counts(sketch, edges)):
        histogram.buckets.add(low_value=edges[i], high_value=edges[i + 1], sample_count=count)
    return histogram


def ranked_values(counts: Counter) -> list[tuple[str, int]]:
    """Values by count descending, ties by value descending (TFDV's order)."""
    return sorted(counts.items(), key=lambda kv: (kv[1], kv[0].encode("utf-8")), reverse=True)


def _strings(stats, acc: FeatureAccumulator) -> None:
    total = sum(acc.counts.values())
    stats.unique = len(acc.counts)
    if not total:
        return
    ranked = ranked_values(acc.counts)
    for value, count in ranked[:NUM_TOP_VALUES]:
        stats.top_values.add(value=value, frequency=count)
    stats.avg_length = sum(len(value.encode("utf-8")) * count for value, count in ranked) / total
    for rank, (value, count) in enumerate(ranked[:NUM_RANK_HISTOGRAM_BUCKETS]):
        stats.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=value, sample_count=count)


def compare_runs(old: statistics_pb2.DatasetFeatureStatistics,
                 new: statistics_pb2.DatasetFeatureStatistics) -> tuple[list[str], list[str]]:
    """Compares two runs' statistics of the same data (a rerun): ``(differ, within_bound)``,
    feature names (``"<dataset>"`` for the dataset's own fields).

    ``differ``: what cannot come from the same data, i.e. an exact field differs, the
    KLL-sketched fields (median, histograms) differ for a feature with at most ``K`` values
    (exact there), or two standard-histogram counts are further apart than two results
    within the bound can be (``4 * QUANTILE_EPSILON * n``). ``within_bound``: features whose
    sketched fields differ, as KLL's random compactions make them, and nothing else.
    """
    differ, within_bound = [], []
    if (old.name, old.num_examples) != (new.name, new.num_examples):
        differ.append("<dataset>")
    a, b = ({".".join(f.path.step): f for f in d.features} for d in (old, new))
    for name in sorted(set(a) | set(b)):
        fa, fb = a.get(name), b.get(name)
        if fa == fb:
            continue
        if fa is None or fb is None or _without_sketched_fields(fa) != _without_sketched_fields(fb):
            differ.append(name)
            continue
        n = fa.num_stats.common_stats.num_non_missing
        ha, hb = (next(h for h in f.num_stats.histograms if h.type == statistics_pb2.Histogram.STANDARD)
                  for f in (fa, fb))
        far = len(ha.buckets) != len(hb.buckets) or any(
            abs(x.sample_count - y.sample_count) > 4 * QUANTILE_EPSILON * n for x, y in zip(ha.buckets, hb.buckets))
        (differ if n <= kll.K or far else within_bound).append(name)
    return differ, within_bound


def _without_sketched_fields(feature: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.FeatureNameStatistics:
    exact = statistics_pb2.FeatureNameStatistics()
    exact.CopyFrom(feature)
    if exact.HasField("num_stats"):
        exact.num_stats.ClearField("median")
        exact.num_stats.ClearField("histograms")
    return exact
