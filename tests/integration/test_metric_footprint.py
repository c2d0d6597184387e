"""The compact index of migrations 0009 and 0010, on every backend: metric rows name their
series through a dictionary that concurrent writers share, and long artifact properties
are stored compressed yet read back exactly (also across the migration, both ways)."""

import json
import threading

from sqlalchemy import func, inspect, select

from mlstore.index import metric_tiers, migrate
from mlstore.index import model_queries as mq
from mlstore.index import tables as t
from mlstore.index.sync import index_engine
from mlstore.store import OutputArtifact

SLICES = [f"carrier={c}" for c in ("AA", "B6", "DL", "EV", "MQ", "UA", "US", "WN")] + ["Overall"]
METRICS = ["auc_roc", "log_loss", "precision", "recall", "accuracy", "example_count", "calibration", "auc_pr"]


def test_writers_adding_the_same_series_at_once_share_one_id_each(store):
    # Names differing only in case are series of their own (MariaDB compares these columns byte by byte).
    keys = {("daily", metric, slice_key) for metric in METRICS + ["AUC_ROC"] for slice_key in SLICES}
    engines = [index_engine(store.location) for _ in range(4)]
    start, results, failures = threading.Barrier(len(engines)), [], []

    def add(engine):
        start.wait()
        try:
            results.append(metric_tiers.ensure_series(engine, keys))
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=add, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert failures == []
    assert len(results) == len(engines) and all(result == results[0] for result in results)
    assert set(results[0]) == keys and len(set(results[0].values())) == len(keys)
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.metric_series)) == len(keys)


def _evaluation_metrics(day: int) -> dict[str, dict[str, float]]:
    return {s: {m: round(0.5 + (day * 7 + i * 3 + j) % 100 / 1000, 3) for j, m in enumerate(METRICS)}
            for i, s in enumerate(SLICES)}


def _log_day(store, tmp_path, day: int) -> tuple[int, int]:
    (tmp_path / "blob").write_text("bytes")
    blob = store.blobs.publish(tmp_path / "blob")

    def out(type_, role, **props):
        return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)

    layers = json.dumps({f"dense_{i}": [[128, 64], [64]] for i in range(60)})  # a long compatibility property
    model = store.log_execution("Trainer", "daily", outputs=[out("Model", "model", span=day, layers=layers)])
    metrics = json.dumps(_evaluation_metrics(day))
    evaluation = store.log_execution("Evaluator", "daily", inputs=[(model.output_ids[0], "model")],
                                     outputs=[out("ModelEvaluation", "evaluation", metrics=metrics, span=day)])
    return model.output_ids[0], evaluation.output_ids[0]


def _columns(store, artifact_id: int) -> tuple[str, bytes | None]:
    with store.engine.connect() as c:
        row = c.execute(select(t.artifact.c.properties, t.artifact.c.packed).where(t.artifact.c.id == artifact_id)).one()
    return row.properties, row.packed


def test_long_properties_are_packed_and_read_back_exactly_across_the_migration(store, tmp_path):
    model_id, evaluation_id = _log_day(store, tmp_path, 1)
    expected = _evaluation_metrics(1)
    artifact = store.artifact(f"artifact:{evaluation_id}")
    assert artifact.properties["metrics"] == json.dumps(expected)
    assert list(artifact.properties) == sorted(artifact.properties)
    plain, packed = _columns(store, evaluation_id)
    assert packed is not None and "metrics" not in json.loads(plain) and json.loads(plain)["span"] == 1
    assert store.evaluation_metrics(f"artifact:{evaluation_id}") == {
        s: dict(sorted(values.items())) for s, values in sorted(expected.items())}
    # A Model's long properties stay plain: the compatibility check reads them in SQL.
    plain, packed = _columns(store, model_id)
    assert packed is None and "layers" in json.loads(plain)
    with store.engine.connect() as c:
        assert mq.model_row(c, model_id).layers == store.artifact(f"artifact:{model_id}").properties["layers"]

    before = store.artifact(f"artifact:{evaluation_id}").properties
    migrate.downgrade(store.engine, "0008")  # the metrics back in the properties column, the series gone
    with store.engine.connect() as c:
        text = c.scalar(select(t.artifact.c.properties).where(t.artifact.c.id == evaluation_id))
        rows = c.exec_driver_sql("SELECT COUNT(*) FROM mlstore_metric_recent").scalar()
    assert json.loads(text) == before
    assert rows == len(SLICES) * len(METRICS)
    assert "packed" not in {column["name"] for column in inspect(store.engine).get_columns("mlstore_artifact")}
    migrate.upgrade(store.engine)
    assert store.artifact(f"artifact:{evaluation_id}").properties == before
    assert _columns(store, evaluation_id)[1] is not None
    assert [p.value for p in store.metric_series("daily", "auc_pr", "carrier=AA")] == [
        expected["carrier=AA"]["auc_pr"]]
    assert store.metric_names("daily") == sorted(METRICS)
