"""What users do with the main job's output: look at it in the dashboard, collect
garbage, and rerun a kept training execution."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import mlstore
from tests.conftest import copy_store

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ["views/models.py", "views/model.py", "views/lineage.py", "views/runs.py", "views/modules.py",
         "views/gates.py"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlstore", *map(str, args)], capture_output=True, text=True,
                          timeout=900)


@pytest.mark.parametrize("page", PAGES)
def test_every_dashboard_page_over_the_demo_store(flights_demo, monkeypatch, page):
    uri, _ = flights_demo
    store = mlstore.open(uri)
    newest = store.newest_daily_model("flights")  # other tests may have added `mlstore rerun` copies
    monkeypatch.setenv("MLSTORE_URI", uri)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params.update({"model": str(newest.id), "node": str(newest.node_id)})
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(str(e.value) for kind in ("title", "header", "markdown", "caption") for e in getattr(at, kind))
    assert "Traceback" not in shown
    if page == "views/models.py":
        assert at.metric[0].value == str(len(store.daily_models("flights")))


def test_gc_keeps_what_a_rerun_needs(flights_demo, tmp_path):
    uri = copy_store(flights_demo[0], tmp_path / "store")
    before = sum(p.stat().st_size for p in (Path(uri) / "blobs" / "objects").rglob("*") if p.is_file())
    # Every demo model is blessed (so kept); without the upstream closure the older days'
    # Examples and transform graphs can go, while the newest day's inputs stay.
    policy = ("--keep-days", 1, "--lineage-may-outlive-bytes", "--grace-minutes", 0, "--store", uri, "--json")
    dry = cli("gc", "--dry-run", *policy)
    assert dry.returncode == 0, dry.stderr
    done = cli("gc", *policy)
    assert done.returncode == 0, done.stderr
    after = sum(p.stat().st_size for p in (Path(uri) / "blobs" / "objects").rglob("*") if p.is_file())
    assert before > after
    store = mlstore.open(uri)
    assert store.verify() == {}
    newest = store.newest_daily_model("flights")
    trainer = [e for e in store.events(newest.node_id) if e.is_output][0].execution_id
    rerun = cli("rerun", f"execution:{trainer}", "--store", uri, "--json")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    assert json.loads(rerun.stdout)["reproduced"]
