"""OpenLineage export: events of a demo-shaped store and of real TFX records, validated and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import mlstore
from mlstore import openlineage as ol
from mlstore.openlineage.events import pipeline_run_uuid, run_uuid, store_namespace
from tests.dashboard_store import build_store
from tests.openlineage_receiver import Receiver
from tests.openlineage_schemas import facets_of, validate_event
from tests.tfx_fixture import PIPELINE as TFX_PIPELINE
from tests.tfx_fixture import copy_tfx_fixture


def as_dicts(events) -> list[dict]:
    return [json.loads(ol.to_json(e)) for e in events]


def mlstore_cli(*args, check=None):
    proc = subprocess.run([sys.executable, "-m", "mlstore", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=180)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Three days of the daily pipeline (day 2's gate fails), two hub modules, and a failed run."""
    root = tmp_path_factory.mktemp("ol-demo")
    built = build_store(str(root / "store"), days=3, dip_every=2)
    store = mlstore.open(built.uri)
    with pytest.raises(RuntimeError):
        with mlstore.run(built.pipeline, "Trainer", {"epochs": 9}, store=store, run_id="day-00004") as run:
            run.use(built.model_ids[-1], "base_model")
            raise RuntimeError("out of memory on day 4")
    yield built, store
    store.close()


@pytest.fixture(scope="module")
def tfx(tmp_path_factory):
    directory = copy_tfx_fixture(tmp_path_factory.mktemp("ol-tfx"))
    store = mlstore.open(str(directory / "metadata.sqlite"))
    yield store
    store.close()


def by_run(events: list[dict]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event)
    return runs


def dataset_roles(event: dict, side: str) -> dict[str, tuple[str, str | None]]:
    """``{role: (dataset name, version)}`` of an event's inputs or outputs."""
    facet = "inputFacets" if side == "inputs" else "outputFacets"
    return {d[facet]["mlstore_role"]["role"]: (d["name"], d["facets"].get("version", {}).get("datasetVersion"))
            for d in event[side]}


def test_demo_store_events_are_valid_openlineage(demo):
    built, store = demo
    executions = store.executions()
    events = as_dicts(ol.run_events(store))
    assert len(events) == 2 * len(executions)
    for event in events:
        validate_event(event)
    namespace = store_namespace(store)
    assert namespace == f"mlstore://{os.uname().nodename}{os.path.realpath(built.uri)}"
    # In execution order, START then the end event of the same run, under one job.
    for execution, (start, end) in zip(executions, zip(events[::2], events[1::2])):
        assert start["eventType"] == "START"
        assert end["eventType"] == ("FAIL" if execution.state == "FAILED" else "COMPLETE")
        assert start["run"]["runId"] == end["run"]["runId"] == run_uuid(namespace, execution)
        assert start["job"] == end["job"]
        assert start["job"] == {"namespace": namespace, "name": f"flights.{execution.type}",
                                "facets": start["job"]["facets"]}
        assert start["eventTime"] <= end["eventTime"]
        assert end["run"]["facets"]["mlstore_execution"]["execution"] == f"execution:{execution.id}"
    assert len(by_run(events)) == len(executions)
    assert as_dicts(ol.run_events(store)) == events  # stable: run ids, times, facets


def test_trainer_run_has_its_datasets_warm_start_and_parent(demo):
    built, store = demo
    namespace = store_namespace(store)
    model = store.artifact(built.model_ids[1])  # day 2's model, warm-started from day 1's
    trainer = store.execution(next(e.execution_id for e in store.events(model) if e.is_output))
    start, complete = \
        [e for e in as_dicts(ol.run_events(store)) if e["run"]["runId"] == run_uuid(namespace, trainer)]
    inputs = {e.role: store.artifact(e.artifact_id) for e in store.events(trainer) if not e.is_output}
    assert set(inputs) == {"examples", "transform_graph", "base_model", "module"}
    expected_inputs = {role: (f"{a.type}/{a.id}", a.digest) for role, a in inputs.items()}
    assert dataset_roles(start, "inputs") == expected_inputs and start["outputs"] == []
    assert dataset_roles(complete, "inputs") == expected_inputs
    assert dataset_roles(complete, "outputs") == {"model": (f"Model/{model.id}", model.digest)}
    assert inputs["base_model"].id == built.model_ids[0]
    output = complete["outputs"][0]
    assert output["namespace"] == namespace
    assert output["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    assert output["facets"]["mlstore_model"]["digest"] == model.digest
    assert output["facets"]["mlstore_model"]["servingDigest"] == model.properties["serving_digest"]
    assert output["facets"]["mlstore_artifact"]["span"] == model.span == 2
    assert output["facets"]["symlinks"]["identifiers"] == [{"namespace": "file", "name": model.uri,
                                                             "type": "DIRECTORY"}]
    facets = complete["run"]["facets"]
    assert facets["mlstore_warmStart"]["baseModel"] == {
        "artifact": f"artifact:{built.model_ids[0]}", "namespace": namespace, "name": f"Model/{built.model_ids[0]}",
        "digest": inputs["base_model"].digest}
    assert facets["parent"]["run"]["runId"] == pipeline_run_uuid(namespace, "flights", "day-00002")
    assert (facets["parent"]["job"]["namespace"], facets["parent"]["job"]["name"]) == (namespace, "flights")
    assert {p["key"]: p["value"] for p in facets["executionParameters"]["parameters"]} == {"epochs": "2",
                                                                                           "lr": "0.01"}
    assert facets["mlstore_execution"]["seeds"] == {"global": 2}
    assert facets["mlstore_execution"]["pipelineRun"] == "day-00002"
    assert facets["processing_engine"]["name"] == "mlstore"
    assert "nominalTime" not in facets  # span 2 is not a date


def test_metrics_and_blessing_facets_equal_the_store(demo):
    built, store = demo
    events = as_dicts(ol.run_events(store, pipeline="flights"))
    seen_metrics, seen_blessings = {}, {}
    for event in events:
        for dataset in event["outputs"]:
            facets = dataset["facets"]
            if "mlstore_evaluation" in facets:
                seen_metrics[facets["mlstore_artifact"]["artifact"]] = facets["mlstore_evaluation"]["metrics"]
            if "mlstore_blessing" in facets:
                seen_blessings[facets["mlstore_artifact"]["artifact"]] = facets["mlstore_blessing"]
    assert set(seen_metrics) == {f"artifact:{i}" for i in built.evaluation_ids}
    for evaluation_id in built.evaluation_ids:
        stored = store.evaluation_metrics(evaluation_id)
        assert seen_metrics[f"artifact:{evaluation_id}"] == stored
        assert len(stored) == 6 and stored["carrier=AA"]["auc_roc"] > 0.5
    decisions = {f"artifact:{b.id}": b for b in store.blessings()}
    assert set(seen_blessings) == set(decisions) == {f"artifact:{i}" for i in built.blessing_ids}
    for ref, facet in seen_blessings.items():
        decision = decisions[ref]
        assert facet["blessed"] is decision.blessed
        assert facet["model"] == f"artifact:{decision.model_id}"
        assert facet.get("baselineModel") == (f"artifact:{decision.baseline_id}" if decision.baseline_id else None)
        assert facet["evaluation"] == f"artifact:{decision.evaluation_id}"
    assert [f["blessed"] for _, f in sorted(seen_blessings.items(), key=lambda kv: int(kv[0].split(":")[1]))] == \
        [True, False, True]


def test_failed_run_is_a_fail_event_with_its_error(demo):
    built, store = demo
    failed = store.executions(state="FAILED")
    assert len(failed) == 1
    events = [e for e in as_dicts(ol.run_events(store)) if e["run"]["runId"] == run_uuid(store_namespace(store),
                                                                                            failed[0])]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    error = events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "RuntimeError: out of memory on day 4" and error["programmingLanguage"] == "python"
    assert "errorMessage" not in events[0]["run"]["facets"]
    assert events[1]["outputs"] == []
    assert dataset_roles(events[1], "inputs") == {"base_model": (f"Model/{built.model_ids[-1]}",
                                                                 store.artifact(built.model_ids[-1]).digest)}


def test_since_and_pipeline_filters(demo):
    built, store = demo
    executions = store.executions()
    cut = executions[5].create_time_ms
    events = as_dicts(ol.run_events(store, since_ms=cut))
    assert len(events) == 2 * sum(1 for e in executions if e.create_time_ms >= cut) > 0
    assert ol.run_events(store, since_ms=executions[-1].create_time_ms + 1) == []
    with pytest.raises(mlstore.errors.NotFound, match="no pipeline 'nope'"):
        ol.run_events(store, pipeline="nope")


def test_tfx_written_store_events(tfx):
    store = tfx
    executions = store.executions()
    events = as_dicts(ol.run_events(store, pipeline=TFX_PIPELINE))
    assert len(executions) == 24 and len(events) == 48
    for event in events:
        validate_event(event)
    runs = by_run(events)
    namespace = store_namespace(store)
    trainer = next(e for e in executions if e.type == "Trainer")
    start, complete = runs[run_uuid(namespace, trainer)]
    assert complete["job"]["name"] == "flights_tfx.Trainer"
    io = {e.role: store.artifact(e.artifact_id) for e in store.events(trainer)}
    assert dataset_roles(complete, "inputs") == {
        role: (f"{io[role].type}/{io[role].id}", store.content_digest(io[role]))
        for role in ("examples", "schema", "transform_graph")}
    outputs = dataset_roles(complete, "outputs")
    assert outputs["model"] == (f"Model/{io['model'].id}", store.content_digest(io["model"]))
    assert outputs["model"][1].startswith("sha256:")  # mlstore's fingerprint of TFX's bytes
    assert set(outputs) == {"model", "model_run"}
    assert outputs["model_run"][1] is None  # an empty ModelRun directory: nothing hashed, no version facet
    schema_input = next(d for d in complete["inputs"] if d["inputFacets"]["mlstore_role"]["role"] == "schema")
    features = [f["name"] for f in schema_input["facets"]["schema"]["fields"]]
    assert features == [f["feature"] for f in store.schema_summary(io["schema"])["features"]]
    assert "carrier" in features
    facets = complete["run"]["facets"]
    assert facets["mlstore_execution"]["mlmdType"] == "tfx.components.trainer.component.Trainer"
    assert facets["parent"]["job"]["name"] == TFX_PIPELINE
    assert {p["key"] for p in facets["executionParameters"]["parameters"]} >= {"train_args", "custom_config"}
    assert "processing_engine" not in facets  # recorded by TFX, not by mlstore
    # TFX records the user module's wheel: the job's source code location.
    module, _, wheel = trainer.properties["module_path"].partition("@")
    assert wheel.endswith(".whl") and module == "flights_tfx_module"
    for event in (start, complete):
        assert event["job"]["facets"]["sourceCodeLocation"] | {"_producer": None} == {
            "_producer": None, "_schemaURL": event["job"]["facets"]["sourceCodeLocation"]["_schemaURL"],
            "type": "wheel", "url": Path(wheel).as_uri(), "path": "flights_tfx_module"}  # percent-encoded
    assert {e["job"]["name"] for e in events if "sourceCodeLocation" in e["job"]["facets"]} == \
        {"flights_tfx.Trainer", "flights_tfx.Transform"}
    names = {e["job"]["name"] for e in events}
    assert "flights_tfx.latest_blessed_model_resolver" in names
    # TFMA's metrics and the Evaluator's blessing, as the store reads them.
    for evaluator in (e for e in executions if e.type == "Evaluator"):
        _, end = runs[run_uuid(namespace, evaluator)]
        outs = {d["outputFacets"]["mlstore_role"]["role"]: d["facets"] for d in end["outputs"]}
        evaluation = next(store.artifact(e.artifact_id) for e in store.events(evaluator) if e.role == "evaluation")
        assert outs["evaluation"]["mlstore_evaluation"]["metrics"] == store.evaluation_metrics(evaluation)
        blessing = next(store.artifact(e.artifact_id) for e in store.events(evaluator) if e.role == "blessing")
        decision = next(b for b in store.blessings() if b.id == blessing.id)
        assert outs["blessing"]["mlstore_blessing"]["blessed"] is decision.blessed
    assert [b.blessed for b in store.blessings()] == [True, True, False]


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()


def test_cli_posts_events_over_http_in_order(demo, receiver, tmp_path):
    built, store = demo
    url = f"http://127.0.0.1:{receiver.server_address[1]}"
    proc = mlstore_cli("openlineage", "export", "--store", built.uri, "--url", url, "--api-key", "s3cret",
                       "--json", check=0)
    summary = json.loads(proc.stdout)
    executions = store.executions()
    assert summary["events"] == len(receiver.received) == 2 * len(executions)
    assert summary["executions"] == len(executions)
    assert {path for path, _, _ in receiver.received} == {"/api/v1/lineage"}
    assert {headers["Authorization"] for _, headers, _ in receiver.received} == {"Bearer s3cret"}
    posted = [body for _, _, body in receiver.received]
    assert posted == as_dicts(ol.run_events(store))  # the same events, in order
    assert [e["eventType"] for e in posted[:2]] == ["START", "COMPLETE"]
    # --out writes the same events as JSON Lines.
    out = tmp_path / "lineage.jsonl"
    text = mlstore_cli("openlineage", "export", "--store", built.uri, "--out", out, check=0).stdout
    assert text.startswith(f"exported {len(posted)} OpenLineage events ({len(executions)} executions) to {out}")
    assert [json.loads(line) for line in out.read_text().splitlines()] == posted
    assert [p.name for p in tmp_path.iterdir()] == ["lineage.jsonl"]  # no staged copy left behind
    # No destination: the events themselves on stdout, filtered.
    lines = mlstore_cli("openlineage", "export", "--store", built.uri, "--pipeline", "flights",
                        "--since", "2000-01-01", check=0).stdout.splitlines()
    assert [json.loads(line) for line in lines] == posted


def test_export_openlineage_is_the_same_command(demo):
    from click.testing import CliRunner  # noqa: PLC0415

    from mlstore.cli import cli  # noqa: PLC0415

    built, _ = demo
    runner = CliRunner()
    new = runner.invoke(cli, ["openlineage", "export", "--store", built.uri, "--pipeline", "flights"])
    old = runner.invoke(cli, ["export", "openlineage", "--store", built.uri, "--pipeline", "flights"])
    assert new.exit_code == old.exit_code == 0, (new.output, old.output)
    assert new.output == old.output and new.output.count("\n") > 10


def test_cli_refused_event_stops_with_exit_2(demo, receiver):
    built, _ = demo
    receiver.fail_after = 3
    proc = mlstore_cli("openlineage", "export", "--store", built.uri, "--url",
                       f"http://127.0.0.1:{receiver.server_address[1]}", check=2)
    assert len(receiver.received) == 4
    assert proc.stderr.count("\n") == 1 and "failed after 3 of" in proc.stderr and "400" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--since", "last tuesday"], "bad --since 'last tuesday'"),
    (["--pipeline", "nope"], "no pipeline 'nope'"),
    (["--out", "x.jsonl", "--url", "http://127.0.0.1:9"], "not both"),
    (["--url", "not a url"], "bad OpenLineage URL"),
    (["--out", "/nonexistent-dir/x.jsonl"], "no directory /nonexistent-dir"),
])
def test_cli_bad_input_is_exit_2_one_line(demo, args, message, capsys, tmp_path, monkeypatch):
    from mlstore.cli import cli  # noqa: PLC0415 - in process: the same entry point, without the start-up cost
    from mlstore.cli._common import run_cli  # noqa: PLC0415

    built, _ = demo
    monkeypatch.chdir(tmp_path)
    assert run_cli(cli, ["openlineage", "export", "--store", built.uri, *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_run_ids_are_uuids_derived_from_the_store_namespace(demo):
    _, store = demo
    execution = store.executions()[0]
    first = run_uuid("mlstore://a/store", execution)
    assert uuid.UUID(first).version == 5
    assert first == run_uuid("mlstore://a/store", execution) != run_uuid("mlstore://b/store", execution)
    events = as_dicts(ol.run_events(store, namespace="marquez-ns"))
    assert {e["job"]["namespace"] for e in events} == {"marquez-ns"}
    assert {d["namespace"] for e in events for d in e["inputs"] + e["outputs"]} == {"marquez-ns"}
    assert all(f["_producer"].startswith("https://mlstore.dev/mlstore/") for e in events for _, _, f in facets_of(e))


def test_the_validator_rejects_broken_events(demo):
    """The schema check can fail: a bad run id, a wrong facet value, an unknown facet schema."""
    from jsonschema import ValidationError  # noqa: PLC0415
    from referencing.exceptions import Unresolvable  # noqa: PLC0415

    _, store = demo
    blessing_event = next(e for e in as_dicts(ol.run_events(store))
                          if any("mlstore_blessing" in d["facets"] for d in e["outputs"]))
    validate_event(blessing_event)
    breakages = [
        lambda e: e["run"].__setitem__("runId", "day-00001"),
        lambda e: e["outputs"][0]["facets"]["mlstore_blessing"].__setitem__("blessed", "yes"),
        lambda e: e["outputs"][0]["facets"]["mlstore_artifact"].__setitem__("digest", "md5:0"),
        lambda e: e["run"]["facets"]["mlstore_execution"].pop("execution"),
        lambda e: e["job"]["facets"]["jobType"].__setitem__(
            "_schemaURL", "https://openlineage.io/spec/facets/9-9-9/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"),
    ]
    for breakage in breakages:
        broken = json.loads(json.dumps(blessing_event))
        breakage(broken)
        with pytest.raises((ValidationError, Unresolvable)):
            validate_event(broken)


@pytest.mark.slow
def test_through_a_server_the_events_are_the_same(demo, tfx):
    """Only the store's public API is read: through a server, an mlstore-written store and a
    TFX-written one give the very same events (TFX's bytes keep their fingerprint digests as
    dataset versions: RemoteStore.content_digest asks the server, RPC GetContentDigest)."""
    from tests.grpc_support import serve  # noqa: PLC0415

    built, store = demo
    for local in (store, tfx):
        expected = as_dicts(ol.run_events(local, namespace="lineage-ns"))
        with serve(local.uri) as (_, target):
            remote = mlstore.open(f"grpc://{target}")
            try:
                assert store_namespace(remote) == f"mlstore+grpc://{target}"
                got = as_dicts(ol.run_events(remote, namespace="lineage-ns"))
            finally:
                remote.close()
        assert got == expected


def test_a_dated_span_is_the_runs_nominal_time(tmp_path):
    from mlstore.openlineage.events import span_date  # noqa: PLC0415

    assert span_date(20130102).isoformat() == "2013-01-02"
    assert span_date(20131302) is None and span_date(3) is None and span_date(None) is None
    store = mlstore.open(str(tmp_path / "store"))
    data = tmp_path / "day"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    with mlstore.run("daily", "ExampleGen", {"day": "2013-01-02"}, store=store, run_id="2013-01-02") as run:
        run.log_artifact(data, "Examples", role="examples", properties={"span": 20130102})
    start, complete = as_dicts(ol.run_events(store))
    for event in (start, complete):
        validate_event(event)
        assert event["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2013-01-02T00:00:00.000Z"
        assert event["run"]["facets"]["nominalTime"]["nominalEndTime"] == "2013-01-03T00:00:00.000Z"
    assert complete["outputs"][0]["facets"]["mlstore_artifact"]["span"] == 20130102
    store.close()


def test_a_built_in_steps_code_is_its_source_code_location(tmp_path):
    """A built-in step records its sources as a blob (``code_blob``) and their digest: the job's
    sourceCodeLocation names that blob in the store, the digest as version."""
    from mlstore import capture  # noqa: PLC0415
    from mlstore.pipeline.executor import code_digest, code_files  # noqa: PLC0415

    store = mlstore.open(str(tmp_path / "store"))
    fn = code_digest  # any function of mlstore's: its package's sources
    files = code_files(fn)
    blob, digest = capture.publish_code(store.blobs, files), code_digest(fn)
    store.log_execution("StatisticsGen", "daily", properties={"code_digest": digest, "code_blob": blob})
    with mlstore.run("daily", "Trainer", {"epochs": 1}, store=store):  # an SDK run: a git commit, no location
        pass
    events = as_dicts(ol.run_events(store))
    for event in events:
        validate_event(event)
    namespace = store_namespace(store)
    built_in, sdk = events[:2], events[2:]
    for event in built_in:
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert (location["type"], location["url"], location["version"]) == ("mlstore", f"{namespace}#blob={blob}",
                                                                            digest)
        assert event["run"]["facets"]["mlstore_execution"]["codeDigest"] == digest
    assert store.blobs.exists(blob) and blob.startswith("sha256:")
    for event in sdk:
        assert "sourceCodeLocation" not in event["job"]["facets"]
        assert "codeDigest" not in event["run"]["facets"]["mlstore_execution"]
    store.close()
