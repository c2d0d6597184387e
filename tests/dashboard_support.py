"""What the dashboard tests share: running a page with AppTest, reading its text, and
serving the real dashboard (``mlstore dashboard``) on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
MLSTORE = str(Path(sys.executable).with_name("mlstore"))


def run_page(uri: str, page: str, monkeypatch, query: dict | None = None, timeout: int = 90) -> AppTest:
    """Runs one page of the app over the store at ``uri``; fails on any exception the page raised."""
    monkeypatch.setenv("MLSTORE_URI", uri)
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.query_params.update(query or {})
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_texts(at: AppTest) -> str:
    """Every title, header, caption, Markdown and message of a page, one per line."""
    kinds = ("title", "header", "subheader", "caption", "markdown", "info", "warning", "error")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_dashboard(uri: str, log: Path) -> Iterator[str]:
    """``mlstore dashboard --store uri`` until the block ends; yields its base URL once healthy."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([MLSTORE, "dashboard", "--store", uri, "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the dashboard did not start: {log.read_text()[-2000:]}")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and its streamlit child
        proc.wait(timeout=20)
