"""Real browser: `mlstore dashboard` serves the app, headless Chromium opens every page.

One Chromium is driven over the DevTools protocol (tests/headless_chromium.py): each page
must show its own title and content (not the loading skeleton), no Streamlit exception
block or traceback, and the server log must stay free of tracebacks (e.g. an ASGI error
while serving static files). A full-page screenshot of each page is saved under
``$MLSTORE_SCREENSHOTS`` when set, else the test's tmp dir (paths are printed).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard_store import build_store  # noqa: E402
from dashboard_support import served_dashboard  # noqa: E402
from headless_chromium import Chromium  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MLSTORE = str(Path(sys.executable).with_name("mlstore"))
# url path -> (the page's <h1> must start with this, text the page body must show).
# The home page lives at "/": Streamlit ignores the default page's url_path, so
# "/models" would show a "Page not found" dialog (asserted absent below).
PAGES = {
    "": ("Models over time", "auc_roc"),
    "model": ("Model artifact:", "Metrics per slice"),
    "lineage": ("Lineage explorer", "Direction"),
    "runs": ("Runs", "executions (newest first)"),
    "modules": ("Modules", "acme/airport-embedding"),
    "gates": ("Gate history", "failed"),
    "data": ("Data", "No ExampleStatistics in pipeline"),
}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    built = build_store(str(tmp_path_factory.mktemp("browser") / "store"), days=8, dip_every=3)
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with served_dashboard(built.uri, log) as base:
        yield base, built, log


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    assert CHROMIUM, "chromium is required under CI=true"
    with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.mark.parametrize("page", list(PAGES), ids=[p or "home" for p in PAGES])
def test_page_renders_in_chromium_without_exceptions(server, browser, page, tmp_path):
    base, built, log = server
    title, content = PAGES[page]
    text = browser.open(f"{base}/{page}?model={built.failed_model_ids[-1]}", content)
    assert browser.count('[data-testid="stException"]') == 0 and "Traceback" not in text, f"{page}: {text[-800:]}"
    assert "Page not found" not in text, f"/{page} is not a page of the app"
    heading = browser.evaluate("document.querySelector('h1') ? document.querySelector('h1').innerText : ''")
    assert heading.startswith(title), f"{page} shows the heading {heading!r}, not {title!r}"
    shots = Path(os.environ.get("MLSTORE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"dashboard-{page or 'home'}.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    print(f"screenshot of {page}: {shot}")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, f"the server logged an error:\n{server_log[-3000:]}"
