"""Issue 18, defect 6: the MLMD chokepoint retries aborted transactions; a run whose write
finally fails is recorded FAILED, not lost.

The contention is real: another process holds SQLite's write lock on ``mlmd.sqlite``
(``BEGIN EXCLUSIVE``) for longer than MLMD's own retries last, which makes MLMD raise
AbortedError ("Concurrent writes aborted after max number of retries").
"""

import logging
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from ml_metadata import errors as mlmd_errors

import mlstore
from mlstore import _mlmd, errors


@contextmanager
def mlmd_locked(store_dir, seconds):
    """Holds the write lock of the store's MLMD database from another process for ``seconds``
    (or until the yielded ``release`` is called)."""
    holder = subprocess.Popen([sys.executable, "-c", """
import select, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute('BEGIN EXCLUSIVE')
print('locked', flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
c.execute('COMMIT')
""", f"{store_dir}/mlmd.sqlite", str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def release():
        holder.stdin.write("release\n")
        holder.stdin.flush()
        holder.wait(30)

    try:
        assert holder.stdout.readline().strip() == "locked"
        yield release
    finally:
        if holder.poll() is None:
            release()


class _OnRecord(logging.Handler):
    """Calls ``action`` when the SDK says it records a run FAILED after its write failed."""

    def __init__(self, action):
        super().__init__(logging.WARNING)
        self.action, self.fired = action, False

    def emit(self, record):
        if "recording it FAILED" in record.getMessage() and not self.fired:
            self.fired = True
            self.action()


def _run(store, tmp_path, name):
    src = tmp_path / name
    src.mkdir()
    (src / "rows.csv").write_text(f"x\n{name}\n")
    with mlstore.run("p", "ExampleGen", store=store, run_id=name) as r:
        r.log_artifact(src, "Examples", properties={"span": 1})
    return r


def test_a_write_aborted_by_a_concurrent_writer_is_retried_until_it_succeeds(sqlite_store_uri, tmp_path):
    with mlstore.open(sqlite_store_uri) as store:
        _run(store, tmp_path, "warm")  # registers types and contexts
        # Longer than MLMD gives a busy database itself (its client retries put_lineage_subgraph
        # 5 times, ~16 s here): without the chokepoint's own retries this run is lost.
        with mlmd_locked(sqlite_store_uri, 22.0):
            t0 = time.perf_counter()
            run = _run(store, tmp_path, "during")
            waited = time.perf_counter() - t0
        assert waited > 20.0  # it really waited for the lock
        assert store.execution(run.execution_id).state == "COMPLETE"
        assert [e.state for e in store.executions()] == ["COMPLETE", "COMPLETE"]


def test_a_run_whose_write_finally_fails_is_recorded_failed(sqlite_store_uri, tmp_path, monkeypatch):
    monkeypatch.setattr(_mlmd, "RETRY_ATTEMPTS", 1)  # no retry: the write gives up with MLMD, after ~1.5 s
    with mlstore.open(sqlite_store_uri) as store:
        _run(store, tmp_path, "warm")
        with mlmd_locked(sqlite_store_uri, 120) as release:
            # The lock goes once the COMPLETE write has failed, so the FAILED record can be written.
            handler = _OnRecord(release)
            logging.getLogger("mlstore.sdk").addHandler(handler)
            try:
                with pytest.raises(errors.Aborted, match="Concurrent writes aborted"):
                    _run(store, tmp_path, "lost")
            finally:
                logging.getLogger("mlstore.sdk").removeHandler(handler)
            assert handler.fired
        failed = [e for e in store.executions() if e.state == "FAILED"]
        assert len(failed) == 1
        assert "recording the run failed: Aborted" in failed[0].properties["error"]
        [abandoned] = [a for a in store.artifacts() if a.state != "LIVE"]
        assert abandoned.state == "ABANDONED"
        assert store.events(failed[0].node_id)[0].artifact_id == abandoned.id


def test_every_mlmd_status_error_maps_to_a_typed_error():
    statuses = [getattr(mlmd_errors, n) for n in dir(mlmd_errors)
                if n.endswith("Error") and n != "StatusError"]
    assert len(statuses) == 16
    for status in statuses:
        typed = _mlmd.typed_error(status("boom"))
        assert type(typed) is not errors.MlstoreError, status
        assert isinstance(typed, errors.MlstoreError)
    assert isinstance(_mlmd.typed_error(mlmd_errors.AbortedError("x")), errors.Aborted)
    assert isinstance(_mlmd.typed_error(mlmd_errors.DataLossError("x")), errors.IntegrityError)
