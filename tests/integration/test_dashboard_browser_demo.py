"""Real browser over a store written by the real demo (tests/conftest.py ``demo_history``).

Headless Chromium (tests/headless_chromium.py) reads the DOM: Vega-Lite draws SVG,
so axis labels are ``.role-axis-label text`` nodes; Streamlit's data grid exposes an
ARIA ``role=grid`` with ``aria-rowcount``. Screenshots go to ``$MLSTORE_SCREENSHOTS``
or the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard_support import served_dashboard  # noqa: E402
from headless_chromium import Chromium  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MLSTORE = str(Path(sys.executable).with_name("mlstore"))
DATE = re.compile(r"^2013-01-0[1-4]$")
AXIS_LABELS = ("JSON.stringify(Array.from(document.querySelectorAll('.vega-embed')).map("
               "e => Array.from(e.querySelectorAll('.role-axis-label text')).map(t => t.textContent)))")
GRID_ROWS = ("JSON.stringify(Array.from(document.querySelectorAll('[data-testid=stDataFrame] [role=grid]')).map("
             "g => [Number(g.getAttribute('aria-rowcount')), g.innerText.slice(0, 400)]))")


@pytest.fixture(scope="module")
def served(demo_history, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with served_dashboard(demo_history["uri"], log) as base:
        assert CHROMIUM, "chromium is required (apt-get install chromium)"
        with Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile")) as browser:
            yield base, browser, demo_history, log


def _shot(browser, tmp_path, name: str) -> Path:
    shots = Path(os.environ.get("MLSTORE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"demo-{name}.png"
    browser.screenshot(path)
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")
    return path


def _wait_for(browser, expression: str, ok, timeout: float = 30):
    deadline = time.time() + timeout
    while True:
        value = json.loads(browser.evaluate(expression))
        if ok(value) or time.time() > deadline:
            return value
        time.sleep(0.5)


@pytest.mark.parametrize("path", ["", "models"])
def test_home_page_chart_has_date_labels(served, tmp_path, path):
    base, browser, info, log = served
    text = browser.open(f"{base}/{path}", "Worst slices", timeout=120)
    assert "Page not found" not in text and "Deploy" not in text
    assert browser.evaluate("document.querySelector('h1').innerText") == "Models over time"
    labels = _wait_for(browser, AXIS_LABELS, lambda v: len(v) >= 2 and all(v))
    series_dates = [t for t in labels[0] if DATE.match(t)]
    assert series_dates == ["2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"], labels[0]
    assert not [t for t in labels[0] if re.fullmatch(r"20,?13\d,?\d{3}", t)]  # no span integers
    assert "Overall" in labels[1] and {"2013-01-01", "2013-01-04"} <= set(labels[1])  # the heat map
    _shot(browser, tmp_path, path or "home")
    assert "Traceback" not in log.read_text(errors="replace")


def test_model_page_metrics_grid_has_rows_and_plots(served, tmp_path):
    base, browser, info, log = served
    model = info["failed_model"]
    text = browser.open(f"{base}/model?model={model}", "Metrics per slice", timeout=120)
    assert browser.evaluate("document.querySelector('h1').innerText") == f"Model artifact:{model}"
    assert "gate failed" in text and "span 2013-01-04" in text
    grids = _wait_for(browser, GRID_ROWS, lambda v: len(v) >= 3)
    metrics_rows, metrics_text = grids[0]
    assert metrics_rows > 10 and "Overall" in metrics_text and "auc_roc" in metrics_text
    assert "delta" in grids[1][1] and grids[1][0] > 100  # the Changes table: slice × metric rows
    labels = _wait_for(browser, AXIS_LABELS, lambda v: len(v) >= 3)
    assert any("Overall (n=" in t for t in labels[0]), labels[0]  # slice bars carry example counts
    assert browser.count(".vega-embed svg") >= 4  # slice bars, ROC, PR, calibration
    _shot(browser, tmp_path, "model")
    assert "Traceback" not in log.read_text(errors="replace")


def test_lineage_labels_are_readable_at_1400_px(served, tmp_path):
    base, browser, info, log = served
    model = info["failed_model"]
    browser.open(f"{base}/lineage?node=artifact:{model}", "nodes,", timeout=120)
    heights = _wait_for(browser, "JSON.stringify(Array.from(document.querySelectorAll("
                        "'[data-testid=stGraphVizChart] svg text')).map(t => t.getBoundingClientRect().height))",
                        lambda v: len(v) > 10)
    texts = json.loads(browser.evaluate("JSON.stringify(Array.from(document.querySelectorAll("
                                        "'[data-testid=stGraphVizChart] svg text')).map(t => t.textContent))"))
    assert "2013-01-04" in texts and f"artifact:{model}" in texts  # nodes carry id and day
    assert sorted(heights)[len(heights) // 2] >= 9, heights  # median label height in CSS px
    _shot(browser, tmp_path, "lineage")
