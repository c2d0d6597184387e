"""Issue 18, defect 2: losing (or swapping) the MLMD database is a typed error, not silent data loss."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import mlstore
from mlstore import errors
from mlstore._uri import parse_store_uri
from mlstore.gc import sweep
from mlstore.gc.policy import RetentionPolicy
from mlstore.store import Store

MLSTORE = str(Path(sys.executable).with_name("mlstore"))


def _fill(uri, tmp_path, runs=2):
    store = mlstore.open(uri)
    try:
        for i in range(runs):
            src = tmp_path / f"d{i}"
            src.mkdir(exist_ok=True)
            (src / "rows.csv").write_text(f"x\n{i}\n")
            with mlstore.run("p", "ExampleGen", store=store, run_id=f"r{i}") as r:
                r.log_artifact(src, "Examples", properties={"span": i + 1})
    finally:
        store.close()
    mlstore.open(uri).close()  # a later open records the MLMD fingerprint


def _lose_mlmd(uri):
    """Deletes MLMD's database file, or drops MLMD's tables on a database server."""
    location = parse_store_uri(uri)
    if location.directory is not None:
        os.remove(location.directory / "mlmd.sqlite")
        return
    store = Store(location, check_source=False)
    engine = store.engine
    store.close()
    names = [n for n in inspect(engine).get_table_names() if not n.startswith("mlstore_")]
    with engine.begin() as connection:
        if location.database.dialect == "mysql":
            connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in names:
            quoted = f"`{name}`" if location.database.dialect == "mysql" else f'"{name}"'
            connection.execute(text(f"DROP TABLE {quoted}"))
    engine.dispose()


def _cli(*args):
    return subprocess.run([MLSTORE, *args], capture_output=True, text=True, timeout=300)


def test_a_missing_mlmd_is_a_typed_error_and_reindex_refuses_to_empty_the_index(store_uri, tmp_path):
    _fill(store_uri, tmp_path)
    _lose_mlmd(store_uri)
    with pytest.raises(errors.FailedPrecondition, match="missing or empty.*reindex --force"):
        mlstore.open(store_uri)
    for args in (["ls"], ["verify"], ["gc", "--dry-run", "--keep-days", "1"], ["reindex"]):
        proc = _cli(*args, "--store", store_uri)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "missing or empty" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "reclaim" not in proc.stdout
    # The index still holds the executions: nothing was emptied.
    kept = Store(parse_store_uri(store_uri), check_source=False)
    try:
        assert len(kept.executions()) == 2
        with pytest.raises(errors.FailedPrecondition, match="--force"):
            kept.reindex()
        assert len(kept.executions()) == 2
    finally:
        kept.close()
    proc = _cli("reindex", "--force", "--store", store_uri)
    assert proc.returncode == 0 and "indexed 0 executions" in proc.stdout, proc.stderr
    with mlstore.open(store_uri) as again:
        assert again.executions() == []


def test_another_mlmd_database_is_a_typed_error(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _fill(str(one), tmp_path / "a", runs=1)
    _fill(str(two), tmp_path / "b", runs=1)
    for suffix in ("", "-wal", "-shm"):
        (one / f"mlmd.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(two / "mlmd.sqlite", one / "mlmd.sqlite")
    with pytest.raises(errors.FailedPrecondition, match="different database"):
        mlstore.open(str(one))
    proc = _cli("ls", "--store", str(one))
    assert proc.returncode == 2 and "different database" in proc.stderr


def test_gc_never_sweeps_when_mlmd_vanishes_while_the_store_is_open(sqlite_store_uri, tmp_path):
    from mlstore._mlmd import Metadata

    _fill(sqlite_store_uri, tmp_path)
    store = mlstore.open(sqlite_store_uri)
    try:
        blobs_before = store.blobs.digests()
        assert blobs_before
        for suffix in ("", "-wal", "-shm"):
            (Path(sqlite_store_uri) / f"mlmd.sqlite{suffix}").unlink(missing_ok=True)
        store.metadata = store.source.metadata = Metadata(store.location)  # what the next MLMD call finds
        with pytest.raises(errors.FailedPrecondition, match="missing or empty"):
            sweep.collect(store, RetentionPolicy(keep_days=1, keep_blessed=False, grace_minutes=0))
        assert store.blobs.digests() == blobs_before
    finally:
        store.close()


def test_a_store_from_before_the_fingerprint_still_opens_and_records_it(sqlite_store_uri, tmp_path):
    _fill(sqlite_store_uri, tmp_path)
    engine = create_engine(f"sqlite:///{sqlite_store_uri}/index.sqlite")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM mlstore_store_source"))
    engine.dispose()
    with mlstore.open(sqlite_store_uri) as store:
        assert len(store.executions()) == 2
    os.remove(Path(sqlite_store_uri) / "mlmd.sqlite")
    with pytest.raises(errors.FailedPrecondition, match="built from one holding execution:1"):
        mlstore.open(sqlite_store_uri)
