"""Helpers for the gRPC tests: a real `mlstore serve` subprocess and a small daily store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

MLSTORE = str(Path(sys.executable).with_name("mlstore"))
SLICES = ["Overall", "carrier=AA", "carrier=DL"]
METRICS = ["auc_roc", "log_loss", "example_count"]
#: Day N's Examples have span FIRST_SPAN + N (20130101 for day 1): real YYYYMMDD spans.
FIRST_SPAN = 20130100
GATE_SPEC = """\
version: 1
metrics:
  - name: auc_roc
    lower_bound: 0.5
    change: {direction: higher_is_better, absolute: -0.05}
    slices: [overall, {feature: carrier}]
"""


@contextmanager
def serve(store_uri: str, *args: str, env: dict | None = None, health: bool = True) -> Iterator[tuple[subprocess.Popen, str]]:
    """Runs ``mlstore serve`` on a free 127.0.0.1 port; yields (process, "host:port")."""
    proc = subprocess.Popen([MLSTORE, "serve", "--store", store_uri, "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        line = proc.stdout.readline()
        if not line.startswith("listening on"):
            proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {proc.stderr.read()[-2000:]}")
        target = line.split()[-1]
        if health:
            wait_serving(target)
        yield proc, target
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


#: Tokens of the secured test servers: one per scope.
READ, WRITE, ADMIN = "read-token-0123456789", "write-token-0123456789", "admin-token-0123456789"


@contextmanager
def serve_with_tokens(store_uri: str, directory: Path) -> Iterator[str]:
    """``mlstore serve --tokens`` with :data:`READ`, :data:`WRITE` and :data:`ADMIN`; yields the target host:port."""
    import yaml  # noqa: PLC0415

    tokens = Path(directory) / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {READ: {"name": "ci", "scopes": ["read"]},
                                                 WRITE: {"name": "workers", "scopes": ["write"]},
                                                 ADMIN: {"name": "ops", "scopes": ["admin"]}}}))
    with serve(store_uri, "--tokens", str(tokens)) as (_, target):
        yield target


def wait_serving(target: str, timeout: float = 20) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        end = time.time() + timeout
        while True:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                if time.time() > end:
                    raise
            time.sleep(0.1)


def day_metrics(day: int) -> dict[str, dict[str, float]]:
    return {s: {"auc_roc": 0.6 + (day * 7 + i) % 10 / 100, "log_loss": 0.5 - day / 100, "example_count": 100.0}
            for i, s in enumerate(SLICES)}


def build_days(store, days: int, pipeline: str = "daily", *, first_day: int = 1,
               base_model: int | None = None) -> list[int]:
    """Logs ``days`` daily runs (ExampleGen → Transform → Trainer → Evaluator → Gate); returns model ids.

    The runs are days ``first_day`` onwards; the first Trainer warm-starts from ``base_model``.
    """
    from mlstore.store import OutputArtifact  # noqa: PLC0415

    def out(directory: Path, type_, role, **props):
        blob = store.blobs.publish(directory)
        return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)

    import tempfile  # noqa: PLC0415

    models, prev = [], base_model
    with tempfile.TemporaryDirectory() as tmp:
        for day in range(first_day, first_day + days):
            d = Path(tmp) / str(day)
            d.mkdir()
            (d / "data.csv").write_text(f"day,{day}\n")
            ex = store.log_execution("ExampleGen", pipeline, outputs=[out(d, "Examples", "examples", span=FIRST_SPAN + day)],
                                     run_id=f"day{day}").output_ids[0]
            tg = store.log_execution("Transform", pipeline, inputs=[(ex, "examples")],
                                     outputs=[out(d, "TransformGraph", "transform_graph")],
                                     properties={"params": {"day": day}}, run_id=f"day{day}").output_ids[0]
            inputs = [(ex, "examples"), (tg, "transform_graph")] + ([(prev, "base_model")] if prev else [])
            model = store.log_execution("Trainer", pipeline, inputs=inputs, outputs=[out(d, "Model", "model")],
                                        run_id=f"day{day}").output_ids[0]
            ev = store.log_execution("Evaluator", pipeline, inputs=[(model, "model"), (ex, "examples")],
                                     outputs=[out(d, "ModelEvaluation", "evaluation",
                                                  metrics=json.dumps(day_metrics(day)))]).output_ids[0]
            store.log_execution("Gate", pipeline, inputs=[(model, "model"), (ev, "evaluation")],
                                outputs=[out(d, "ModelBlessing", "blessing", blessed=int(day % 3 != 0),
                                             current_model_id=model, evaluation_id=ev)])
            models.append(model)
            prev = model
    return models
