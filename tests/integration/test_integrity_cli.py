"""Issue 18, defects 3, 7 and 8 at the CLI and gRPC surface: typed one-line errors, a
self-repairing index, and a whole-store verify that carries on past a bad entry."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlstore
from mlstore import errors
from mlstore.blobs import MANIFEST_HEADER
from mlstore.client import RemoteStore
from tests.grpc_support import serve

MLSTORE = str(Path(sys.executable).with_name("mlstore"))
HUGE = "9" * 5000


def _cli(*args):
    return subprocess.run([MLSTORE, *args], capture_output=True, text=True, timeout=300)


def _one_line_error(proc, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    return proc.stderr


def _fill(uri, tmp_path, runs=3):
    with mlstore.open(uri) as store:
        for i in range(runs):
            src = tmp_path / f"d{i}"
            src.mkdir(exist_ok=True)
            (src / "rows.csv").write_text(f"x\n{i}\n")
            with mlstore.run("p", "ExampleGen", store=store, run_id=f"r{i}") as r:
                r.log_artifact(src, "Examples", properties={"span": i + 1})
    mlstore.open(uri).close()


def test_huge_ids_are_invalid_arguments(store_uri, tmp_path):
    _fill(store_uri, tmp_path, runs=1)
    for args in (["show", f"artifact:{HUGE}"], ["lineage", f"execution:{HUGE}"], ["verify", f"artifact:{HUGE}"],
                 ["show", f"artifact:{'9' * 20}"]):
        assert "bad node id" in _one_line_error(_cli(*args, "--store", store_uri))
    with mlstore.open(store_uri) as store:
        for call in (lambda: store.artifact(10 ** 5000), lambda: store.execution(10 ** 5000),
                     lambda: store.artifact(f"artifact:{HUGE}"), lambda: store.lineage(f"artifact:{HUGE}")):
            with pytest.raises(errors.InvalidArgument):
                call()


def test_huge_ids_through_grpc_are_invalid_arguments(sqlite_store_uri, tmp_path):
    _fill(sqlite_store_uri, tmp_path, runs=1)
    with serve(sqlite_store_uri) as (_, target), RemoteStore(target) as remote:
        for call in (lambda: remote.artifact(f"artifact:{HUGE}"), lambda: remote.resolve(f"execution:{HUGE}"),
                     lambda: remote.lineage(f"artifact:{HUGE}")):
            with pytest.raises(errors.InvalidArgument, match="bad node id"):
                call()
        assert remote.pipelines() == ["p"]  # the server is fine


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_damaged_index_is_reported_then_moved_aside_and_rebuilt(sqlite_store_uri, tmp_path, damage):
    _fill(sqlite_store_uri, tmp_path, runs=3)
    index = Path(sqlite_store_uri) / "index.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    size = index.stat().st_size
    with open(index, "r+b") as f:
        if damage == "header":
            f.write(b"this is not a database" * 10)
        else:  # keep the header, overwrite every page after the first
            f.seek(4096)
            f.write(os.urandom(size - 4096))
    for args in (["ls"], ["verify"], ["show", "artifact:1"], ["gc", "--dry-run", "--keep-days", "1"]):
        message = _one_line_error(_cli(*args, "--store", sqlite_store_uri))
        assert "mlstore reindex" in message and "damaged" in message, message
    proc = _cli("reindex", "--store", sqlite_store_uri)
    assert proc.returncode == 0 and "indexed 3 executions" in proc.stdout, proc.stderr
    assert "moved it to index.sqlite.corrupt-" in proc.stderr
    assert [p.name for p in Path(sqlite_store_uri).glob("index.sqlite.corrupt-*")]
    with mlstore.open(sqlite_store_uri) as store:
        assert len(store.executions()) == 3 and store.verify() == {}


def test_whole_store_verify_reports_a_bad_manifest_and_carries_on(sqlite_store_uri, tmp_path):
    """Defect 3 as found: a manifest v1 could not hold a name with a newline, and one such
    blob stopped `mlstore verify` for the whole store with a ValueError."""
    _fill(sqlite_store_uri, tmp_path, runs=3)
    with mlstore.open(sqlite_store_uri) as store:
        first, second, third = store.artifacts()
        assert (first.digest, second.digest) != (third.digest, third.digest)
    hexd = second.digest[len("sha256:"):]
    manifest = Path(sqlite_store_uri) / "blobs" / "manifests" / hexd
    os.chmod(manifest, 0o644)
    manifest.write_text(f"{MANIFEST_HEADER}\n4\t{'0' * 64}\tname\nwith-a-newline\n")
    proc = _cli("verify", "--store", sqlite_store_uri)
    assert proc.returncode == 1, proc.stderr
    assert f"{second.node_id}:" in proc.stdout and "altered" in proc.stdout
    assert str(first.node_id) not in proc.stdout and str(third.node_id) not in proc.stdout
    assert "1 corrupted artifact(s)" in proc.stderr


def test_a_name_with_a_newline_is_stored_read_back_and_verified(sqlite_store_uri, tmp_path):
    src = tmp_path / "odd"
    src.mkdir()
    for name in ("a\nb.txt", "c\rd.txt", "e\x0cf.txt", "g\u2028h.txt"):
        (src / name).write_text(name)
    with mlstore.open(sqlite_store_uri) as store:
        with mlstore.run("p", "ExampleGen", store=store) as r:
            r.log_artifact(src, "Examples")
        [artifact] = store.artifacts()
        path = Path(store.local_path(artifact))
        assert sorted(p.name for p in path.iterdir()) == sorted(["a\nb.txt", "c\rd.txt", "e\x0cf.txt", "g\u2028h.txt"])
        assert (path / "a\nb.txt").read_text() == "a\nb.txt"
    proc = _cli("verify", "--store", sqlite_store_uri)
    assert proc.returncode == 0 and "1 artifacts hashed, 1 verified" in proc.stdout, proc.stderr


def test_a_grpc_handle_with_a_local_store_is_refused(sqlite_store_uri, tmp_path):
    _fill(sqlite_store_uri, tmp_path, runs=1)
    for args in (["hub", "show", "grpc://127.0.0.1:9/acme/emb/1"], ["hub", "consumers", "grpc://127.0.0.1:9/acme/emb"]):
        message = _one_line_error(_cli(*args, "--store", sqlite_store_uri))
        assert "names the server 127.0.0.1:9" in message
