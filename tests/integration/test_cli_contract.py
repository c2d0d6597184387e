"""The CLI contract, local and through `mlstore serve`: every command's exit code and output
are the same with ``--store DIR`` and with ``--server HOST:PORT --token T``.

One store is built (daily runs, two days of StatisticsGen/SchemaGen/ExampleValidator, a
published hub module with a consumer, an evaluated model) and copied byte for byte: side
``side-a`` is opened locally, side ``side-b`` is served by a real ``mlstore serve --tokens``. Each
row of :data:`CONTRACT` runs once on each side, in table order, so the write commands
(gate, rerun, push, hub publish, pin/unpin, gc) leave both copies identical and later
rows read the same content on both. (Two copies rather than one store: a write run on
one side would otherwise be seen by the other, with new ids and "already published".)

stdout must be equal, and stderr too for failures (one line, exit 2 for bad input),
after only these normalisations (:func:`normalised`):

* each side's directory (``.../side-a`` or ``.../side-b``, equal length) -> ``<SIDE>``: artifact
  uris, push destinations and the store path name the copy a side works on;
* ``grpc://HOST:PORT`` -> ``<SIDE>/store``: ``init`` prints the URI it opened;
* JSON ``*_time_ms`` values written during the test -> ``<written during the test>``:
  the two sides write their records at different moments (older times stay exact);
* on stderr only, the store location in a message (``in /path/a/store`` locally,
  ``in the store`` or ``in grpc://...`` from the server, which does not disclose its
  paths) -> ``the store``.

The remote side uses the least scope each row needs (read < write < admin).
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

import mlstore
import mlstore.hub as hub
from mlstore._records import OutputArtifact
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.components.evaluator.layout import EvalResult, SliceResult, write_evaluation
from tests.conftest import copy_store
from tests.data_validation_support import record_days
from tests.grpc_support import ADMIN, GATE_SPEC, READ, WRITE, build_days, serve

SCOPES = {"read": READ, "write": WRITE, "admin": ADMIN}


@dataclass(frozen=True)
class Row:
    argv: str  # formatted with the built store's ids and {side} (the side's directory)
    code: int
    scope: str = "read"


#: Every command, in order: reads of the built store, bad input, then writes (in
#: lockstep on both sides) and reads of what they wrote.
CONTRACT: dict[str, Row] = {
    # -- browsing
    "init": Row("init --json", 0),
    "types": Row("types --json", 0),
    "db-current": Row("db current", 0),
    "ls": Row("ls", 0),
    "ls-json": Row("ls --json", 0),
    "ls-filtered": Row("ls --type Model --state LIVE --limit 2 --json", 0),
    "show-artifact": Row("show artifact:{model}", 0),
    "show-artifact-json": Row("show artifact:{model} --json", 0),
    "show-execution": Row("show execution:{trainer}", 0),
    "show-digest": Row("show {model_digest} --json", 0),
    "lineage": Row("lineage artifact:{model} --depth 3", 0),
    "lineage-json": Row("lineage artifact:{model} --both --type Model --type Examples --json", 0),
    "lineage-dot": Row("lineage artifact:{first_model} --down --dot", 0),
    "verify": Row("verify", 0),
    "verify-json": Row("verify artifact:{model} artifact:{statistics} --json", 0),
    "warm-start": Row("warm-start --pipeline daily", 0),
    "warm-start-json": Row("warm-start --pipeline daily --policy best:auc_roc@carrier=AA --json", 0),
    "warm-start-ranked": Row("warm-start --pipeline daily --ranked --as-of 2013-01-03", 0),
    "warm-start-compatible": Row("warm-start --pipeline daily --require-compatible artifact:{model} --json", 0),
    "warm-start-none-qualifies": Row("warm-start --pipeline daily --policy best:auc_roc@nowhere", 1),
    "diff": Row("diff execution:{first_trainer} execution:{trainer}", 0),
    "diff-json": Row("diff artifact:{first_model} artifact:{model} --json", 0),
    "stats-show": Row("stats show artifact:{statistics} --json", 0),
    "stats-show-span": Row("stats show --span 20130108 --split train", 0),
    "stats-diff": Row("stats diff artifact:{statistics0} artifact:{statistics} --json", 0),
    "stats-diff-text": Row("stats diff artifact:{statistics0} artifact:{statistics} --split train", 0),
    "schema-show": Row("schema show artifact:{schema}", 0),
    "anomalies": Row("anomalies artifact:{anomalies}", 0),
    "anomalies-json": Row("anomalies artifact:{anomalies} --json", 0),
    "hub-search": Row("hub search", 0),
    "hub-search-json": Row("hub search emb --tag embedding --json", 0),
    "hub-show": Row("hub show acme/emb", 0),
    "hub-show-json": Row("hub show acme/emb/1 --json", 0),
    "hub-consumers": Row("hub consumers acme/emb", 0),
    "hub-consumers-json": Row("hub consumers acme/emb/1 --json", 0),
    "pins-empty": Row("pins", 0),
    "gc-dry-run": Row("gc --dry-run --keep-last 2 --grace-minutes 0", 0, "admin"),
    "gc-dry-run-json": Row("gc --dry-run --keep-days 2 --grace-minutes 0 --json", 0, "admin"),
    # the default namespace names the store's path, so the two copies differ: see
    # test_openlineage_export_through_the_server_names_the_served_store for the default
    "openlineage-export": Row("openlineage export --pipeline daily --namespace contract", 0),
    "gate-no-record": Row("gate --candidate artifact:{model} --config {spec} --no-record", 1),
    "gate-no-record-json": Row("gate --candidate artifact:{first_model} --baseline none --config {spec} "
                               "--no-record --json", 0),
    # -- bad input: exit 2, one line on stderr, on both sides
    "show-unknown": Row("show artifact:999999", 2),
    "show-bad-ref": Row("show bogus", 2),
    "show-unknown-execution": Row("show execution:999999 --json", 2),
    "lineage-unknown": Row("lineage artifact:999999", 2),
    "lineage-bad-depth": Row("lineage artifact:{model} --depth -1", 2),
    "verify-unknown": Row("verify artifact:{model} artifact:999999", 2),
    "warm-start-unknown-pipeline": Row("warm-start --pipeline nope", 2),
    "warm-start-bad-policy": Row("warm-start --pipeline daily --policy best:", 2),
    "diff-unknown": Row("diff execution:{trainer} execution:999999", 2),
    "stats-wrong-type": Row("stats show artifact:{model}", 2),
    "anomalies-unknown": Row("anomalies artifact:999999", 2),
    "hub-show-unknown": Row("hub show acme/nope", 2),
    "hub-consumers-unknown": Row("hub consumers acme/nope", 2),
    "hub-consumers-bad-handle": Row("hub consumers x", 2),
    "hub-publish-no-path": Row("hub publish {side}/nowhere --handle acme/x", 2, "write"),
    "gate-unknown": Row("gate --candidate artifact:999999 --config {spec}", 2, "write"),
    "gate-no-evaluation": Row("gate --candidate artifact:{producer_model} --config {spec}", 2, "write"),
    "rerun-unknown": Row("rerun execution:999999", 2, "write"),
    "rerun-artifact": Row("rerun artifact:{model}", 2, "write"),
    "rerun-bad-set": Row("rerun execution:{examplegen} --set nope=1", 2, "write"),
    "push-unblessed": Row("push artifact:{producer_model} --to {side}/serving --name emb", 2, "write"),
    "push-no-savedmodel": Row("push artifact:{model} --to {side}/serving --name m --force", 2, "write"),
    "pin-unknown": Row("pin artifact:999999", 2, "admin"),
    # -- writes, in lockstep, and reads of what they wrote
    "gate-record": Row("gate --candidate artifact:{consumer_model} --baseline none --config {spec} --json", 0,
                       "write"),
    "push": Row("push artifact:{consumer_model} --to {side}/serving --name emb --json", 0, "write"),
    "push-forced": Row("push artifact:{producer_model} --to {side}/serving --name emb --force", 0, "write"),
    "rerun": Row("rerun execution:{examplegen} --json", 0, "write"),
    "rerun-text": Row("rerun execution:{examplegen}", 0, "write"),
    "rerun-differs": Row("rerun execution:{examplegen} --set window_days=2 --json", 1, "write"),
    "hub-publish-existing": Row("hub publish {module} --handle acme/emb --json", 0, "write"),
    "hub-publish": Row("hub publish {module} --handle acme/emb2 --tag carriers --json", 0, "write"),
    "hub-search-after": Row("hub search --json", 0),
    "pin": Row("pin artifact:{first_model} --reason audit", 0, "admin"),
    "pins": Row("pins", 0),
    "pins-json": Row("pins --json", 0),
    "unpin": Row("unpin artifact:{first_model} --json", 0, "admin"),
    "unpin-again": Row("unpin artifact:{first_model}", 0, "admin"),
    "gc": Row("gc --keep-last 2 --grace-minutes 0 --json", 0, "admin"),
    "ls-after": Row("ls --json", 0),
    "show-pushed": Row("show artifact:{pushed_model} --json", 0),
    "lineage-after": Row("lineage artifact:{consumer_model} --down --json", 0),
    "verify-after": Row("verify --json", 0),
}


def _build(directory: Path) -> dict:
    """The store both sides start from; returns the ids the table's rows name."""
    uri = str(directory / "store")
    with mlstore.open(uri) as store:
        models = build_days(store, 4)
        trainers = [e.id for e in store.executions(type="Trainer", pipeline="daily")]
    days = record_days(uri)
    module = hub.export_embedding_module(["AA", "DL", "UA"], np.full((3, 4), 0.5, dtype=np.float32),
                                         directory / "module")
    with mlstore.open(uri) as store:
        with mlstore.run("emb", "EmbeddingTrainer", store=store) as producer:
            producer.log_model(module)
        hub.publish(module, "acme/emb", description="# Carriers\nembeddings", tags=["embedding"], store=store)
        with mlstore.run("flights", "Trainer", store=store) as consumer:
            hub.use(consumer, "acme/emb/1")
            consumer.log_model(module)
        consumer_model = consumer.outputs[0].id
        metrics = {s: {"auc_roc": 0.8, "log_loss": 0.4, "example_count": 100.0}
                   for s in ("Overall", "carrier=AA", "carrier=DL")}
        evaluation = directory / "evaluation"
        write_evaluation(str(evaluation), EvalResult(tuple(SliceResult(k, v) for k, v in metrics.items()), 300, 0,
                                                     {"column": "arr_delay", "op": ">", "threshold": 15.0}))
        blob = store.blobs.publish(evaluation)
        store.log_execution("Evaluator", "flights", inputs=[(consumer_model, "model")], outputs=[OutputArtifact(
            "ModelEvaluation", blob.uri, blob.digest, blob.size, "evaluation",
            {"metrics": json.dumps(metrics, sort_keys=True), "format_version": 1})])
        examplegen = store.events(days[20130107]["examples"].node_id)[0].execution_id
        digest = store.artifact(models[-1]).digest
    (directory / "gate.yaml").write_text(GATE_SPEC)
    return {"model": models[-1], "first_model": models[0], "trainer": trainers[-1], "first_trainer": trainers[0],
            "model_digest": digest[:20],
            "statistics0": days[20130107]["statistics"].id, "statistics": days[20130108]["statistics"].id,
            "schema": days["schema"].id, "anomalies": days[20130108]["anomalies"].id,
            "producer_model": producer.outputs[0].id, "consumer_model": consumer_model,
            "pushed_model": None, "examplegen": examplegen}


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    """(ids, the root holding side-a (local) and side-b (served), the server target, when the copies were made)."""
    root = tmp_path_factory.mktemp("contract")
    ids = _build(root / "built")
    for side in ("side-a", "side-b"):
        copy_store(str(root / "built"), root / side)
        (root / side / "serving").mkdir()
    tokens = root / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {READ: {"name": "ci", "scopes": ["read"]},
                                                 WRITE: {"name": "workers", "scopes": ["write"]},
                                                 ADMIN: {"name": "ops", "scopes": ["admin"]}}}))
    started_ms = int(time.time() * 1000)
    with serve(str(root / "side-b" / "store"), "--tokens", str(tokens), "--push-root", str(root / "side-b" / "serving"),
               "--processes", "1") as (_, target):
        yield ids, root, target, started_ms


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(cli, argv)
    out, err = capsys.readouterr()
    return code, out, err


def normalised(text: str, side_dir: Path, target: str, started_ms: int, *, stderr: bool = False):
    """One side's output with only the differences the module docstring lists taken out."""
    text = text.replace(f"grpc://{target}", f"{side_dir}/store")
    if stderr:
        text = text.replace(f"{side_dir}/store", "the store")
    text = text.replace(str(side_dir), "<SIDE>")
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    return _times(payload, started_ms)


def _times(value, started_ms: int):
    if isinstance(value, dict):
        return {k: "<written during the test>" if k.endswith("_time_ms") and isinstance(v, int) and v >= started_ms
                else _times(v, started_ms) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v, started_ms) for v in value]
    return value


@pytest.mark.parametrize("name", list(CONTRACT))
def test_command_answers_the_same_through_the_server(name, sides, capsys, monkeypatch, tmp_path):
    ids, root, target, started_ms = sides
    monkeypatch.setenv("MLSTORE_TOKEN", "")  # --token sets it for the process; undone after each row
    monkeypatch.setenv("MLSTORE_HUB_CACHE", str(tmp_path / "hub-cache"))
    row = CONTRACT[name]
    if "{pushed_model}" in row.argv:
        with mlstore.open(str(root / "side-a" / "store")) as store:
            ids = {**ids, "pushed_model": store.artifacts(type="PushedModel")[-1].id}
    results = {}
    for side, where in (("side-a", ["--store", str(root / "side-a" / "store")]),
                        ("side-b", ["--server", target, "--token", SCOPES[row.scope]])):
        argv = row.argv.format(side=root / side, spec=root / "built" / "gate.yaml", module=root / "built" / "module",
                               **ids).split()
        code, out, err = _run(capsys, argv + where)
        results[side] = (code, normalised(out, root / side, target, started_ms),
                         normalised(err, root / side, target, started_ms, stderr=True))
    (code_a, out_a, err_a), (code_b, out_b, err_b) = results["side-a"], results["side-b"]
    assert (code_a, code_b) == (row.code, row.code), (err_a, err_b)
    assert out_b == out_a
    if row.code == 2:
        assert err_a.count("\n") == err_b.count("\n") == 1 and err_a.startswith("mlstore: "), (err_a, err_b)
        assert "Traceback" not in err_a + err_b and "internal error" not in err_a + err_b
        assert err_b == err_a
        assert out_a == ""


def test_a_token_without_the_scope_is_refused_in_one_line_before_any_work(sides, capsys, monkeypatch):
    ids, root, target, _ = sides
    monkeypatch.setenv("MLSTORE_TOKEN", "")
    before = _run(capsys, ["ls", "--json", "--server", target, "--token", READ])[1]
    for argv, token in ((["pin", f"artifact:{ids['model']}"], WRITE),
                        (["gc", "--keep-last", "1", "--grace-minutes", "0"], WRITE),
                        (["rerun", f"execution:{ids['examplegen']}"], READ),
                        (["gate", "--candidate", f"artifact:{ids['consumer_model']}", "--baseline", "none",
                          "--config", str(root / "built" / "gate.yaml")], READ)):
        code, out, err = _run(capsys, [*argv, "--server", target, "--token", token])
        assert code == 2 and out == "" and err.count("\n") == 1, (argv, err)
        assert re.search(r"scope|permission|token", err, re.I), err
    assert _run(capsys, ["ls", "--json", "--server", target, "--token", READ])[1] == before


def test_openlineage_export_through_the_server_names_the_served_store(sides, capsys, monkeypatch):
    """Without --namespace, an export through the server gives the very events (namespace,
    hence run ids) an export of the served store's own directory gives, as the server's
    live events do: not a namespace of the client's view, grpc://HOST:PORT."""
    ids, root, target, _ = sides
    monkeypatch.setenv("MLSTORE_TOKEN", "")
    argv = ["openlineage", "export", "--pipeline", "flights"]
    code, remote, err = _run(capsys, [*argv, "--server", target, "--token", READ])
    assert code == 0, err
    code, local, err = _run(capsys, [*argv, "--store", str(root / "side-b" / "store")])
    assert code == 0, err
    events = [json.loads(line) for line in remote.splitlines()]
    assert events and {e["job"]["namespace"] for e in events} == {
        f"mlstore://{socket.gethostname()}{(root / 'side-b' / 'store').resolve()}"}
    assert remote == local


def test_demo_through_a_server_is_refused_in_one_line_before_any_work(sides, capsys, monkeypatch):
    """The demo's steps look up the step cache, which has no RPC: through a server it
    refuses before computing or writing anything, saying why (exit 2, one line)."""
    ids, root, target, _ = sides
    monkeypatch.setenv("MLSTORE_TOKEN", "")
    before = _run(capsys, ["ls", "--json", "--server", target, "--token", READ])[1]
    for flags in ((), ("--no-cache",)):
        code, out, err = _run(capsys, ["demo", "--days", "1", *flags, "--server", target, "--token", WRITE])
        assert (code, out, err.count("\n")) == (2, "", 1) and "not through a server" in err, err
    assert _run(capsys, ["ls", "--json", "--server", target, "--token", READ])[1] == before


def test_the_write_rows_wrote_the_same_on_both_sides(sides):
    """The table's write rows did write (so their equal outputs are not two equal refusals):
    on each copy a recorded blessing, two pushes, three reruns, a second module, a gc sweep."""
    ids, root, _, _ = sides
    if not all(name in CONTRACT for name in ("gate-record", "push", "push-forced", "rerun", "hub-publish", "gc")):
        pytest.skip("the table's write rows were changed")
    states = []
    for side in ("side-a", "side-b"):
        with mlstore.open(str(root / side / "store")) as store:
            blessings = [b for b in store.blessings(model=ids["consumer_model"]) if b.blessed]
            pushed = store.artifacts(type="PushedModel")
            reruns = [e for e in store.executions(type="ExampleGen") if e.properties.get("rerun_of") == ids["examplegen"]]
            modules = sorted(a.name for a in store.artifacts(type="HubModule"))
            deleted = [a.id for a in store.artifacts(state="DELETED")]
            states.append((len(blessings), len(pushed), len(reruns), modules, deleted))
            assert sorted(p.name for p in (root / side / "serving" / "emb").iterdir()) == ["1", "2"]
    assert states[0] == states[1]
    assert states[0][:4] == (1, 2, 3, ["acme/emb/1", "acme/emb2/1"]) and states[0][4], states[0]
