"""Real distributed Beam back ends on 127.0.0.1 for tests and benchmarks, each in its own processes.

* :func:`dask_cluster`: ``dask scheduler`` + N ``dask worker`` processes; yields the
  Beam options for Beam's DaskRunner.
* :func:`portable_job_service`: Beam's Python job service
  (``local_job_service_main``) + an external SDK worker pool (``worker_pool_main``, one
  worker process per bundle stream); yields the Beam options for the PortableRunner.

Both terminate every process they started, also when the body fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import mlstore

REPO_ROOT = str(Path(mlstore.__file__).resolve().parent.parent)
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    """The driver's environment, with this checkout first on the workers' path (they unpickle mlstore code)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Beam's worker pool starts SDK workers as plain `python`: make that this interpreter.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def _start(args: list[str], log: Path) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _wait_port(port: int, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:4]} exited {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def dask_cluster(workers: int = 2, log_dir: str | None = None) -> Iterator[list[str]]:
    """A dask.distributed scheduler and ``workers`` single-threaded worker processes.

    Yields ``["--runner=DaskRunner", "--dask_client_address=tcp://127.0.0.1:PORT"]``.
    """
    from distributed import Client  # noqa: PLC0415

    logs_at = Path(log_dir or tempfile.mkdtemp(prefix="mlstore-dask-"))
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [logs_at / "scheduler.log"]
    procs = [_start([*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], logs[0])]
    try:
        _wait_port(port, procs, logs)
        for n in range(workers):
            logs.append(logs_at / f"worker{n}.log")
            procs.append(_start([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                 "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                                 "--no-dashboard", "--name", f"worker{n}"], logs[-1]))
        with Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT)
        yield ["--runner=DaskRunner", f"--dask_client_address={address}"]
    finally:
        _stop(procs)


@contextlib.contextmanager
def portable_job_service(log_dir: str | None = None) -> Iterator[list[str]]:
    """Beam's Python job service plus an external worker pool, each a separate process.

    Yields ``["--runner=PortableRunner", "--job_endpoint=127.0.0.1:PORT",
    "--environment_type=EXTERNAL", "--environment_config=127.0.0.1:POOL_PORT"]``: the job
    service runs the job and hands bundles to SDK worker processes the pool starts.
    """
    logs_at = Path(log_dir or tempfile.mkdtemp(prefix="mlstore-portable-"))
    job_port, pool_port = free_port(), free_port()
    logs = [logs_at / "job_service.log", logs_at / "worker_pool.log"]
    procs = [
        _start([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                "--port", str(job_port)], logs[0]),
        _start([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                "--service_port", str(pool_port)], logs[1]),
    ]
    try:
        _wait_port(job_port, procs, logs)
        _wait_port(pool_port, procs, logs)
        yield ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job_port}",
               "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{pool_port}"]
    finally:
        _stop(procs)
