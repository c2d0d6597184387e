"""proto/README.md is what a client writer reads: its tables and snippets must match the
server. Each test parses the README itself (tables, code blocks) and checks it against
the generated descriptors, mlstore.errors and a real `mlstore serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

import mlstore
from mlstore import errors
from mlstore.server import auth
from mlstore.v1 import ingest_service_pb2, ingest_service_pb2_grpc, store_service_pb2, store_service_pb2_grpc
from tests.grpc_support import build_days, serve

README = (Path(__file__).resolve().parents[2] / "proto" / "README.md").read_text()
def _section(title: str) -> str:
    """The README text under ``## title`` up to the next ``## ``."""
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _table(text: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table in ``text``, header and rule left out."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _code(text: str, language: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", text, re.DOTALL).group(1)


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", cell)


def _services() -> dict[str, object]:
    """Every service the server registers, by name."""
    from mlstore.server.app import _SERVICES  # noqa: PLC0415

    return {name: module.DESCRIPTOR.services_by_name[name] for module, name in _SERVICES}


def test_the_services_table_lists_every_rpc_with_its_scope():
    services = _services()
    rows = {_names(row[0])[0]: row for row in _table(README.split("\nNode references")[0])}
    rows = {name: row for name, row in rows.items() if not name.startswith("grpc.")}
    assert set(rows) == set(services)
    for name, service in services.items():
        documented = {n for n in _names(rows[name][1]) if n[0].isupper()}
        assert documented == {m.name for m in service.methods}, name
        scopes = {m.name: auth.required_scope(f"/mlstore.v1.{name}/{m.name}") for m in service.methods}
        base = max(set(scopes.values()), key=list(scopes.values()).count)  # the service's usual scope
        cell = rows[name][2]
        assert cell.split(";")[0].strip() == base, name
        for scope in set(scopes.values()) - {base}:  # the exceptions, as "`Rpc` scope"
            assert set(re.findall(rf"`(\w+)` {scope}", cell)) == {m for m, s in scopes.items() if s == scope}, name
    scoped = sorted(path.rsplit("/", 1)[1] for path, s in auth.METHOD_SCOPES.items() if s != "read")
    tokens = _section("Tokens")
    assert all(f"{rpc}`" in tokens for rpc in scoped), scoped


def test_the_defaults_table_names_real_rpcs_and_fields():
    methods = {m.name: m for s in _services().values() for m in s.methods}
    rows = _table(_section("Defaults and what each call answers"))
    assert len(rows) >= 10
    for rpc_cell, field_cell, _ in rows:
        for rpc in _names(rpc_cell):
            fields = {f.name for f in methods[rpc].input_type.fields}
            assert set(_names(field_cell)) <= fields, (rpc, _names(field_cell), fields)


def test_the_error_table_lists_every_error_class_with_its_status():
    documented = {row[0].strip("`"): row[1] for row in _table(_section("Errors"))}
    classes = {c.__name__: c.grpc_code.name for c in map(errors.__dict__.get, errors.__all__)
               if c is not errors.MlstoreError}
    assert documented == classes


def test_the_documented_token_table_and_mlstore_token_work(tmp_path, monkeypatch):
    yaml_text = _code(_section("Tokens"), "yaml")
    tokens = re.findall(r"^  (\S+):", yaml_text, re.MULTILINE)
    assert len(tokens) == 3
    table = auth.parse_tokens(yaml_text, "README")  # the exact text, as --tokens FILE or the variable
    assert [table.lookup(t).scopes for t in tokens] == [{"read"}, {"read", "write"}, {"read", "write", "admin"}]
    uri = str(tmp_path / "store")
    with mlstore.open(uri) as store:
        models = build_days(store, 2)
    with serve(uri, env={"MLSTORE_SERVER_TOKENS": yaml_text}) as (_, target):
        with grpc.insecure_channel(target) as channel:
            stub = store_service_pb2_grpc.StoreServiceStub(channel)
            with pytest.raises(grpc.RpcError) as missing:
                stub.GetNewestExecutionId(store_service_pb2.GetNewestExecutionIdRequest())
            assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "MLSTORE_TOKEN" in missing.value.details()
            assert "mlstore-error-class" not in dict(missing.value.trailing_metadata() or ())  # as documented
            ingest = ingest_service_pb2_grpc.IngestServiceStub(channel)
            with pytest.raises(grpc.RpcError) as read_only:
                ingest.LogExecution(ingest_service_pb2.LogExecutionRequest(step="X", pipeline="daily"),
                                    metadata=(("authorization", f"Bearer {tokens[0]}"),))
            assert read_only.value.code() == grpc.StatusCode.PERMISSION_DENIED
        monkeypatch.setenv("MLSTORE_TOKEN", tokens[0])  # what mlstore's own clients read
        with mlstore.open(f"grpc://{target}") as remote:
            assert [m.id for m in remote.daily_models("daily")] == models
        listed = subprocess.run([sys.executable, "-m", "mlstore", "ls", "--type", "Model", "--server", target],
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert {f"artifact:{m}" for m in models} <= set(listed.stdout.split())
        monkeypatch.delenv("MLSTORE_TOKEN")
        with pytest.raises(errors.Unauthenticated), mlstore.open(f"grpc://{target}") as remote:
            remote.daily_models("daily")


def test_the_health_snippet_runs_as_printed_without_mlstore(tmp_path):
    snippet = _code(_section("Health checks without mlstore"), "python")
    assert "127.0.0.1:50051" in snippet and "mlstore" not in snippet
    with serve(str(tmp_path / "store")) as (_, target):
        script = tmp_path / "health.py"
        # `import mlstore` fails in this interpreter: the snippet needs only grpcio and grpcio-health-checking.
        script.write_text("import sys\nsys.modules['mlstore'] = None\n" + snippet.replace("127.0.0.1:50051", target))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "SERVING\n"
