"""8 worker processes log 1,000 chained executions each through one server; all arrive, lineage intact.

Runs on PostgreSQL (MLMD on SQLite serializes writers, which makes this minutes long).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import mlstore
from tests import backends
from tests.grpc_support import serve

WORKERS, PER_WORKER = 8, 1000

WORKER = r'''
import sys, tempfile, pathlib
import mlstore
from mlstore.store import OutputArtifact
target, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = mlstore.open(f"grpc://{target}")
with tempfile.TemporaryDirectory() as tmp:
    (pathlib.Path(tmp) / "x").write_text(f"worker {worker}")
    blob = store.blobs.publish(pathlib.Path(tmp) / "x")
previous = None
for i in range(count):
    out = OutputArtifact("Examples", blob.uri, blob.digest, blob.size, "examples", {"span": i})
    previous = store.log_execution("Step", f"worker{worker}", inputs=[(previous, "examples")] if previous else [],
                                   outputs=[out], properties={"seq": i}).output_ids[0]
print(previous)
'''


@pytest.fixture
def pg_store_uri(tmp_path):
    yield from backends.fresh_store_uri("postgresql", tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_workers_log_through_one_server(pg_store_uri, tmp_path):
    mlstore.open(pg_store_uri).close()  # create the schema once, before the server's connections
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    start = time.perf_counter()
    with serve(pg_store_uri, "--writers", "8", "--workers", "16") as (_, target):
        procs = [subprocess.Popen([sys.executable, str(script), target, str(w), str(PER_WORKER)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(WORKERS)]
        results = [p.communicate(timeout=900) for p in procs]
    elapsed = time.perf_counter() - start
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    last = [int(out.split()[-1]) for out, _ in results]
    with mlstore.open(pg_store_uri) as store:
        steps = store.executions(type="Step")
        assert len(steps) == WORKERS * PER_WORKER
        for worker, tip in enumerate(last):
            graph = store.lineage(tip, direction="up")
            executions = [n for n in graph.nodes if n.id.kind == "execution"]
            assert len(executions) == PER_WORKER  # the whole chain, nothing from other workers
            assert {store.execution(n.id).pipeline for n in executions[:3]} == {f"worker{worker}"}
            assert len(graph.edges) == 2 * PER_WORKER - 1
            assert max(n.depth for n in graph.nodes) == 2 * PER_WORKER - 1  # the first execution
    print(f"{WORKERS}x{PER_WORKER} executions through one server in {elapsed:.1f} s")
