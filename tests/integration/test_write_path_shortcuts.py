"""The write path's shortcuts give what the long way gives: MLMD's own read-back, a reindex, a copy.

``Store.log_executions`` reads back from MLMD only a write's new artifacts (not its
inputs) when each has a span, ``mlstore.run`` takes its outputs from the rows just indexed, ``log_model`` and
``log_evaluation`` publish without a temporary copy, and the package list is read from
the metadata headers only. Each is checked against the slow path it replaces.
"""

import json
from pathlib import Path
from importlib import metadata as importlib_metadata

from sqlalchemy import text

import mlstore
from mlstore import capture
from mlstore.blobs import collect_files, manifest_of
from mlstore.index import tables as t
from tests.integration.test_store_core import log_day

INDEX_TABLES = [t.artifact.name, t.execution.name, t.event.name, t.metric_recent.name, t.metric.name,
                t.blessing.name]


def _index_rows(store) -> dict[str, list[tuple]]:
    with store.engine.connect() as connection:
        return {name: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {name}")).all()))
                for name in INDEX_TABLES}


def test_sdk_days_index_exactly_what_a_reindex_from_mlmd_builds(sqlite_store, tmp_path):
    model = None
    for day in (1, 2, 3):
        model = log_day(sqlite_store, tmp_path, day, model)[1]
    written = _index_rows(sqlite_store)
    assert len(written[t.execution.name]) == 12 and len(written[t.blessing.name]) == 3
    assert len(written[t.metric_recent.name]) == 6
    sqlite_store.reindex()
    assert _index_rows(sqlite_store) == written


def test_a_write_reads_back_only_its_new_artifacts_and_indexes_what_a_reindex_builds(sqlite_store, tmp_path):
    metadata, asked = sqlite_store.metadata, []
    read = metadata.raw.get_artifacts_by_id

    def recording(ids):
        asked.append(sorted(ids))
        return read(ids)

    metadata.raw.get_artifacts_by_id = recording
    try:
        _, model, evaluation = log_day(sqlite_store, tmp_path, 1)
        with mlstore.run("demo", "Gate", store=sqlite_store) as r:  # inputs, one output: only it is read
            r.use(model, "model")
            r.use(evaluation, "evaluation")
            r.log_artifact(tmp_path / "data1", "ModelBlessing", properties={"blessed": 1})
    finally:
        metadata.raw.get_artifacts_by_id = read
    assert asked[-1] == [r.outputs[0].id]
    assert all(len(ids) == 1 for ids in asked)
    written = _index_rows(sqlite_store)
    sqlite_store.reindex()
    assert _index_rows(sqlite_store) == written


def test_run_outputs_are_the_indexed_artifacts(sqlite_store, tmp_path):
    model = log_day(sqlite_store, tmp_path, 1)[1]
    with mlstore.run("demo", "Evaluator", store=sqlite_store) as r:
        r.use(model, "model")
        pending = r.log_evaluation({"Overall": {"auc_roc": 0.75}}, properties={"span": 9})
    [evaluation] = r.outputs
    assert evaluation == sqlite_store.artifact(evaluation.id)
    assert pending.artifact is evaluation
    assert json.loads(evaluation.properties["metrics"]) == {"Overall": {"auc_roc": 0.75}}
    assert evaluation.span == 9


def test_log_evaluation_and_log_model_store_the_same_bytes_without_a_temporary_copy(sqlite_store, tmp_path):
    model_dir = tmp_path / "saved"
    (model_dir / "variables").mkdir(parents=True)
    (model_dir / "saved_model.pb").write_text("graph")
    (model_dir / "variables" / "variables.index").write_text("weights")
    with mlstore.run("demo", "Trainer", store=sqlite_store) as r:
        model = r.log_model(model_dir)
        evaluation = r.log_evaluation({"b": {"m": 1.0}, "a": {"m": 2, "n": 0.5}})
    model_files = sorted(rel for rel, _ in collect_files(sqlite_store.blobs.local_path(model.digest)))
    assert model_files == ["Format-Serving/saved_model.pb", "Format-Serving/variables/variables.index"]
    assert r.outputs[0].properties["serving_digest"] == manifest_of(collect_files(model_dir)).digest
    stored = sqlite_store.blobs.local_path(evaluation.digest) / "metrics.json"
    assert stored.read_text() == json.dumps(
        {"format_version": 1, "slices": [{"slice": "a", "metrics": {"m": 2.0, "n": 0.5}},
                                         {"slice": "b", "metrics": {"m": 1.0}}]}, indent=1, sort_keys=True)
    assert not list((Path(sqlite_store.blobs.root) / "staging").glob("*"))  # nothing left in flight


def test_package_list_from_headers_equals_the_full_metadata_parse():
    by_email_parser = {f"{d.metadata['Name']}=={d.version}" for d in importlib_metadata.distributions()
                       if d.metadata["Name"]}
    assert capture.installed_packages() == "\n".join(sorted(by_email_parser, key=str.lower)) + "\n"
    assert capture.environment_digest().startswith("sha256:")
