"""mlstore on a store real TFX 1.16 wrote (tests/fixtures/tfx_flights: 3 daily runs).

Run 1 blessed without a baseline, run 2 blessed against run 1, run 3 NOT blessed.
Every check reads what mlstore answers about TFX's own records.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import mlstore
from mlstore import errors
from mlstore.tfx.layout import serving_model_path
from mlstore.warmstart.from_store import select_warm_start

PIPELINE = "flights_tfx"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str, check: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mlstore", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == check, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.fixture()
def mlmd_file(tfx_store) -> Path:
    path = Path(tfx_store)
    return path if path.is_file() else path / "metadata.sqlite"


def test_read_only_commands_leave_the_tfx_database_untouched(mlmd_file):
    before = _sha(mlmd_file)
    header = mlmd_file.read_bytes()[18:20]
    for args in (["ls"], ["ls", "--pipeline", PIPELINE], ["lineage", "artifact:12", "--up"], ["verify"],
                 ["show", "artifact:2"]):
        _cli(*args, "--store", str(mlmd_file))
    assert _sha(mlmd_file) == before
    assert mlmd_file.read_bytes()[18:20] == header  # journal mode not switched
    assert not Path(str(mlmd_file) + "-wal").exists()
    assert (mlmd_file.parent / (mlmd_file.name + ".mlstore") / "index.sqlite").is_file()


def test_tfx_semantics_in_the_index(mlmd_file):
    store = mlstore.open(str(mlmd_file))
    assert store.pipelines() == [PIPELINE]
    kinds = {e.type for e in store.executions()}
    assert {"ExampleGen", "StatisticsGen", "SchemaGen", "Transform", "Trainer", "Resolver", "Evaluator",
            "Pusher"} <= kinds
    trainer = store.executions(type="Trainer")[0]
    assert trainer.properties["mlmd_type"] == "tfx.components.trainer.component.Trainer"
    # TFX's pipeline_run and node contexts: three runs of eight nodes, each node's own id
    runs = {}
    for execution in store.executions(pipeline=PIPELINE):
        runs.setdefault(execution.properties["run_id"], []).append(execution.properties["node_id"])
    assert len(runs) == 3 and all(len(nodes) == 8 for nodes in runs.values())
    assert sorted(next(iter(runs.values()))) == ["CsvExampleGen", "Evaluator", "Pusher", "SchemaGen",
                                                 "StatisticsGen", "Trainer", "Transform",
                                                 "latest_blessed_model_resolver"]
    assert trainer.properties["run_id"] == min(runs)  # ISO timestamps: the first run's Trainer
    models = store.artifacts(type="Model", pipeline=PIPELINE)
    assert len(models) == 3
    assert [m.span for m in models] == [1, 2, 3]  # derived from the examples they were trained on
    blessings = store.blessings(pipeline=PIPELINE)
    assert [(b.model_id, b.blessed) for b in blessings] == [(m.id, ok) for m, ok in zip(models, (True, True, False))]
    assert blessings[0].baseline_id is None and blessings[1].baseline_id == models[0].id
    assert blessings[2].baseline_id == models[1].id
    assert all(b.evaluation_id for b in blessings)
    assert store.latest_blessed(PIPELINE).id == models[1].id
    # a struct custom property (ExampleStatistics' sample_rate_by_split) is read and JSON-able
    stats = [a for a in store.artifacts(type="ExampleStatistics") if "sample_rate_by_split" in a.properties]
    assert stats and json.dumps(stats[0].to_json())
    # the Resolver's INTERNAL_OUTPUT events are reads, never productions
    resolver = store.executions(type="Resolver")[1]
    assert resolver.id and all(not e.is_output for e in store.events(resolver.node_id))


def test_tfma_metrics_per_slice_over_daily_models(mlmd_file):
    store = mlstore.open(str(mlmd_file))
    assert {"auc", "binary_accuracy", "example_count"} <= set(store.metric_names(PIPELINE))
    slices = store.slices(PIPELINE, "binary_accuracy")
    assert slices[0] == "Overall" and "carrier=AA" in slices
    series = store.metric_series(PIPELINE, "example_count")
    assert [p.span for p in series] == [1, 2, 3]
    assert all(p.value > 10 for p in series)
    models = store.artifacts(type="Model", pipeline=PIPELINE)
    assert [p.model_id for p in series] == [m.id for m in models]  # the candidate's values, not the baseline's
    auc = store.metric_series(PIPELINE, "auc")
    assert all(0.0 <= p.value <= 1.0 for p in auc)


def test_warm_start_hands_back_tfx_serving_savedmodel(mlmd_file):
    store = mlstore.open(str(mlmd_file))
    selection = select_warm_start(store, PIPELINE, "latest_blessed")
    assert selection.chosen.model_id == str(store.latest_blessed(PIPELINE).node_id)
    path = serving_model_path(store.local_path(selection.chosen.model_id))
    assert path.name == "Format-Serving" and (path / "saved_model.pb").is_file()


def test_gate_on_a_tfma_evaluation_with_tfma_metric_names(mlmd_file, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text("version: 1\nmin_examples: 30\nmetrics:\n"
                    "  - name: binary_accuracy\n    lower_bound: 0.99\n    slices: [overall]\n")
    models = mlstore.open(str(mlmd_file)).artifacts(type="Model", pipeline=PIPELINE)
    proc = _cli("gate", "--candidate", f"artifact:{models[-1].id}", "--config", str(spec), "--no-record",
                "--json", "--store", str(mlmd_file), check=1)
    report = json.loads(proc.stdout)
    assert report["passed"] is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmetrics:\n  - name: auc_roc\n    lower_bound: 0.5\n")
    proc = _cli("gate", "--candidate", f"artifact:{models[-1].id}", "--config", str(bad), "--no-record",
                "--store", str(mlmd_file), check=2)
    assert "has no metric 'auc_roc'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_tfma_validations_say_why_each_tfx_model_was_blessed_or_not(mlmd_file):
    from mlstore.tfx import tfma

    store = mlstore.open(str(mlmd_file))
    blessings = store.blessings(pipeline=PIPELINE)
    validations = [tfma.read_validations(store.local_path(b.evaluation_id)) for b in blessings]
    assert [v.ok for v in validations] == [b.blessed for b in blessings] == [True, True, False]
    (failure,) = validations[2].failures
    # Run 3's change threshold (binary_accuracy must gain 0.5 over the baseline) failed:
    # the candidate got 3 more of the 69 examples right than run 2's model.
    assert (failure.slice, failure.metric, failure.is_diff, failure.threshold) == (
        "Overall", "binary_accuracy", True, ">= +0.5")
    assert failure.value == pytest.approx(3 / 69, abs=1e-9)
    assert validations[2].summary() == "failed: binary_accuracy change on Overall 0.04348 (needs >= +0.5)"
    evaluation = tfma.read_any_evaluation(store.local_path(blessings[2].evaluation_id))
    assert evaluation.slice_keys()[0] == "Overall" and evaluation.num_examples == 69
    assert evaluation.get("Overall").metrics == store.evaluation_metrics(blessings[2].evaluation_id)["Overall"]
    assert tfma.read_plots(store.local_path(blessings[2].evaluation_id)) == {}  # no plot metric configured


def _types(path: Path) -> dict[str, dict[str, int]]:
    mlmd = metadata_store.MetadataStore(_connection(path))
    return {t.name: dict(t.properties) for t in mlmd.get_artifact_types()}


def _connection(path: Path):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    return config


def test_gate_records_a_tfx_native_blessing_from_a_tfma_evaluation(mlmd_file, tmp_path):
    """`mlstore gate` on TFX's own model and TFMA evaluation records a ModelBlessing that
    TFX's resolvers read (custom `blessed` / `current_model_id`), changing no TFX type."""
    types_before = _types(mlmd_file)
    store = mlstore.open(str(mlmd_file))
    models = store.artifacts(type="Model", pipeline=PIPELINE)
    spec = tmp_path / "gate.yaml"
    spec.write_text("version: 1\nmetrics:\n  - name: binary_accuracy\n    lower_bound: 0.85\n"
                    "    change: {direction: higher_is_better, absolute: -0.01}\n")
    proc = _cli("gate", "--candidate", f"artifact:{models[2].id}", "--config", str(spec), "--json",
                "--store", str(mlmd_file))
    report = json.loads(proc.stdout)
    assert report["passed"] is True  # 0.899 >= 0.85 and +0.033 over run 2's model
    # The baseline's values are TFMA's own evaluation of run 2's model on run 3's data, in
    # the same file: mlstore's delta is the diff TFMA validated (3 more right of 69).
    assert "baseline values: TFMA's evaluation of" in " ".join(report["notes"])
    change = next(c for c in report["checks"] if c["kind"] == "change_absolute")
    assert change["candidate"] == pytest.approx(62 / 69) and change["baseline"] == pytest.approx(59 / 69)
    from mlstore.tfx import tfma

    (failure,) = tfma.read_validations(store.local_path(report["evaluation"])).failures
    assert change["delta"] == pytest.approx(failure.value, abs=1e-12)
    store = mlstore.open(str(mlmd_file))
    newest = store.blessings(pipeline=PIPELINE)[-1]
    assert (newest.model_id, newest.baseline_id, newest.blessed) == (models[2].id, models[1].id, True)
    assert store.latest_blessed(PIPELINE).id == models[2].id
    mlmd = metadata_store.MetadataStore(_connection(mlmd_file))
    (record,) = mlmd.get_artifacts_by_id([newest.id])
    custom = record.custom_properties
    assert (custom["blessed"].int_value, custom["current_model_id"].int_value,
            custom["baseline_model_id"].int_value) == (1, models[2].id, models[1].id)
    assert _types(mlmd_file)["ModelBlessing"] == types_before["ModelBlessing"]
    assert _types(mlmd_file)["Model"] == types_before["Model"]
    # The recorded Gate step reads the same files again: a rerun reproduces the decision.
    gate_run = store.executions(type="Gate")[-1]
    proc = _cli("rerun", str(gate_run.node_id), "--store", str(mlmd_file))
    assert "reproduced" in proc.stdout and "identical" in proc.stdout


def test_verify_hashes_tfx_bytes_and_catches_a_change(mlmd_file):
    proc = _cli("verify", "--json", "--store", str(mlmd_file))
    report = json.loads(proc.stdout)
    assert report["hashed"] >= 40 and not report["corrupted"]
    store = mlstore.open(str(mlmd_file))
    model = store.artifacts(type="Model", pipeline=PIPELINE)[0]
    target = next(p for p in sorted(Path(model.uri).rglob("*")) if p.is_file() and p.stat().st_size > 0)
    target.write_bytes(target.read_bytes() + b"x")
    proc = _cli("verify", "--json", "--store", str(mlmd_file), check=1)
    assert list(json.loads(proc.stdout)["corrupted"]) == [f"artifact:{model.id}"]


def test_index_follows_executions_another_mlmd_client_writes(mlmd_file):
    store = mlstore.open(str(mlmd_file))
    before = len(store.executions())
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(mlmd_file)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE
    other = metadata_store.MetadataStore(config)  # as TFX writes: no journal of mlstore's
    type_id = other.get_execution_type("tfx.components.statistics_gen.component.StatisticsGen").id
    [pipeline] = [c for c in other.get_contexts_by_type("pipeline") if c.name == PIPELINE]
    running = pb.Execution(type_id=type_id, last_known_state=pb.Execution.RUNNING)
    [execution_id] = other.put_executions([running])
    other.put_attributions_and_associations([], [pb.Association(context_id=pipeline.id, execution_id=execution_id)])
    assert store.catch_up() == 0  # still running: not indexed yet
    running.id, running.last_known_state = execution_id, pb.Execution.COMPLETE
    other.put_executions([running])
    assert store.catch_up() == 1
    new = store.execution(execution_id)
    assert (new.type, new.pipeline) == ("StatisticsGen", PIPELINE)
    assert len(store.executions()) == before + 1


def test_a_failed_index_write_is_an_error_not_success(mlmd_file, monkeypatch):
    from mlstore.index import writer

    store = mlstore.open(str(mlmd_file))

    def broken(connection, batch):
        from sqlalchemy.exc import IntegrityError
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: mlstore_blessing.id"))

    monkeypatch.setattr(writer, "write_batch", broken)
    with pytest.raises(errors.IndexInconsistent, match="UNIQUE constraint failed"):
        store.reindex()


def test_dashboard_pages_show_the_tfx_runs(mlmd_file, monkeypatch):
    from tests.dashboard_support import page_texts, run_page

    uri = str(mlmd_file)
    home = run_page(uri, "views/models.py", monkeypatch)
    tiles = {m.label: m.value for m in home.metric}
    assert (tiles["Models"], tiles["Blessed models"], tiles["Models failing their gate"]) == ("3", "2", "1")
    models = mlstore.open(uri).artifacts(type="Model", pipeline=PIPELINE)
    page = run_page(uri, "views/model.py", monkeypatch, {"model": str(models[1].id)})
    assert page.title[0].value == f"Model artifact:{models[1].id}"
    text = page_texts(page)
    assert "pipeline flights_tfx · span 2 · blessed" in text
    assert "slice(s) with fewer than 30 examples hidden" in text  # TFMA's carrier slices are small here
    own = page.dataframe[0].value  # the model's own TFMA metrics per slice
    assert {"auc", "binary_accuracy", "example_count"} <= set(own.columns) and "Overall" in own.index
    assert own.loc["Overall", "example_count"] == mlstore.open(uri).evaluation_metrics(
        mlstore.open(uri).blessings(pipeline=PIPELINE)[1].evaluation_id)["Overall"]["example_count"]
    # Run 3's model against its baseline: TFMA's values of run 2's model on the same data.
    page = run_page(uri, "views/model.py", monkeypatch, {"model": str(models[2].id)})
    assert [t.label for t in page.tabs][0] == f"vs baseline artifact:{models[1].id} (same evaluation data, TFMA)"
    deltas = page.dataframe[1].value.set_index(["slice", "metric"])
    assert deltas.loc[("Overall", "binary_accuracy"), "delta"] == pytest.approx(3 / 69)
    gates = run_page(uri, "views/gates.py", monkeypatch)
    assert {m.label: m.value for m in gates.metric}["Decisions"] == "3"
    why = gates.dataframe[0].value.set_index("id")["why"]
    blessings = mlstore.open(uri).blessings(pipeline=PIPELINE)
    assert [why[b.id] for b in blessings] == [
        "TFMA passed", "TFMA passed", "TFMA failed: binary_accuracy change on Overall 0.04348 (needs >= +0.5)"]


def test_through_a_server_tfx_bytes_are_checked_against_the_servers_fingerprint(mlmd_file):
    """RemoteStore.content_digest and local_path of TFX's bytes use the fingerprint the
    server's index took (RPC GetContentDigest): a changed file is an IntegrityError."""
    from tests.grpc_support import serve  # noqa: PLC0415

    local = mlstore.open(str(mlmd_file))
    model = local.artifacts(type="Model", pipeline=PIPELINE)[0]
    assert not model.digest and local.content_digest(model).startswith("sha256:")
    with serve(str(mlmd_file)) as (_, target), mlstore.open(f"grpc://{target}") as remote:
        assert remote.content_digest(f"artifact:{model.id}") == local.content_digest(model)
        assert remote.local_path(f"artifact:{model.id}") == local.local_path(model)
        target_file = next(p for p in sorted(Path(model.uri).rglob("*")) if p.is_file() and p.stat().st_size > 0)
        target_file.write_bytes(target_file.read_bytes() + b"x")
        with pytest.raises(errors.IntegrityError, match="hash to"):
            remote.local_path(f"artifact:{model.id}")
    local.close()
