"""``mlstore serve --openlineage-url``: run events sent as executions are written, through outages and restarts.

A real server process, a stdlib HTTP endpoint on 127.0.0.1, writes through the server
(LogExecution) and by an SDK process on the same store.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

import mlstore
from mlstore.openlineage.events import run_uuid, store_namespace
from tests.grpc_support import serve
from tests.openlineage_receiver import Receiver
from tests.openlineage_schemas import validate_event

INTERVAL = "0.2"


def wait_for(receiver: Receiver, count: int, timeout: float = 20.0) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        events = receiver.events()
        if len(events) >= count:
            time.sleep(0.6)  # a few intervals more: nothing beyond `count` may arrive
            return receiver.events()
        time.sleep(0.05)
    raise AssertionError(f"{len(receiver.events())} events arrived, expected {count}: "
                         f"{[(e['eventType'], e['job']['name']) for e in receiver.events()]}")


def summary(events: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["eventType"], e["run"]["runId"], e["job"]["name"]) for e in events]


def expected(store, namespace: str, executions) -> list[tuple[str, str, str]]:
    ends = {"COMPLETE": "COMPLETE", "FAILED": "FAIL", "CACHED": "COMPLETE", "CANCELED": "ABORT"}
    found = []
    for execution in executions:
        execution = store.execution(execution)
        run_id, job = run_uuid(namespace, execution), f"{execution.pipeline}.{execution.type}"
        found.append(("START", run_id, job))
        if execution.state in ends:
            found.append((ends[execution.state], run_id, job))
    return found


def sdk_run(store, step: str, fail: bool = False, base: int | None = None) -> int:
    """One execution written by this process (a local SDK writer), returns its id."""
    try:
        with mlstore.run("live", step, {"step": step}, store=store, run_id="r1") as run:
            if base is not None:
                run.use(base, "examples")
            if fail:
                raise RuntimeError(f"{step} ran out of memory")
    except RuntimeError:
        pass
    return max(e.id for e in store.executions())


@pytest.mark.slow
def test_served_store_emits_events_live_across_outage_and_restart(tmp_path):
    directory = tmp_path / "store"
    local = mlstore.open(str(directory))
    data = tmp_path / "rows"
    data.mkdir()
    (data / "part-0.csv").write_text("a,b\n1,2\n")
    with mlstore.run("live", "ExampleGen", {"day": 1}, store=local, run_id="r0") as run:
        examples = run.log_artifact(data, "Examples", role="examples", properties={"span": 1})
    history = local.newest_execution_id()  # written before the endpoint was first served: never emitted
    namespace = store_namespace(local)
    receiver = Receiver()
    started = time.monotonic()
    try:
        with serve(str(directory), "--processes", "1", "--openlineage-url", receiver.url,
                   "--openlineage-interval", INTERVAL) as (proc, target):
            remote = mlstore.open(f"grpc://{target}")
            ours = [remote.log_execution("Transform", "live", inputs=[(examples.id, "examples")], run_id="r1")
                    .execution_id,
                    sdk_run(local, "Trainer", base=examples.id),
                    remote.log_execution("Pusher", "live", state="RUNNING").execution_id,  # START only
                    sdk_run(local, "Evaluator", fail=True)]
            events = wait_for(receiver, 7)
            assert summary(events) == expected(local, namespace, ours)
            for event in events:
                validate_event(event)
            assert all(e["run"]["facets"]["mlstore_execution"]["execution"] != f"execution:{history}"
                       for e in events)
            transform = events[1]
            assert [(d["name"], d["facets"]["version"]["datasetVersion"]) for d in transform["inputs"]] == \
                [(f"Examples/{examples.id}", local.artifact(examples.id).digest)]
            assert "Evaluator ran out of memory" in events[-1]["run"]["facets"]["errorMessage"]["message"]

            # The endpoint goes down: writes go on, RPCs are not slowed, nothing is lost.
            receiver.stop()
            began = time.monotonic()
            during = [remote.log_execution("Transform", "live", run_id="r2").execution_id]
            assert time.monotonic() - began < 2.0
            during.append(sdk_run(local, "Trainer"))
            time.sleep(1.5)  # several failed passes
            assert len(receiver.events()) == 7
            receiver.start()
            events = wait_for(receiver, 11, timeout=40)  # backoff: at most 30 s after the outage began
            assert summary(events[7:]) == expected(local, namespace, during)
            remote.close()
        log = proc.stderr.read()
        outage = [line for line in log.splitlines() if "OpenLineage: OpenLineage endpoint" in line]
        assert len(outage) == 1 and "WARNING" in outage[0], log[-3000:]  # one line per outage
        assert "answers again" in log

        # A restarted server sends what is new, and nothing the endpoint already acknowledged.
        with serve(str(directory), "--processes", "1", "--openlineage-url", receiver.url,
                   "--openlineage-interval", INTERVAL) as (proc, target):
            after = [sdk_run(local, "Pusher")]
            events = wait_for(receiver, 13)
        assert summary(events[11:]) == expected(local, namespace, after)
        counts = Counter((e["eventType"], e["run"]["runId"]) for e in events)
        assert max(counts.values()) == 1  # no outage mid-execution here: each event exactly once
        assert {path for path, _, _ in receiver.received} == {"/api/v1/lineage"}
    finally:
        receiver.stop()
        local.close()
    assert time.monotonic() - started < 90


def test_an_endpoint_failing_mid_execution_gets_it_again_whole(tmp_path):
    """At-least-once: the START was accepted, the COMPLETE refused; the next pass posts both
    again (same runId and eventType), then never again once both were acknowledged."""
    from mlstore import errors  # noqa: PLC0415
    from mlstore.openlineage.emitter import Emitter, EmitterOptions  # noqa: PLC0415

    store = mlstore.open(str(tmp_path / "store"))
    receiver = Receiver()
    emitter = Emitter(store, EmitterOptions(url=receiver.url, namespace="ns"), start=False)
    try:
        first, second = sdk_run(store, "Transform"), sdk_run(store, "Trainer")
        receiver.fail_after = 1
        with pytest.raises(errors.Unavailable, match=f"failed on COMPLETE of execution:{first}: HTTPError"):
            emitter.send_pending()
        receiver.fail_after = None
        assert emitter.send_pending() == 2
        assert emitter.send_pending() == 0
        runs = {run_uuid("ns", store.execution(i)): i for i in (first, second)}
        posted = [(e["eventType"], runs[e["run"]["runId"]]) for e in receiver.events()]
        assert posted == [("START", first), ("COMPLETE", first),  # the COMPLETE was refused (400)
                          ("START", first), ("COMPLETE", first), ("START", second), ("COMPLETE", second)]
        # Another emitter for the same destination (a restarted server) has nothing to send.
        again = Emitter(store, EmitterOptions(url=receiver.url, namespace="ns"), start=False)
        assert again.send_pending() == 0
        # A new namespace is a new destination: it starts after the newest execution.
        other = Emitter(store, EmitterOptions(url=receiver.url, namespace="other"), start=False)
        assert other.send_pending() == 0
        third = sdk_run(store, "Pusher")
        assert other.send_pending() == 1 and again.send_pending() == 1
        assert [e["run"]["runId"] for e in receiver.events()[-4:]] == \
            [run_uuid("other", store.execution(third))] * 2 + [run_uuid("ns", store.execution(third))] * 2
    finally:
        emitter.stop()
        receiver.stop()
        store.close()


@pytest.mark.parametrize("args, message", [
    (["--openlineage-url", "not a url"], "bad OpenLineage URL 'not a url'"),
    (["--openlineage-url", "ftp://host/x"], "bad OpenLineage URL 'ftp://host/x'"),
])
def test_serve_bad_openlineage_url_is_exit_2_one_line(tmp_path, args, message, capsys, monkeypatch):
    from mlstore.cli import cli  # noqa: PLC0415
    from mlstore.cli._common import run_cli  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    assert run_cli(cli, ["serve", "--store", str(tmp_path / "store"), "--port", "0", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert list(tmp_path.iterdir()) == []  # no store created


def test_serve_takes_the_url_from_the_environment(tmp_path, capsys, monkeypatch):
    from mlstore.cli import cli  # noqa: PLC0415
    from mlstore.cli._common import run_cli  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLSTORE_OPENLINEAGE_URL", "nope")
    assert run_cli(cli, ["serve", "--store", str(tmp_path / "store"), "--port", "0"]) == 2
    assert "bad OpenLineage URL 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_several_server_processes_emit_once(tmp_path):
    directory = tmp_path / "store"
    mlstore.open(str(directory)).close()
    receiver = Receiver()
    try:
        with serve(str(directory), "--processes", "2", "--openlineage-url", receiver.url,
                   "--openlineage-interval", INTERVAL) as (_, target):
            remote = mlstore.open(f"grpc://{target}")
            ids = [remote.log_execution("Transform", "live").execution_id for _ in range(3)]
            remote.close()
            events = wait_for(receiver, 6)
            time.sleep(1.0)  # a second emitter would have sent its copies by now
            events = receiver.events()
        with mlstore.open(str(directory)) as local:
            assert summary(events) == expected(local, store_namespace(local), ids)
    finally:
        receiver.stop()
