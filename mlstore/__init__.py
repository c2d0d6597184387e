"""mlstore: an ML artifact store and lineage service built on ML Metadata.

The public surface is what this module exports (pinned by tests/unit/test_public_api.py):

>>> import mlstore
>>> store = mlstore.open()                         # ./.mlstore, or $MLSTORE_URI
>>> with mlstore.run(pipeline="demo", step="Trainer", store=store) as run:
...     run.log_model("export/serving")
>>> store.lineage(run.outputs[0], direction="up")
"""

from mlstore import errors
from mlstore.lineage import LineageEdge, LineageGraph, LineageNode
from mlstore.sdk import Run, run
from mlstore.store import LoggedExecution, OutputArtifact, Store, open
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "Blessing",
    "EventRecord",
    "Execution",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "LoggedExecution",
    "MetricPoint",
    "NodeId",
    "OutputArtifact",
    "Run",
    "Store",
    "errors",
    "open",
    "run",
]
