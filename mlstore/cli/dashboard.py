"""``mlstore dashboard``: launches the Streamlit dashboard on a store or a server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

import mlstore
from mlstore import errors
from mlstore.cli._common import Context, store_options, stderr


def app_path() -> Path:
    """The dashboard's entry script, shipped in the package as ``mlstore/_dashboard/app.py``.

    Raises:
        FailedPrecondition: it is missing (a wheel built without the dashboard).
    """
    app = Path(mlstore.__file__).resolve().parent / "_dashboard" / "app.py"
    if not app.is_file():
        raise errors.FailedPrecondition(f"the dashboard is not installed ({app} is missing): reinstall mlstore")
    return app


def streamlit_command(app: Path, store_uri: str | None, port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line (the store URI also goes after ``--`` for the app),
    run by :mod:`mlstore._dashboard.serve`."""
    # mlstore._dashboard.serve is `streamlit run` with mlstore imported and the store opened first.
    command = [sys.executable, "-m", "mlstore._dashboard.serve", "run", str(app),
               "--server.port", str(port), "--server.address", address, "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               # "minimal": no "Deploy" button (this is a local viewer, not an app to publish).
               "--client.toolbarMode", "minimal"]
    return command + (["--", "--store", store_uri] if store_uri else [])


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Runs streamlit until it exits; SIGTERM/SIGINT to this process stop it too (no orphan server)."""
    proc = subprocess.Popen(command, env=env)
    stopped = []

    def stop(*_) -> None:
        stopped.append(True)
        proc.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        stop()
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if stopped else code


@click.command("dashboard")
@store_options
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="HTTP port.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
def dashboard(ctx: Context, port: int, address: str) -> None:
    """Serve the dashboard: models over time, lineage, runs, modules and gates.

    The store is opened once first, so a bad URI fails here (exit 2) instead of in the browser.
    """
    # Opening validated the URI and migrations; one cheap query checks a grpc:// server answers.
    try:
        ctx.store.newest_execution_id()
    finally:
        ctx.store.close()  # typed errors exit 2
    app = app_path()
    env = dict(os.environ)
    if ctx.store_uri:
        env["MLSTORE_URI"] = ctx.store_uri
    stderr.print(f"mlstore dashboard on http://{address}:{port} (store {ctx.store_uri or './.mlstore'})")
    code = _serve(streamlit_command(app, ctx.store_uri, port, address), env)
    if code:
        raise errors.Unavailable(f"streamlit exited with status {code}; is port {port} free?")
