"""A first attach of a big TFX store fingerprints its bytes in a second process while the
index is built (mlstore.index.fingerprints.BulkFingerprints): every artifact is still
fingerprinted once, with the same digest an inline fingerprint gives, and verify uses them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

import mlstore
from mlstore.index import fingerprints, sync
from mlstore.index import tables as t

ROOT = Path(__file__).resolve().parents[2]


DAYS = 130  # 1,040 executions: more than a rebuild fingerprints inline


@pytest.fixture(scope="module")
def big_tfx(tmp_path_factory) -> Path:
    """A generated TFX store nobody has attached yet (tests attach copies of its metadata.sqlite)."""
    assert DAYS * 8 > sync._BULK_FROM
    out = tmp_path_factory.mktemp("big") / "tfx"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_tfx_store.py"), "--out", str(out),
                    "--days", str(DAYS)], check=True, capture_output=True, timeout=600)
    return out / "metadata.sqlite"


def _copy(big_tfx: Path, directory: Path) -> Path:
    directory.mkdir()
    shutil.copy(big_tfx, directory / "metadata.sqlite")  # uris are absolute: the bytes stay where they are
    return directory / "metadata.sqlite"


def test_first_attach_of_a_big_store_fingerprints_every_artifact_once(big_tfx, tmp_path):
    store = mlstore.open(str(_copy(big_tfx, tmp_path / "a")), read_roots=[str(big_tfx.parent)])
    with store.engine.connect() as connection:
        rows = connection.execute(select(t.fingerprint.c.artifact_id, t.fingerprint.c.digest)).all()
        uris = dict(connection.execute(select(t.artifact.c.id, t.artifact.c.uri)).all())
    recorded = dict(rows)
    assert len(rows) == len(recorded)  # once each, although later runs read earlier runs' models
    with_bytes = {i for i, uri in uris.items()  # TFX leaves some directories empty (ModelRun)
                  if any(files for _, _, files in os.walk(Path(uri).resolve()))}
    assert set(recorded) == with_bytes and len(with_bytes) > 1000
    for artifact_id in sorted(with_bytes)[::97]:  # the same digests as an inline fingerprint
        assert fingerprints.take(artifact_id, uris[artifact_id]).digest == recorded[artifact_id]
    report = store.check_bytes()
    assert len(report.corrupted) == 0 and report.hashed >= len(with_bytes)
    store.close()


def test_a_script_without_a_main_guard_runs_once_when_its_first_attach_fingerprints_in_a_helper(big_tfx, tmp_path):
    # A multiprocessing (spawn) helper imports the caller's __main__ again: an unguarded
    # script then ran twice (and the second run's fingerprints collided with the first's).
    metadata = _copy(big_tfx, tmp_path / "a")
    script = tmp_path / "attach.py"
    script.write_text(textwrap.dedent(f"""
        import mlstore
        print("top level", flush=True)
        store = mlstore.open({str(metadata)!r})
        print("executions", len(store.executions()), flush=True)
        store.close()
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["top level", f"executions {DAYS * 8}"]
    store = mlstore.open(str(metadata))
    with store.engine.connect() as connection:
        assert connection.scalar(select(t.fingerprint.c.artifact_id).limit(1)) is not None
    store.close()


def test_first_attach_index_statements_per_page_are_bounded(big_tfx, tmp_path):
    # The index build reads and writes per page of executions, never per record: the
    # statement count grows with the pages, not with the 1,040 executions' 2,080 artifacts.
    statements = []
    here = str(tmp_path)

    def count(conn, cursor, statement, parameters, context, executemany):
        # This attach's engines only (its index and its MLMD file): other tests' stores that
        # still follow their MLMD in this process run statements of their own meanwhile.
        if here in str(conn.engine.url):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        store = mlstore.open(str(_copy(big_tfx, tmp_path / "a")))
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(store.executions()) == DAYS * 8
    store.close()
    pages = -(-DAYS * 8 // sync._MLMD_PAGE)
    # The new index's schema (the migration chain: DDL and alembic's bookkeeping) is a
    # constant of its own; the rest is the build: 67 statements for these 3 pages.
    schema = ("CREATE ", "DROP ", "ALTER ", "PRAGMA ")
    build = [s for s in statements if not s.lstrip().upper().startswith(schema) and "alembic_version" not in s]
    assert len(build) <= 40 + 15 * pages, len(build)


def test_a_helper_that_dies_leaves_its_pages_to_this_process(tmp_path):
    store = mlstore.open(str(tmp_path / "store"))
    pairs = []
    for i in range(1, 41):
        directory = tmp_path / "bytes" / str(i)
        directory.mkdir(parents=True)
        (directory / "data.bin").write_bytes(os.urandom(64) * i)
        pairs.append((i, str(directory)))
    with fingerprints.BulkFingerprints(store.engine) as bulk:
        assert bulk._proc is not None
        bulk._proc.kill()
        for k in range(0, len(pairs), 10):
            bulk.add(pairs[k:k + 10])
    recorded = fingerprints.recorded(store.engine, [i for i, _ in pairs])
    assert {i: fp.digest for i, fp in recorded.items()} == {
        i: fingerprints.take(i, uri).digest for i, uri in pairs}
    assert bulk.taken == len(pairs)
    store.close()
