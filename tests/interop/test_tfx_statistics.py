"""mlstore's StatisticsGen on the Examples real TFX wrote (tf.Example TFRecords, GZIP, from
the committed fixture) gives what TFX's own StatisticsGen (TFDV) computed from the same
files: same features, types, counts, missing, moments, min/max/zeros, string domains and
top values. Medians are not compared: TFDV's comes from its quantile histogram's
boundaries, mlstore's is exact below the KLL sketch's k (both documented)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from mlstore import errors
from mlstore.components import tf_examples
from mlstore.components.evaluator.data import data_format
from mlstore.components.statistics.layout import read_statistics
from mlstore.components.statistics.pipeline import generate_statistics
from mlstore.components.statistics.schema_gen import feature_name
from mlstore.components.statistics.steps import example_splits
from tests.tfx_fixture import FIXTURE, fixture_origin

ROOT = FIXTURE / "pipeline_root"


def _tfx_statistics_of(examples_dir: Path) -> Path:
    """The directory of the ExampleStatistics TFX's StatisticsGen made from the Examples in ``examples_dir``."""
    con = sqlite3.connect(f"file:{FIXTURE / 'metadata.sqlite'}?mode=ro", uri=True)
    try:
        [(examples_id,)] = con.execute("SELECT id FROM Artifact WHERE uri = ?",
                                       (f"{fixture_origin()}/{examples_dir.relative_to(FIXTURE)}",)).fetchall()
        [(uri,)] = con.execute(
            "SELECT a.uri FROM Event i JOIN Event o ON o.execution_id = i.execution_id "
            "JOIN Artifact a ON a.id = o.artifact_id "
            "JOIN Execution e ON e.id = i.execution_id JOIN Type t ON t.id = e.type_id "
            "WHERE i.artifact_id = ? AND i.type = 3 AND o.type = 4 "
            "AND t.name = 'tfx.components.statistics_gen.component.StatisticsGen'",
            (examples_id,)).fetchall()
    finally:
        con.close()
    return FIXTURE / Path(uri).relative_to(fixture_origin())


def _numbers(f):
    s = f.num_stats
    return (s.common_stats.num_non_missing, s.common_stats.num_missing, s.min, s.max, s.num_zeros)


def _strings(f):
    s = f.string_stats
    return (s.common_stats.num_non_missing, s.common_stats.num_missing, s.unique,
            [(t.value, t.frequency) for t in s.top_values], [(b.label, b.sample_count) for b in s.rank_histogram.buckets])


@pytest.mark.parametrize("run_dir", ["1", "17"])  # TFX names output dirs by execution id: runs 1 and 3
def test_statistics_of_tfx_examples_equal_tfdv_on_the_same_files(run_dir, tmp_path):
    examples_dir = ROOT / "CsvExampleGen" / "examples" / run_dir
    splits = example_splits(examples_dir)
    assert sorted(splits) == ["eval", "train"]
    assert all(data_format(p) == "tfrecord" for files in splits.values() for p in files)
    ours = generate_statistics(splits, tmp_path / "stats")
    theirs = read_statistics(_tfx_statistics_of(examples_dir))
    assert sorted(ours) == sorted(theirs)
    compared = 0
    for split in ours:
        a, b = ours[split], theirs[split]
        assert a.num_examples == b.num_examples > 50
        fa = {feature_name(f): f for f in a.features}
        fb = {feature_name(f): f for f in b.features}
        assert sorted(fa) == sorted(fb) == ["carrier", "dep_delay", "distance", "hour", "late", "origin"]
        for name, x in fa.items():
            y = fb[name]
            assert (x.type, x.WhichOneof("stats")) == (y.type, y.WhichOneof("stats")), name
            if x.WhichOneof("stats") == "num_stats":
                assert _numbers(x) == _numbers(y), name
                assert math.isclose(x.num_stats.mean, y.num_stats.mean, rel_tol=1e-9, abs_tol=1e-12), name
                assert math.isclose(x.num_stats.std_dev, y.num_stats.std_dev, rel_tol=1e-9, abs_tol=1e-12), name
            else:
                assert _strings(x)[:3] == _strings(y)[:3], name
                assert _strings(x)[3][:3] == _strings(y)[3][:3], name
                assert math.isclose(x.string_stats.avg_length, y.string_stats.avg_length, rel_tol=1e-6), name
            compared += 1
    assert compared == 12


def test_tfrecord_files_that_mlstore_cannot_read_are_data_errors(tmp_path):
    import tensorflow as tf  # noqa: PLC0415

    multi = tmp_path / "multi_tfrecord.gz"
    with tf.io.TFRecordWriter(str(multi), options="GZIP") as writer:
        example = tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2]))}))
        writer.write(example.SerializeToString())
    with pytest.raises(errors.DataError, match="feature 'x' has 2 values in one example"):
        list(tf_examples.read_batches(str(multi), 10))
    garbage = tmp_path / "data_tfrecord-00000-of-00001.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(errors.DataError, match="is not a readable TFRecord file"):
        tf_examples.column_names(str(garbage))
    # missing values: an empty list and an absent feature both count as missing
    sparse = tmp_path / "sparse.tfrecord"
    with tf.io.TFRecordWriter(str(sparse)) as writer:
        for feature in ({"x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5]))},
                        {"x": tf.train.Feature(float_list=tf.train.FloatList(value=[]))},
                        {"y": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"]))}):
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    [frame] = list(tf_examples.read_batches(str(sparse), 10))
    assert list(frame.columns) == ["x", "y"]
    assert frame["x"].isna().tolist() == [False, True, True] and frame["x"][0] == 1.5
    assert frame["y"].isna().tolist() == [True, True, False]
