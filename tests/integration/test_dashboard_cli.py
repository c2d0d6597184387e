"""`mlstore dashboard` from an installed wheel (it ships as ``mlstore/_dashboard``), and its input checks."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("models", "model", "lineage", "runs", "modules", "gates", "data")


def test_installed_wheel_contains_the_dashboard_and_the_cli_finds_it(tmp_path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir)], check=True, capture_output=True, timeout=300)
    wheel = next(wheel_dir.glob("mlstore-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"mlstore/_dashboard/app.py", "mlstore/_dashboard/data.py", "mlstore/_dashboard/components.py",
                "mlstore/_dashboard/statistics.py"}
    expected |= {f"mlstore/_dashboard/views/{page}.py" for page in PAGES}
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith("dashboard/") for n in names)  # no generic top-level package

    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert not (site / "mlstore" / "_dashboard").is_symlink()
    # The installed CLI resolves the app inside the installed package, and its pages import.
    script = ("import sys, mlstore; assert mlstore.__file__.startswith(sys.argv[1]), mlstore.__file__;"
              "from mlstore.cli.dashboard import app_path; print(app_path());"
              "import mlstore._dashboard.data, mlstore._dashboard.components")
    proc = subprocess.run([sys.executable, "-c", script, str(site)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == (site / "mlstore" / "_dashboard" / "app.py").resolve()


def test_dashboard_with_an_unreachable_server_exits_2_before_streamlit_starts():
    # grpc:// stores work (see test_dashboard_apptest.py); an unreachable one fails fast with one line.
    mlstore_cli = str(Path(sys.executable).with_name("mlstore"))
    proc = subprocess.run([mlstore_cli, "dashboard", "--store", "grpc://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "127.0.0.1:1" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_server_process_opens_the_store_before_the_first_page(monkeypatch):
    """`mlstore dashboard` runs streamlit through mlstore._dashboard.serve, which opens the
    store the app will use (the same URI the app reads) before the first session."""
    from mlstore._dashboard import serve
    from mlstore.cli.dashboard import streamlit_command

    command = streamlit_command(Path("app.py"), "/some/store", 8501, "127.0.0.1")
    assert command[1:4] == ["-m", "mlstore._dashboard.serve", "run"]
    assert serve.store_uri(command[3:]) == "/some/store"
    monkeypatch.setenv("MLSTORE_URI", "/from/env")
    assert serve.store_uri(streamlit_command(Path("app.py"), None, 8501, "127.0.0.1")[3:]) == "/from/env"
