"""Lineage at depth: a 2,000-day warm-start chain, every ancestor, stable order."""

import json
import subprocess
import sys
import time

import pytest

from mlstore.store import OutputArtifact


def build_chain(store, tmp_path, days):
    (tmp_path / "blob").write_text("x")
    blob = store.blobs.publish(tmp_path / "blob")

    def out(type_, role, **props):
        return OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, props)

    model = None
    for day in range(1, days + 1):
        ex = store.log_execution("ExampleGen", "chain", outputs=[out("Examples", "examples", span=day)])
        inputs = [(ex.output_ids[0], "examples")] + ([(model, "base_model")] if model else [])
        model = store.log_execution("Trainer", "chain", inputs=inputs, outputs=[out("Model", "model")]).output_ids[0]
    return model


@pytest.mark.slow
def test_2000_day_chain_full_upstream_lineage(sqlite_store, tmp_path):
    newest = build_chain(sqlite_store, tmp_path, 2000)
    t0 = time.perf_counter()
    first = sqlite_store.lineage(f"artifact:{newest}", "up")
    elapsed = time.perf_counter() - t0
    assert len(first.nodes) >= 8000
    assert sum(1 for n in first.nodes if n.type == "Model") == 2000
    assert max(n.depth for n in first.nodes) >= 4000  # far beyond MLMD's 100-hop cap
    second = sqlite_store.lineage(f"artifact:{newest}", "up")
    assert first == second
    print(f"2000-day lineage: {len(first.nodes)} nodes in {elapsed * 1000:.0f} ms")
    outputs = [subprocess.run([sys.executable, "-m", "mlstore", "lineage", f"artifact:{newest}", "--up", "--json",
                               "--store", sqlite_store.uri], capture_output=True, text=True, timeout=300)
               for _ in range(2)]
    assert all(p.returncode == 0 for p in outputs), outputs[0].stderr
    assert outputs[0].stdout == outputs[1].stdout  # same order on every call
    graph = json.loads(outputs[0].stdout)
    assert len(graph["nodes"]) >= 8000 and graph["nodes"] == first.to_json()["nodes"]


def test_cli_lineage_on_a_chain_of_every_backend(store, tmp_path):
    newest = build_chain(store, tmp_path, 120)  # > 100 hops on MySQL/PostgreSQL too
    graph = store.lineage(f"artifact:{newest}", "up")
    assert len(graph.nodes) == 4 * 120
    bounded = store.lineage(f"artifact:{newest}", "up", depth=30)
    assert max(n.depth for n in bounded.nodes) == 30
    assert store.lineage(f"artifact:{newest}", "up", depth=1000) .nodes == graph.nodes
