"""`mlstore serve --processes N`: N servers on one port, SIGTERM reaches each, a dead one stops all."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import grpc
import pytest

import mlstore
from mlstore.v1.store_service_pb2 import GetNewestExecutionIdRequest
from mlstore.v1.store_service_pb2_grpc import StoreServiceStub
from tests.grpc_support import MLSTORE, build_days, serve, wait_serving

_LISTEN = "0A"  # TCP state code of a listening socket in /proc/net/tcp*


def listeners(port: int) -> int:
    """Listening sockets on ``port`` (gRPC listens on IPv6 with v4-mapped addresses; the
    parent's reserved socket never listens)."""
    rows = [row.split() for name in ("tcp", "tcp6") for row in Path(f"/proc/net/{name}").read_text().splitlines()[1:]]
    return sum(1 for row in rows if int(row[1].rsplit(":", 1)[1], 16) == port and row[3] == _LISTEN)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("procs") / "store")
    with mlstore.open(uri) as store:
        build_days(store, 2)
    return uri


def test_processes_share_the_port_and_stop_on_sigterm(store_uri):
    with serve(store_uri, "--processes", "2", "--grace", "2") as (proc, target):
        port = int(target.rsplit(":", 1)[1])
        workers = children(proc.pid)
        assert len(workers) == 2 and listeners(port) == 2
        for _ in range(6):  # new connections land on either process; each answers
            with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                info = StoreServiceStub(channel).GetNewestExecutionId(GetNewestExecutionIdRequest(), timeout=10)
                assert info.execution_id == 10
        with mlstore.open(f"grpc://{target}") as remote:
            assert remote.pipelines() == ["daily"]
        wait_serving(target)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    assert listeners(port) == 0


def test_a_dead_process_stops_the_server(store_uri):
    with serve(store_uri, "--processes", "2", "--grace", "1") as (proc, target):
        workers = children(proc.pid)
        subprocess.run(["kill", "-KILL", str(workers[0])], check=True)
        assert proc.wait(30) == 2  # Unavailable: a process manager restarts the whole server
        assert "a server process died" in proc.stderr.read()
        assert not Path(f"/proc/{workers[1]}").exists()


def test_a_start_up_error_in_the_processes_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([MLSTORE, "serve", "--store", "grpc://127.0.0.1:1", "--processes", "2", "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith("mlstore: mlstore serve needs a local or database store")
