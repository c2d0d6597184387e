"""Real browser: `mlstore dashboard` serves the app, headless Chromium opens every page.

Each page's rendered DOM is checked for Streamlit exception blocks and tracebacks, and
a screenshot of each page is saved under the test's tmp dir (paths are printed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard_store import build_store  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MLSTORE = str(Path(sys.executable).with_name("mlstore"))
# page url path -> text the rendered page must show (proves the app ran, not just its skeleton)
PAGES = {"models": "Models over time", "model": "Model artifact:", "lineage": "Lineage explorer",
         "runs": "Runs", "modules": "acme/airport-embedding", "gates": "Gate history"}
_BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000", "--virtual-time-budget=15000"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed (apt-get install chromium)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    built = build_store(str(tmp_path_factory.mktemp("browser") / "store"), days=8, dip_every=3)
    port = _free_port()
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([MLSTORE, "dashboard", "--store", built.uri, "--port", str(port)],
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
        yield base, built
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is required under CI=true"
    return subprocess.run([CHROMIUM, *_BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_in_chromium_without_exceptions(server, page, tmp_path):
    base, built = server
    url = f"{base}/{page}?model={built.failed_model_ids[-1]}"
    dom = _chromium(["--dump-dom", url], tmp_path / "profile-dom").stdout
    assert "stException" not in dom and "Traceback" not in dom, f"{page} shows an exception"
    assert PAGES[page] in dom, f"{page} did not render (still a skeleton?): {dom[-600:]}"
    shot = tmp_path / f"{page}.png"
    _chromium([f"--screenshot={shot}", url], tmp_path / "profile-shot")
    assert shot.is_file() and shot.stat().st_size > 10_000
    print(f"screenshot of {page}: {shot}")
