"""The same query suite against the local store and through `mlstore serve` gives identical answers."""

from __future__ import annotations

import json
import subprocess

import pytest

import mlstore
import mlstore.client
from mlstore import errors
from mlstore.warmstart.from_store import CompatibilityRequirement, requirement_of_model, select_warm_start
from tests.grpc_support import FIRST_SPAN, MLSTORE, build_days, serve

DAYS = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("parity") / "store")
    with mlstore.open(uri) as store:
        models = build_days(store, DAYS)
        with serve(uri) as (_, target):
            yield uri, target, models


@pytest.fixture(scope="module")
def local(served):
    """The one local Store of this process: opening MLMD-on-SQLite again while the server
    holds the (WAL) file open can fail with "disk I/O error"."""
    with mlstore.open(served[0]) as store:
        yield store


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
    since_ms = store.artifact(models[1]).create_time_ms
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
        "metric_series_empty_pipeline": lambda: store.metric_series("", "auc_roc"),
        "metric_series_unknown_metric": lambda: store.metric_series("daily", "nope"),
        "metric_series_unknown_slice": lambda: store.metric_series("daily", "auc_roc", "nope=1"),
        "evaluation_metrics": lambda: store.evaluation_metrics(evaluation),
        "evaluation_metrics_order": lambda: [(k, list(v.items())) for k, v in store.evaluation_metrics(evaluation).items()],
        "latest_blessed": lambda: store.latest_blessed("daily"),
        "latest_blessed_none": lambda: store.latest_blessed("nope"),
        "latest_blessed_empty": lambda: store.latest_blessed(""),
        "blessings": lambda: store.blessings(pipeline="daily"),
        "blessings_model": lambda: store.blessings(model=models[0]),
        "pipelines": lambda: store.pipelines(),
        "artifacts_desc": lambda: store.artifacts(order="desc", limit=7),
        "artifacts_desc_before": lambda: store.artifacts(type="Model", order="desc", before_id=models[-1]),
        "artifacts_desc_window": lambda: store.artifacts(order="desc", after_id=3, before_id=12),
        "artifacts_since": lambda: store.artifacts(since_ms=since_ms),
        "artifacts_bad_order": lambda: store.artifacts(order="sideways"),
        "executions_desc": lambda: store.executions(order="desc", limit=3),
        "executions_desc_since": lambda: store.executions(type="Trainer", order="desc", since_ms=since_ms),
        "newest_execution_id": lambda: store.newest_execution_id(),
        "metric_names": lambda: store.metric_names("daily"),
        "metric_names_none": lambda: store.metric_names("nope"),
        "slices": lambda: store.slices("daily"),
        "slices_metric": lambda: store.slices("daily", metric="auc_roc"),
        "slices_unknown_metric": lambda: store.slices("daily", metric="nope"),
        "verify": lambda: store.verify(),
        "verify_one": lambda: store.verify([last]),
        "local_path": lambda: store.local_path(last),
    }
    return {name: _answer(fn) for name, fn in queries.items()}


@pytest.mark.parametrize("where", ["local", "remote"])
def test_query_suite(served, local, where):
    uri, target, models = served
    if where == "local":
        answers = query_suite(local, models)
    else:
        with mlstore.open(f"grpc://{target}") as store:
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
    assert [a.id for a in answers["artifacts_desc"][1]] == list(range(DAYS * 5, DAYS * 5 - 7, -1))
    assert [a.id for a in answers["artifacts_desc_before"][1]] == models[-2::-1]
    assert [a.id for a in answers["artifacts_desc_window"][1]] == list(range(11, 3, -1))
    assert answers["artifacts_bad_order"] == ("error", "InvalidArgument")
    assert answers["newest_execution_id"] == ("ok", DAYS * 5)
    assert answers["slices"] == ("ok", ["Overall", "carrier=AA", "carrier=DL"])
    assert answers["slices_unknown_metric"] == answers["metric_names_none"] == ("ok", [])
    assert answers["metric_series_none"] == answers["latest_blessed_none"] == ("error", "NotFound")
    assert answers["metric_series_unknown_metric"] == ("error", "NotFound")
    assert answers["metric_series_empty_pipeline"] == answers["latest_blessed_empty"] == ("error", "InvalidArgument")
    assert answers["metric_series_unknown_slice"] == ("ok", [])
    # full upstream lineage of the last model reaches every day's examples (warm-start chain)
    assert {n.id.id for n in answers["lineage_up"][1].nodes if n.type == "Model"} == set(models)
    if where == "remote":
        assert answers == query_suite(local, models)


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


def test_descending_pages_match_local(served, local, monkeypatch):
    """RemoteStore pages newest-first listings through page tokens exactly like the local store."""
    uri, target, models = served
    monkeypatch.setattr(mlstore.client, "_PAGE", 3)
    with mlstore.open(f"grpc://{target}") as remote:
        since_ms = local.artifact(models[1]).create_time_ms
        for kwargs in ({"order": "desc"}, {"order": "desc", "after_id": 4, "limit": 8},
                       {"order": "desc", "before_id": 17, "since_ms": since_ms}, {"after_id": 5, "limit": 7}):
            assert remote.artifacts(**kwargs) == local.artifacts(**kwargs), kwargs
            assert remote.executions(**kwargs) == local.executions(**kwargs), kwargs


def warm_start_suite(store, models: list[int]) -> dict:
    """Warm-start selections: the local function on a Store, the RemoteStore method through a server."""
    def select(*args, **kwargs):
        if isinstance(store, mlstore.client.RemoteStore):
            return store.select_warm_start("daily", *args, **kwargs)
        return select_warm_start(store, "daily", *args, **kwargs)

    def by_model(ref, **kwargs):
        if isinstance(store, mlstore.client.RemoteStore):
            return store.requirement_of_model(ref, **kwargs)
        return requirement_of_model(store, ref, **kwargs)

    queries = {
        "latest": lambda: select("latest"),
        "latest_blessed_all": lambda: select("latest_blessed", explain="all"),
        "best_slice": lambda: select("best:auc_roc@carrier=AA", explain="all"),
        "best_metric_arg": lambda: select("best", metric="log_loss"),
        "best_lower_override": lambda: select("best:log_loss", higher_is_better=True),
        "as_of": lambda: select("latest_blessed", as_of=FIRST_SPAN + 3),
        "as_of_policy": lambda: select("as_of", as_of=FIRST_SPAN + 3, explain="all"),
        "exclude": lambda: select("latest", exclude=[models[-1], models[-2]]),
        "nothing": lambda: select("best:auc_roc@nowhere"),
        "explicit_requirement": lambda: select("latest", require_compatible=CompatibilityRequirement(
            spec_digest="sha256:other", input_signature={"x": "float32"}, layers={"dense": [[3, 4], [4]]},
            layer_patterns=("dense*",)), explain="all"),
        "reference_model": lambda: select("latest", require_compatible=by_model(models[0]), exclude=[models[0]]),
        "reference_not_model": lambda: select("latest", require_compatible=by_model(1)),
        "reference_missing": lambda: select("latest", require_compatible=by_model("artifact:9999")),
        "bad_policy": lambda: select("best:"),
        "bad_as_of": lambda: select("latest", as_of=13),
        "bad_explain": lambda: select("latest", explain="everything"),
        "unknown_pipeline": lambda: (store.select_warm_start if isinstance(store, mlstore.client.RemoteStore)
                                     else lambda *a: select_warm_start(store, *a))("nope", "latest"),
    }
    return {name: _answer(fn) for name, fn in queries.items()}


def test_warm_start_through_server_matches_local(served, local):
    uri, target, models = served
    expected = warm_start_suite(local, models)
    with mlstore.open(f"grpc://{target}") as remote:
        answers = warm_start_suite(remote, models)
    assert answers == expected
    assert answers["latest"][1].chosen.model_id == f"artifact:{models[-1]}"
    assert answers["exclude"][1].chosen.model_id == f"artifact:{models[-3]}"
    assert answers["as_of"][1].chosen.model_id == f"artifact:{models[1]}"  # day 3 is not blessed
    assert answers["as_of_policy"][1].chosen.model_id == f"artifact:{models[2]}"
    assert not answers["nothing"][1].ok and not answers["explicit_requirement"][1].ok
    assert answers["reference_model"][1].chosen.model_id == f"artifact:{models[-1]}"
    assert answers["reference_not_model"] == answers["bad_policy"] == answers["bad_explain"] == ("error",
                                                                                                "InvalidArgument")
    assert answers["reference_missing"] == answers["unknown_pipeline"] == ("error", "NotFound")


def test_warm_start_cli_through_server(served):
    uri, target, models = served
    for args, code in ((["--policy", "best:auc_roc@carrier=AA", "--as-of", "2013-01-03"], 0),
                       (["--require-compatible", f"artifact:{models[0]}", "--ranked"], 0),
                       (["--policy", "best:auc_roc@nowhere"], 1)):
        cli = [MLSTORE, "warm-start", "--pipeline", "daily", *args]
        local = subprocess.run([*cli, "--store", uri, "--json"], capture_output=True, text=True)
        remote = subprocess.run([*cli, "--server", target, "--json"], capture_output=True, text=True)
        assert local.returncode == remote.returncode == code, (args, remote.stderr)
        assert local.stdout == remote.stdout and local.stderr.splitlines()[-1:] == remote.stderr.splitlines()[-1:]
    text = subprocess.run([MLSTORE, "warm-start", "--pipeline", "daily", "--server", target],
                          capture_output=True, text=True)
    assert text.returncode == 0 and text.stdout == subprocess.run(
        [MLSTORE, "warm-start", "--pipeline", "daily", "--store", uri], capture_output=True, text=True).stdout


# Last: it logs a new model, which the tests above do not expect.
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
