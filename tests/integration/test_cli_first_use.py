"""The CLI as a new user meets it, over a store written by the real demo
(tests/conftest.py ``demo_history``): commands that work as printed, output that
can be copied, errors that come at once."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlstore
from tests.conftest import copy_store

pytestmark = pytest.mark.slow

MLSTORE = str(Path(sys.executable).with_name("mlstore"))  # the console script, as the README runs it


def run(*args, columns: int | None = None, timeout: float = 900):
    env = dict(os.environ)
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([MLSTORE, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def test_ls_and_hub_search_keep_ids_whole_at_80_columns(demo_history):
    uri = demo_history["uri"]
    store = mlstore.open(uri)
    listed = run("ls", "--store", uri, columns=80)
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    tokens = set(listed.stdout.split())
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert len(rows) == len(store.artifacts())  # one line per artifact: nothing wraps
    for a in store.artifacts():
        assert str(a.node_id) in tokens, a.node_id
        assert a.digest[:19] in tokens  # the digest prefix resolves as sha256:PREFIX
        assert rows[str(a.node_id)][1:3] == [a.type, a.pipeline]  # type and pipeline whole too
    search = run("hub", "search", "--store", uri, columns=80)
    assert search.returncode == 0 and "mlstore/flights-carrier-embedding/1" in search.stdout.split()
    assert "embedding," in search.stdout.split()  # tags wrap between words, not inside one
    consumers = run("hub", "consumers", "mlstore/flights-carrier-embedding/1", "--store", uri, columns=80)
    assert {str(m.node_id) for m in store.artifacts(type="Model", pipeline="flights")} <= set(consumers.stdout.split())


def test_show_prints_iso_times_and_the_seed(demo_history):
    uri = demo_history["uri"]
    store = mlstore.open(uri)
    trainer = store.executions(type="Trainer", pipeline="flights")[0]
    shown = run("show", f"execution:{trainer.id}", "--store", uri)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^create_time: 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", shown.stdout, re.MULTILINE)
    assert "_time_ms" not in shown.stdout and "17963" not in shown.stdout
    seed = json.loads(trainer.properties["params"])["hyperparams"]["seed"]
    assert f'seeds: {{"hyperparams.seed": {seed}}}' in shown.stdout
    assert json.loads(trainer.properties["seeds"]) == {"hyperparams.seed": seed}  # recorded, not only shown


def test_warm_start_compatibility_agrees_with_what_the_trainer_did(demo_history):
    uri = demo_history["uri"]
    store = mlstore.open(uri)
    checked = 0
    for trainer in store.executions(type="Trainer", pipeline="flights", state="COMPLETE"):
        if trainer.properties.get("rerun_of") is not None:
            continue
        events = store.events(f"execution:{trainer.id}")
        bases = [e.artifact_id for e in events if not e.is_output and e.role == "base_model"]
        (model,) = [e.artifact_id for e in events if e.is_output]
        if not bases:
            continue
        base = store.artifact(f"artifact:{bases[0]}")
        proc = run("warm-start", "--pipeline", "flights", "--policy", "latest_blessed", "--require-compatible",
                   f"artifact:{model}", "--as-of", base.span, "--store", uri, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["chosen"]["model"] == str(base.node_id)
        checked += 1
    assert checked == 3  # days 2-4 were warm-started
    strict = run("warm-start", "--pipeline", "flights", "--require-compatible", f"artifact:{model}",
                 "--layers", "deep_*", "--store", uri)
    assert strict.returncode == 0 and "base model: artifact:" in strict.stdout


def test_demo_prints_a_line_per_day_and_follow_ups_that_work(demo_history, tmp_path):
    uri = copy_store(demo_history["uri"], tmp_path / "store")
    proc = run("demo", "--days", 5, "--store", uri)  # days 1-4 are done: day 5 runs
    assert proc.returncode == 0, proc.stderr[-3000:]
    days = [line for line in proc.stderr.splitlines() if line.startswith("day ")]
    assert days[:4] == [f"day {n}/5 2013-01-0{n}: already complete, skipped" for n in range(1, 5)]
    assert re.fullmatch(r"day 5/5 2013-01-05: artifact:\d+ (blessed|gate failed)( .*)? \(\d+ s\)", days[4]), days
    follow_ups = proc.stdout.split("where to look next:")[1].splitlines()
    commands = [line.strip() for line in follow_ups if line.strip().startswith(MLSTORE)]
    assert [c.split()[1] for c in commands] == ["dashboard", "lineage", "rerun"], follow_ups
    for command in commands[1:]:  # as printed, through no shell and no activated venv
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=900,
                              env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
        assert done.returncode == 0, (command, done.stderr[-2000:])


def test_python_m_invocation_is_repeated_as_python_m(tmp_path):
    bad = subprocess.run([sys.executable, "-c",
                          "import sys; sys.argv = ['/x/mlstore/__main__.py']; "
                          "from mlstore.cli._common import invocation; print(invocation())"],
                         capture_output=True, text=True, timeout=60)
    assert bad.stdout.strip() == f"{sys.executable} -m mlstore"


def test_errors_come_before_any_work(tmp_path):
    store_dir = tmp_path / "never-created"
    t0 = time.perf_counter()
    gc = run("gc", "--dry-run", "--store", store_dir)
    assert gc.returncode == 2 and gc.stderr.count("\n") == 1 and "--keep-days" in gc.stderr
    assert time.perf_counter() - t0 < 20
    start = run("demo", "--start", "2014-01-01", "--store", store_dir)
    assert start.returncode == 2 and start.stderr.count("\n") == 1 and "outside the flight data" in start.stderr
    assert not store_dir.exists()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        serve = run("serve", "--store", tmp_path / "s", "--port", port, timeout=120)
    assert serve.returncode == 2, serve.stderr
    assert serve.stderr == f"mlstore: port {port} on 127.0.0.1 is already in use: stop what listens there or pick another --port\n"


def test_lineage_text_is_grouped_by_step_with_types_and_spans(demo_history):
    uri, model = demo_history["uri"], demo_history["failed_model"]
    store = mlstore.open(uri)
    (trainer,) = [e.execution_id for e in store.events(f"artifact:{model}") if e.is_output]
    base = [e.artifact_id for e in store.events(f"execution:{trainer}") if e.role == "base_model"][0]
    proc = run("lineage", f"artifact:{model}", "--up", "--depth", 4, "--store", uri)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1] == f"Trainer execution:{trainer} (span 20130104)"
    assert f"  in   base_model       Model artifact:{base} (span 20130103)" in lines
    assert f"  out  model            Model artifact:{model} (span 20130104)" in lines
    assert not [line for line in lines if "-->" in line]


def test_the_demo_summary_names_the_daily_model_not_a_rerun(demo_history, tmp_path):
    uri = copy_store(demo_history["uri"], tmp_path / "store")
    rerun_model = demo_history["rerun"]["outputs"][0]["rerun"]
    with mlstore.open(uri) as store:
        assert str(store.artifacts(type="Model", pipeline="flights")[-1].node_id) == rerun_model  # the newest artifact
    proc = run("demo", "--days", 4, "--store", uri, "--json")  # every day is done: nothing runs
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["newest_model"] == f"artifact:{demo_history['failed_model']}"
    text = run("demo", "--days", 4, "--store", uri)
    assert f"lineage of the newest model artifact:{demo_history['failed_model']} " in text.stdout
    assert f"lineage artifact:{demo_history['failed_model']} --up" in text.stdout and rerun_model not in text.stdout.split()
