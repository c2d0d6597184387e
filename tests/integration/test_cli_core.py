"""The CLI contract: --json everywhere, exit 0/1/2, one line on stderr."""

import json
import os
import subprocess
import sys

import pytest

import mlstore
from tests.integration.test_store_core import log_day


def mlstore_cli(*args, store=None, check=None):
    env = {**os.environ, "MLSTORE_URI": str(store)} if store else dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "mlstore", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def filled(sqlite_store_uri, tmp_path):
    store = mlstore.open(sqlite_store_uri)
    model = None
    for day in (1, 2):
        _, model, _ = log_day(store, tmp_path, day, model)
    store.close()
    return sqlite_store_uri, model


def test_ls_show_lineage_json(filled):
    uri, model = filled
    artifacts = json.loads(mlstore_cli("ls", "--json", store=uri, check=0).stdout)
    assert {"id", "type", "uri", "digest", "create_time_ms", "properties"} <= set(artifacts[0])
    assert [a["type"] for a in artifacts].count("Model") == 2
    models = json.loads(mlstore_cli("ls", "--type", "Model", "--json", "--store", uri, check=0).stdout)
    assert [m["id"] for m in models][-1] == f"artifact:{model.id}"
    shown = json.loads(mlstore_cli("show", f"artifact:{model.id}", "--json", store=uri, check=0).stdout)
    assert shown["type"] == "Model" and shown["events"]
    by_digest = json.loads(mlstore_cli("show", model.digest[:20], "--json", store=uri, check=0).stdout)
    assert by_digest["id"] == f"artifact:{model.id}"
    graph = json.loads(mlstore_cli("lineage", f"artifact:{model.id}", "--up", "--json", store=uri, check=0).stdout)
    assert {"id", "kind", "type", "name"} <= set(graph["nodes"][0])
    assert {"source", "target", "event_type", "role"} <= set(graph["edges"][0])
    dot = mlstore_cli("lineage", f"artifact:{model.id}", "--dot", store=uri, check=0).stdout
    assert dot.startswith("digraph lineage")
    text = mlstore_cli("lineage", f"artifact:{model.id}", "--down", store=uri, check=0).stdout
    assert "evaluation" in text


def test_verify_exit_1_names_the_corrupted_artifact(filled):
    uri, model = filled
    mlstore_cli("verify", store=uri, check=0)
    stored = mlstore.open(uri).local_path(model)
    target = os.path.join(stored, "Format-Serving", "saved_model.pb")  # log_model lays it out as TFX does
    os.chmod(target, 0o644)
    data = bytearray(open(target, "rb").read())
    data[0] ^= 1
    open(target, "wb").write(bytes(data))
    proc = mlstore_cli("verify", "--json", store=uri, check=1)
    report = json.loads(proc.stdout)
    assert list(report["corrupted"]) == [f"artifact:{model.id}"]
    assert f"artifact:{model.id}" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["show", "artifact:999"], "does not exist"),
    (["show", "sha256:zz"], "bad digest prefix"),
    (["show", "model-7"], "bad node id"),
    (["lineage", "artifact:1", "--depth", "-3"], "--depth"),
    (["lineage", "artifact:1", "--type", "Nope"], "unknown type"),
    (["ls", "--type", "Nope"], "unknown artifact type"),
    (["ls", "--store", "ftp://nowhere/x"], "unknown scheme"),
    (["ls", "--store", "mysql://u:p@127.0.0.1:1/db?artifact_root=/tmp/x"], "cannot open ML Metadata"),
    (["frobnicate"], "No such command"),
])
def test_errors_exit_2_with_one_line(filled, args, message):
    uri, _ = filled
    proc = mlstore_cli(*args, store=uri, check=2)
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_query_commands_do_not_create_a_missing_store(tmp_path):
    missing = tmp_path / "nowhere"
    for args in (["ls"], ["lineage", "artifact:1"], ["verify"], ["gc", "--dry-run", "--keep-days", "1"]):
        proc = mlstore_cli(*args, "--store", missing, check=2)
        assert "no store at" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not missing.exists()


def test_debug_shows_traceback(filled):
    uri, _ = filled
    proc = mlstore_cli("--debug", "show", "artifact:999", store=uri, check=2)
    assert "Traceback" in proc.stderr


def test_init_and_db_commands(tmp_path):
    uri = tmp_path / "fresh"
    out = json.loads(mlstore_cli("db", "upgrade", "--json", "--store", uri, check=0).stdout)
    assert out["to"] == out["to"] and out["from"] is None
    mlstore_cli("init", "--store", uri, check=0)
    current = json.loads(mlstore_cli("db", "current", "--json", "--store", uri, check=0).stdout)
    assert current["revision"] == current["head"]
    assert json.loads(mlstore_cli("reindex", "--json", "--store", uri, check=0).stdout) == {"executions_indexed": 0}
