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
