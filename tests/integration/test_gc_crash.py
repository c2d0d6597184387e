"""gc under fire: SIGKILL midway (then another gc), and gc while a pipeline logs new days."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb
from sqlalchemy import select

import mlstore
from mlstore import gc
from mlstore.gc.inventory import Inventory
from mlstore.index.run_blobs import run_blob_digests
from mlstore.gc.sweep import PAUSE_ENV
from mlstore.index.gc_tables import gc_intent
from tests.integration.test_gc_daily import log_days

DAYS = 20
REPO = Path(__file__).resolve().parents[2]
MLSTORE = str(Path(sys.executable).with_name("mlstore"))
POLICY = gc.make_policy({"keep_days": 3, "grace_minutes": 0})


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("gc-crash-template") / "store"
    store = mlstore.open(str(root))
    log_days(store, 1, DAYS)
    return root


def _copy(template, tmp_path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(template, target)
    return target


def _kill_after(command: list[str], marker: str, count: int, env: dict) -> list[str]:
    """Starts ``command``, SIGKILLs it once ``marker`` appeared ``count`` times on stderr."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **env}, cwd=REPO)
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if sum(marker in s for s in seen) >= count:
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    return seen


def assert_consistent(store, reclaimed: set[int]) -> None:
    """No LIVE artifact without bytes, no unreferenced blob, MLMD and index agree."""
    assert store.verify() == {}
    index_states = {a.id: a.state for a in store.artifacts()}
    mlmd_states = {a.id: pb.Artifact.State.Name(a.state) for a in store.metadata.raw.get_artifacts()}
    assert index_states == mlmd_states
    assert {i for i, s in index_states.items() if s == "DELETED"} == reclaimed
    with store.engine.connect() as connection:
        assert connection.scalars(select(gc_intent.c.artifact_id)).all() == []
    referenced = {a.digest for a in store.artifacts() if a.state != "DELETED"}
    with store.engine.connect() as connection:
        referenced |= run_blob_digests(connection)  # runs' package lists
    inventory = Inventory(store.blobs)
    assert set(inventory.complete_digests()) == referenced
    assert inventory.incomplete() == []


def test_sigkill_mid_sweep_then_gc_again(template, tmp_path):
    root = _copy(template, tmp_path)
    reclaim = {a.id for a in gc.make_plan(mlstore.open(str(root)), POLICY).reclaim}
    seen = _kill_after([MLSTORE, "gc", "--keep-days", "3", "--grace-minutes", "0", "--store", str(root)],
                       "swept sha256:", 3, {PAUSE_ENV: "0.3", "MLSTORE_URI": ""})
    assert any("marked" in s for s in seen)
    store = mlstore.open(str(root))
    assert store.verify() == {}  # even before the second gc: marked first, bytes after
    gc.collect(store, POLICY)
    assert_consistent(store, reclaim)


def test_sigkill_mid_mark_then_gc_again(template, tmp_path):
    root = _copy(template, tmp_path)
    reclaim = {a.id for a in gc.make_plan(mlstore.open(str(root)), POLICY).reclaim}
    script = textwrap.dedent(f"""
        import sys, mlstore
        from mlstore import gc
        store = mlstore.open({str(root)!r})
        policy = gc.make_policy({{"keep_days": 3, "grace_minutes": 0}})
        gc.collect(store, policy, batch_size=4, progress=lambda line: print(line, file=sys.stderr, flush=True))
    """)
    seen = _kill_after([sys.executable, "-c", script], "marked", 2, {PAUSE_ENV: "0.3"})
    assert not any("swept" in s for s in seen)
    store = mlstore.open(str(root))
    assert store.verify() == {}
    partly = {a.id for a in store.artifacts(state="DELETED")}
    assert 0 < len(partly) < len(reclaim)
    result = gc.collect(store, POLICY)
    assert result.bytes_freed > 0
    assert_consistent(store, reclaim)


def test_incomplete_blob_is_swept_only_after_the_grace_period(tmp_path):
    store = mlstore.open(str(tmp_path / "s"))
    log_days(store, 1, 2)
    source = tmp_path / "orphan.txt"
    source.write_text("bytes whose manifest is gone")
    blob = store.blobs.publish(source)
    inventory = Inventory(store.blobs)
    os.remove(f"{inventory.base}/manifests/{blob.digest[7:]}")  # what a kill between the two deletes leaves
    young = gc.collect(store, gc.make_policy({"keep_days": 5, "grace_minutes": 1}))
    assert [b.digest for b in young.plan.deferred] == [blob.digest] and young.swept == []
    result = gc.collect(store, gc.make_policy({"keep_days": 5, "grace_minutes": 0}))
    assert [b.digest for b in result.swept] == [blob.digest] and result.bytes_freed == blob.size
    assert inventory.incomplete() == [] and store.verify() == {}


def test_gc_while_a_pipeline_logs_new_days(template, tmp_path):
    root = _copy(template, tmp_path)
    old = time.time() - 3 * 3600  # the template's days are hours old, as in a real store
    for path in (root / "blobs").rglob("*"):
        os.utime(path, (old, old), follow_symlinks=False)
    logger = subprocess.Popen([sys.executable, str(REPO / "tests/integration/test_gc_daily.py"), str(root),
                               str(DAYS + 1), str(DAYS + 10)], cwd=REPO, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO), "MLSTORE_URI": ""})
    store = mlstore.open(str(root))
    policy = gc.make_policy({"keep_days": 3, "grace_minutes": 1})  # the logger's blobs are younger
    runs, swept = 0, 0
    while logger.poll() is None or runs < 2:
        result = gc.collect(store, policy)
        runs, swept = runs + 1, swept + len(result.swept)
        assert store.verify() == {}
    assert logger.wait(timeout=120) == 0, logger.stderr.read()
    print(f"gc runs during logging: {runs}, blobs swept: {swept}")
    assert runs >= 2 and swept > 0
    gc.collect(store, policy)
    assert store.verify() == {}
    logged = [a for a in store.artifacts() if a.span and a.span > DAYS]
    assert len(logged) == 10 * 5 + 2  # 5 artifacts a day, and PushedModels on days 25 and 30
    assert all(a.state == "LIVE" for a in logged if a.span > DAYS + 10 - 3)
    assert gc.make_plan(store, policy).reclaim == ()  # everything the policy drops is gone
