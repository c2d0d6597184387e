"""The examples stay runnable and in step with the code."""

import subprocess
import sys
from pathlib import Path

import yaml

from mlstore.pipeline import config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_flights_spec_files_match_the_demo_config():
    assert (EXAMPLES / "flights" / "gate.yaml").read_text() == config.GATE_SPEC
    assert yaml.safe_load((EXAMPLES / "flights" / "transform.yaml").read_text()) == config.TRANSFORM_SPEC


def test_quickstart_runs_and_prints_lineage(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path / "store")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--examples--> execution:2" in proc.stdout and "--model--> artifact:2" in proc.stdout
