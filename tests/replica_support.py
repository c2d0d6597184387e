"""Processes of the replica test (tests/reliability/test_replicas.py): writers and readers
of two ``mlstore serve`` replicas, each writing its figures as JSON.

    python -m tests.replica_support writer HOST:PORT HOST:PORT INDEX RUNS OUT.json
    python -m tests.replica_support reader HOST:PORT,HOST:PORT STOP_FILE OUT.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def writer(own: str, other: str, index: int, runs: int, out: str) -> None:
    """Logs ``runs`` chained Trainer runs through replica ``own``; after each, times until
    replica ``other`` lists the execution and its lineage reaches the previous model."""
    import mlstore  # noqa: PLC0415
    from mlstore import errors  # noqa: PLC0415
    from mlstore.store import OutputArtifact  # noqa: PLC0415

    pipeline = f"replica-w{index}"
    mine, theirs = mlstore.open(f"grpc://{own}"), mlstore.open(f"grpc://{other}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "model.txt").write_text(f"writer {index}")
        blob = mine.blobs.publish(Path(tmp) / "model.txt")
    told, write_s, visible_s, stale_s, failures, prev = [], [], [], [], [], None
    for run in range(runs):
        inputs = [(prev, "base_model")] if prev else []
        t0 = time.perf_counter()
        try:
            logged = mine.log_execution("Trainer", pipeline, inputs=inputs, properties={"params": {"run": run}},
                                        outputs=[OutputArtifact("Model", blob.uri, blob.digest, blob.size, "model",
                                                                {})])
        except errors.MlstoreError as e:
            failures.append(f"run {run}: {e}")
            continue
        t1 = time.perf_counter()
        write_s.append(t1 - t0)
        told.append([logged.execution_id, logged.output_ids[0]])
        while True:  # the other replica: the execution, and the lineage through it
            asked = time.perf_counter()
            try:
                theirs.execution(f"execution:{logged.execution_id}")
                graph = theirs.lineage(f"artifact:{logged.output_ids[0]}", "up", depth=2)
                if prev is None or prev in {n.id.id for n in graph.nodes if n.id.kind == "artifact"}:
                    break
            except errors.NotFound:
                pass
            if time.perf_counter() - t1 > 10:
                failures.append(f"run {run}: execution:{logged.execution_id} not visible on {other} after 10 s")
                break
            time.sleep(0.005)
        visible_s.append(time.perf_counter() - t1)  # until the other replica's answer held the write
        stale_s.append(asked - t1)  # until a question to it got that answer: 0 when the first one did
        prev = logged.output_ids[0]
    Path(out).write_text(json.dumps({"pipeline": pipeline, "told": told, "write_s": write_s,
                                     "visible_s": visible_s, "stale_s": stale_s, "failures": failures}))


def reader(targets: list[str], stop_file: str, out: str) -> None:
    """Queries the replicas in turn until ``stop_file`` exists: the newest executions and
    the upstream lineage of the newest model of each writer's pipeline."""
    import mlstore  # noqa: PLC0415

    stores = [mlstore.open(f"grpc://{t}") for t in targets]
    latencies: dict[str, list[float]] = {"executions": [], "lineage": []}
    failures, turn = [], 0
    while not Path(stop_file).exists():
        store = stores[turn % len(stores)]
        turn += 1
        try:
            t0 = time.perf_counter()
            newest = store.executions(type="Trainer", order="desc", limit=5)
            latencies["executions"].append(time.perf_counter() - t0)
            if newest:
                model = store.events(f"execution:{newest[0].id}")
                output = next(e for e in model if e.is_output)
                t0 = time.perf_counter()
                store.lineage(f"artifact:{output.artifact_id}", "up")
                latencies["lineage"].append(time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the test asserts none
            failures.append(f"{type(e).__name__}: {e}")
        time.sleep(0.01)
    Path(out).write_text(json.dumps({"latencies": latencies, "failures": failures}))


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    if kind == "writer":
        writer(args[0], args[1], int(args[2]), int(args[3]), args[4])
    else:
        reader(args[0].split(","), args[1], args[2])
