"""Newest-first paging, the store version and the metric catalogue (the dashboard's queries), on every backend."""

from __future__ import annotations

import pytest

import mlstore
from mlstore import errors


def _log_days(store, tmp_path, days: int) -> list[int]:
    """``days`` Trainer → Evaluator runs; returns the model ids, oldest first."""
    models = []
    for day in range(1, days + 1):
        model_dir = tmp_path / f"model{day}"
        model_dir.mkdir()
        (model_dir / "saved_model.pb").write_text(f"model {day}")
        with mlstore.run("demo", "Trainer", {"day": day}, store=store) as r:
            r.log_model(model_dir)
        model = r.outputs[0]
        metrics = {"Overall": {"auc_roc": 0.5 + day / 100, "log_loss": 0.6}, "carrier=AA": {"auc_roc": 0.4}}
        if day == days:
            metrics["zone=B"] = {"accuracy": 0.7}  # only the newest evaluation has it
        with mlstore.run("demo", "Evaluator", store=store) as r:
            r.use(model, "model")
            r.log_evaluation(metrics)
        models.append(model.id)
    return models


def test_newest_first_paging_version_and_catalogue(store, tmp_path):
    assert store.newest_execution_id() == 0
    assert store.metric_names("demo") == [] and store.slices("demo") == []
    models = _log_days(store, tmp_path, 4)

    newest = store.artifacts(type="Model", pipeline="demo", order="desc", limit=2)
    assert [m.id for m in newest] == models[::-1][:2]
    older = store.artifacts(type="Model", order="desc", before_id=newest[-1].id)
    assert [m.id for m in older] == models[::-1][2:]
    assert store.artifacts(type="Model") == store.artifacts(type="Model", order="asc")  # default unchanged

    executions = store.executions(order="desc")
    assert [e.id for e in executions] == sorted((e.id for e in executions), reverse=True)
    assert store.newest_execution_id() == executions[0].id
    assert [e.id for e in store.executions(type="Trainer", order="desc", limit=1)] == [executions[1].id]
    assert store.executions(since_ms=executions[0].create_time_ms + 10**9) == []
    assert len(store.executions(since_ms=0)) == 8

    assert store.metric_names("demo") == ["accuracy", "auc_roc", "log_loss"]
    assert store.slices("demo") == ["Overall", "carrier=AA", "zone=B"]
    assert store.slices("demo", metric="log_loss") == ["Overall"]
    assert store.metric_names("other") == [] and store.slices("other") == []


def test_bad_order_is_a_typed_error(sqlite_store):
    for query in (sqlite_store.artifacts, sqlite_store.executions):
        with pytest.raises(errors.InvalidArgument, match="order must be"):
            query(order="newest")
