"""mlstore: an ML artifact store and lineage service built on ML Metadata.

The public surface is what this module exports (pinned by tests/unit/test_public_api.py):

>>> import mlstore
>>> store = mlstore.open()                         # ./.mlstore, or $MLSTORE_URI: a StoreAPI
>>> with mlstore.run(pipeline="demo", step="Trainer", store=store) as run:
...     run.log_model("export/serving")
>>> store.lineage(run.outputs[0], direction="up")
"""

import os as _os

# MLMD's C++ core logs through glog to stderr, repeating errors that mlstore raises as
# typed exceptions (and chatting on every PostgreSQL connect). glog reads this variable
# when ml_metadata loads; set GLOG_minloglevel=0 yourself to see those logs.
_os.environ.setdefault("GLOG_minloglevel", "3")

from mlstore import errors  # noqa: E402
from mlstore.lineage import LineageEdge, LineageGraph, LineageNode  # noqa: E402
from mlstore.sdk import Run, run  # noqa: E402
from mlstore.opening import open  # noqa: E402
from mlstore.store import LoggedExecution, OutputArtifact, Store  # noqa: E402
from mlstore.store_api import StoreAPI  # noqa: E402
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId  # noqa: E402

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
    "StoreAPI",
    "errors",
    "open",
    "run",
]
