"""Shared fixtures: one ``store_uri`` fixture, three backends.

``store_uri`` runs each test against the embedded SQLite store and against fresh
databases on the MariaDB (127.0.0.1:3306) and PostgreSQL (127.0.0.1:5432) servers.
Server-backed runs skip when the server is unreachable, except under CI=true, where
they fail instead (CI must exercise them).
"""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from tests import backends

ALL_BACKENDS = ("sqlite", "mysql", "postgresql")


@pytest.fixture(params=ALL_BACKENDS)
def store_uri(request, tmp_path):
    """A fresh, empty store URI on each backend."""
    yield from backends.fresh_store_uri(request.param, tmp_path)


@pytest.fixture
def sqlite_store_uri(tmp_path):
    """A fresh embedded store (SQLite + local blobs)."""
    return str(tmp_path / "store")


@pytest.fixture
def store(store_uri):
    import mlstore

    s = mlstore.open(store_uri)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_store_uri):
    import mlstore

    s = mlstore.open(sqlite_store_uri)
    yield s
    s.close()


@pytest.fixture
def unique_name():
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def flights_demo(tmp_path_factory):
    """A store filled by a short real run of the main job (``mlstore demo --days 3``).

    Shared by every test that needs demo output; tests that change a store work on a
    copy (:func:`copy_store`).
    """
    import json
    import subprocess
    import sys
    import time

    root = tmp_path_factory.mktemp("flights-demo")
    uri = str(root / "store")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlstore", "demo", "--days", "3", "--store", uri, "--json"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    summary["first_run_seconds"] = time.perf_counter() - t0
    return uri, summary


def copy_store(uri: str, target) -> str:
    """A copy of a directory store (MLMD, index and blobs) to modify freely.

    Copied by another process: closing a file descriptor of a SQLite file releases every
    POSIX lock this process holds on it, so copying a store this process has open (the
    session's demo store) would leave its open connections unlocked against the CLI
    processes the next tests start.
    """
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2], symlinks=True)",
                    str(uri), str(target)], check=True)
    return str(target)


@pytest.fixture
def tfx_store(tmp_path):
    """A private copy of the real-TFX fixture (tests/fixtures/tfx_flights): the path of its
    ``metadata.sqlite``, artifact uris rewritten to the copy (tests/tfx_fixture.py)."""
    from tests.tfx_fixture import copy_tfx_fixture

    return copy_tfx_fixture(tmp_path) / "metadata.sqlite"


STRICT_GATE = """\
version: 1
metrics:
  - name: auc_roc
    lower_bound: 0.999
    slices: [overall]
"""


@pytest.fixture(scope="session")
def demo_history(tmp_path_factory):
    """A store written by the real demo with a history: 4 days (days 2-4 have a baseline),
    then a forced failed gate on the newest model (``mlstore gate`` with a strict spec)
    and a rerun of day 2's Trainer (``mlstore rerun``).

    Returns a dict: uri, summary (the demo's JSON), failed_model (artifact id the strict
    gate failed), rerun (the rerun's JSON report).
    """
    import json
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo-history")
    uri = str(root / "store")

    def cli(*args, ok=(0,)):
        proc = subprocess.run([sys.executable, "-m", "mlstore", *map(str, args)], capture_output=True, text=True,
                              timeout=1800)
        assert proc.returncode in ok, (args, proc.stdout[-2000:], proc.stderr[-3000:])
        return proc

    summary = json.loads(cli("demo", "--days", 4, "--store", uri, "--json").stdout)
    newest = int(summary["newest_model"].split(":")[1])
    spec = root / "strict-gate.yaml"
    spec.write_text(STRICT_GATE)
    cli("gate", "--candidate", f"artifact:{newest}", "--config", spec, "--store", uri, ok=(1,))
    import mlstore

    store = mlstore.open(uri)
    day2 = [e for e in store.executions(type="Trainer", pipeline="flights", state="COMPLETE")
            if e.properties.get("span") == 20130102][0]
    store.close()
    rerun = json.loads(cli("rerun", f"execution:{day2.id}", "--store", uri, "--json").stdout)
    return {"uri": uri, "summary": summary, "failed_model": newest, "rerun": rerun}
