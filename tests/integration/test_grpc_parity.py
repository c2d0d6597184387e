"""The same query suite against the local store and through `mlstore serve` gives identical answers."""

from __future__ import annotations

import json
import subprocess

import pytest

import mlstore
from mlstore import errors
from tests.grpc_support import MLSTORE, build_days, serve

DAYS = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("parity") / "store")
    with mlstore.open(uri) as store:
        models = build_days(store, DAYS)
    with serve(uri) as (_, target):
        yield uri, target, models


def _answer(fn):
    try:
        value = fn()
    except errors.MlstoreError as e:
        return ("error", type(e).__name__)
    return ("ok", value)


def query_suite(store, models: list[int]) -> dict:
    last = models[-1]
    evaluation = max(a.id for a in store.artifacts(type="ModelEvaluation"))
    digest = store.artifact(last).digest
    queries = {
        "resolve": lambda: store.resolve(f"artifact:{last}"),
        "resolve_digest": lambda: store.resolve(digest[:20]),
        "resolve_bad": lambda: store.resolve("bogus"),
        "resolve_missing": lambda: store.resolve("artifact:999999"),
        "resolve_empty_digest": lambda: store.resolve("sha256:"),
        "artifact": lambda: store.artifact(last),
        "artifact_is_execution": lambda: store.artifact("execution:1"),
        "execution": lambda: store.execution(1),
        "execution_str": lambda: store.execution("execution:3"),
        "artifacts": lambda: store.artifacts(),
        "artifacts_models": lambda: store.artifacts(type="Model", pipeline="daily"),
        "artifacts_page": lambda: store.artifacts(after_id=3, limit=5),
        "artifacts_bad_type": lambda: store.artifacts(type="NoSuchType"),
        "executions": lambda: store.executions(),
        "executions_trainer": lambda: store.executions(type="Trainer", state="COMPLETE"),
        "events_execution": lambda: store.events("execution:3"),
        "events_artifact": lambda: store.events(last),
        "lineage_up": lambda: store.lineage(last),
        "lineage_down": lambda: store.lineage(models[0], direction="down"),
        "lineage_both_depth": lambda: store.lineage([models[1]], direction="both", depth=3),
        "lineage_types": lambda: store.lineage(last, types=["Model", "Examples"]),
        "lineage_negative": lambda: store.lineage(last, depth=-1),
        "lineage_bad_type": lambda: store.lineage(last, types=["Nope"]),
        "metric_series": lambda: store.metric_series("daily", "auc_roc"),
        "metric_series_slice": lambda: store.metric_series("daily", "auc_roc", "carrier=AA"),
        "metric_series_none": lambda: store.metric_series("nope", "auc_roc"),
        "evaluation_metrics": lambda: store.evaluation_metrics(evaluation),
        "latest_blessed": lambda: store.latest_blessed("daily"),
        "latest_blessed_none": lambda: store.latest_blessed("nope"),
        "blessings": lambda: store.blessings(pipeline="daily"),
        "blessings_model": lambda: store.blessings(model=models[0]),
        "pipelines": lambda: store.pipelines(),
        "verify": lambda: store.verify(),
        "verify_one": lambda: store.verify([last]),
        "local_path": lambda: store.local_path(last),
    }
    return {name: _answer(fn) for name, fn in queries.items()}


@pytest.mark.parametrize("where", ["local", "remote"])
def test_query_suite(served, where):
    uri, target, models = served
    with mlstore.open(uri if where == "local" else f"grpc://{target}") as store:
        answers = query_suite(store, models)
    assert answers["resolve_bad"] == ("error", "InvalidArgument")
    assert answers["resolve_missing"] == ("error", "NotFound")
    assert answers["lineage_negative"] == ("error", "InvalidArgument")
    assert answers["artifact_is_execution"] == ("error", "InvalidArgument")
    assert len(answers["artifacts"][1]) == DAYS * 5
    assert len(answers["artifacts_page"][1]) == 5
    assert [m.id for m in answers["artifacts_models"][1]] == models
    assert answers["latest_blessed"][1].id == models[-1 if DAYS % 3 else -2]
    assert answers["verify"] == ("ok", {})
    # full upstream lineage of the last model reaches every day's examples (warm-start chain)
    assert {n.id.id for n in answers["lineage_up"][1].nodes if n.type == "Model"} == set(models)
    if where == "remote":
        with mlstore.open(uri) as local:
            expected = query_suite(local, models)
        assert answers == expected


def test_cli_queries_through_server(served):
    uri, target, models = served
    for args in (["show", f"artifact:{models[-1]}"], ["lineage", f"artifact:{models[-1]}", "--depth", "4"],
                 ["ls", "--type", "Model"], ["verify"]):
        local = subprocess.run([MLSTORE, *args, "--store", uri, "--json"], capture_output=True, text=True)
        remote = subprocess.run([MLSTORE, *args, "--server", target, "--json"], capture_output=True, text=True)
        assert local.returncode == remote.returncode == 0, remote.stderr
        assert json.loads(local.stdout) == json.loads(remote.stdout)
    missing = subprocess.run([MLSTORE, "show", "artifact:999999", "--server", target], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr


def test_sdk_run_logs_through_server(served, tmp_path):
    uri, target, models = served
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"not a real graph, only bytes to store")
    with mlstore.run("daily", "Trainer", {"epochs": 1}, store=f"grpc://{target}") as run:
        run.use(f"artifact:{models[-1]}", role="base_model")
        run.log_model(tmp_path / "model")
    # Checked through a second client: a new MLMD-on-SQLite connection in this process
    # while the server process holds the (WAL) file open can fail with "disk I/O error".
    with mlstore.open(f"grpc://{target}") as local:
        logged = local.execution(run.execution_id)
        assert logged.type == "Trainer" and json.loads(logged.properties["params"]) == {"epochs": 1}
        assert [a.id for a in run.outputs] == [e.artifact_id for e in local.events(logged) if e.is_output]
        assert local.verify([run.outputs[0]]) == {}
        graph = local.lineage(run.outputs[0], depth=2)
        assert f"artifact:{models[-1]}" in {str(n.id) for n in graph.nodes}
