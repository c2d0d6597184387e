"""A SIGKILL between the MLMD write and the index write loses nothing."""

import subprocess
import sys
import textwrap

from sqlalchemy import func, select

import mlstore
from mlstore.index import tables as t

CHILD = textwrap.dedent("""
    import os, signal, sys
    import mlstore
    import mlstore.index.sync as sync_module

    def die(*args, **kwargs):          # the index write never happens
        os.kill(os.getpid(), signal.SIGKILL)

    store = mlstore.open(sys.argv[1])
    with mlstore.run("crash", "ExampleGen", store=store) as r:
        r.log_artifact(sys.argv[2], "Examples", properties={"span": 1})
    print("first logged", flush=True)
    sync_module.write_batch_safely = die
    with mlstore.run("crash", "Trainer", store=store) as r2:
        r2.use(r.outputs[0], "examples")
        r2.log_artifact(sys.argv[2], "Model")
    print("not reached", flush=True)
""")


def test_sigkill_between_mlmd_and_index_write(store_uri, tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    proc = subprocess.run([sys.executable, "-c", CHILD, store_uri, str(tmp_path / "data.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert "first logged" in proc.stdout and "not reached" not in proc.stdout

    store = mlstore.open(store_uri)  # catch-up happens on open
    trainers = store.executions(type="Trainer")
    assert len(trainers) == 1 and trainers[0].state == "COMPLETE"
    model = store.artifacts(type="Model")[0]
    graph = store.lineage(model, "up")
    assert {n.type for n in graph.nodes} == {"Model", "Trainer", "Examples", "ExampleGen"}
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0
    assert store.verify() == {}


BATCH_CHILD = textwrap.dedent("""
    import os, signal, sys
    import mlstore
    import mlstore.index.sync as sync_module
    from mlstore.store import OutputArtifact

    store = mlstore.open(sys.argv[1])
    blob = store.blobs.publish(sys.argv[2])
    out = lambda type_, role: OutputArtifact(type_, blob.uri, blob.digest, blob.size, role, {})
    sync_module.write_batch_safely = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    with store.batch("crash", run_id="day1") as batch:
        gen = batch.log_execution("ExampleGen", outputs=[out("Examples", "examples")])
        tg = batch.log_execution("Transform", inputs=[(gen.outputs[0], "examples")],
                                 outputs=[out("TransformGraph", "transform_graph")])
        batch.log_execution("Trainer", inputs=[(gen.outputs[0], "examples"), (tg.outputs[0], "transform_graph")],
                            outputs=[out("Model", "model")])
    print("not reached", flush=True)
""")


def test_sigkill_after_a_batch_reached_mlmd(store_uri, tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    proc = subprocess.run([sys.executable, "-c", BATCH_CHILD, store_uri, str(tmp_path / "data.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    store = mlstore.open(store_uri)  # catch-up indexes the whole batch
    assert sorted(e.type for e in store.executions()) == ["ExampleGen", "Trainer", "Transform"]
    graph = store.lineage(store.artifacts(type="Model")[0], "up")
    assert len(graph.nodes) == 6 and len(graph.edges) == 6
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0


IN_FLIGHT_CHILD = textwrap.dedent("""
    import sys, time
    from ml_metadata.metadata_store import metadata_store
    import mlstore

    put = metadata_store.MetadataStore.put_lineage_subgraph
    def slow_put(self, *args, **kwargs):   # journal row committed, MLMD write not yet
        print("in flight", flush=True)
        sys.stdin.readline()               # until the parent has opened the store
        return put(self, *args, **kwargs)
    metadata_store.MetadataStore.put_lineage_subgraph = slow_put

    store = mlstore.open(sys.argv[1])
    with mlstore.run("flight", "ExampleGen", store=store) as r:
        r.log_artifact(sys.argv[2], "Examples", properties={"span": 1})
    print("logged", flush=True)
""")


def test_opening_during_another_process_write_keeps_its_journal_row(store_uri, tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    mlstore.open(store_uri).close()  # create the store first: the child's open does no catch-up work
    child = subprocess.Popen([sys.executable, "-c", IN_FLIGHT_CHILD, store_uri, str(tmp_path / "data.csv")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "in flight"
        store = mlstore.open(store_uri)  # catch-up finds a journal row whose MLMD write is not done
        with store.engine.connect() as c:
            assert c.scalar(select(func.count()).select_from(t.journal)) == 1  # not dropped: still in flight
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "logged"
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
    assert [e.type for e in store.executions()] == ["ExampleGen"]
    with store.engine.begin() as c:  # a row from a write that died before MLMD, long ago
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0
        c.execute(t.journal.insert().values(external_id="mlstore:never-written", created_ms=1))
    mlstore.open(store_uri).close()  # its catch-up drops the row
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.journal)) == 0


def test_a_new_store_opened_by_several_processes_at_once(store_uri):
    # All of them find no schema; MLMD's and the index's must each be created once, and
    # every open must succeed (a demo and a dashboard started together do this).
    opener = "import sys, mlstore; mlstore.open(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", opener, store_uri], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(e[-500:] for e in errors)
    store = mlstore.open(store_uri)
    assert store.executions() == [] and store.reindex() == 0
