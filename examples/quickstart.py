"""Log a two-step run with the SDK and print its lineage.

    python examples/quickstart.py [STORE]     # default: a temporary store
"""

import sys
import tempfile
from pathlib import Path

import mlstore


def main(store_uri: str) -> None:
    store = mlstore.open(store_uri)
    work = Path(tempfile.mkdtemp())
    (work / "rows.csv").write_text("distance,arr_delay\n1400,11\n1416,20\n")
    with mlstore.run(pipeline="quickstart", step="ExampleGen", store=store) as ingest:
        ingest.log_artifact(work / "rows.csv", "Examples", properties={"span": 20130101})
    (work / "model").mkdir()
    (work / "model" / "weights.txt").write_text("0.42\n")
    with mlstore.run(pipeline="quickstart", step="Trainer", params={"epochs": 1}, store=store, seed=7) as train:
        train.use(ingest.outputs[0], role="examples")
        train.log_artifact(work / "model", "Model")
    graph = store.lineage(train.outputs[0], direction="up")
    for edge in graph.edges:
        print(f"{edge.source} --{edge.role}--> {edge.target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
