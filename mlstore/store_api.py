"""The store interface: what every mlstore store answers, local or remote.

Two implementations:

* :class:`mlstore.store.Store`: the embedded store (MLMD + blobs + index, in a
  directory or a MySQL/PostgreSQL database);
* :class:`mlstore.client.RemoteStore`: the same calls through ``mlstore serve``.

:func:`mlstore.open` returns one or the other for a URI. Feature modules, the CLI and the
dashboard take a :class:`StoreAPI` and call only what is declared here; a call the
server does not offer yet raises :class:`~mlstore.errors.Unimplemented` on a remote
store, naming what to run instead. ``tests/unit/test_store_api.py`` checks that both
implementations define every method with the same parameters.

References (``ref``) are ``artifact:N``, ``execution:N``, a unique ``sha256:`` prefix, an
int (an artifact id), or a record (:class:`~mlstore.types.Artifact`,
:class:`~mlstore.types.Execution`, :class:`~mlstore.types.NodeId`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from mlstore._records import LoggedExecution, OutputArtifact
from mlstore.types import Artifact, Blessing, EventRecord, Execution, MetricPoint, NodeId

if TYPE_CHECKING:
    from mlstore.blobs import BlobStore
    from mlstore.diff import RunDiff
    from mlstore.gc.policy import RetentionPolicy
    from mlstore.gc.sweep import GcResult
    from mlstore.index.follow import Follower
    from mlstore.lineage import LineageGraph
    from mlstore.push import PushResult
    from mlstore.warmstart.policies import Selection

__all__ = ["BytesReport", "StoreAPI"]


@dataclass(frozen=True)
class BytesReport:
    """What :meth:`StoreAPI.check_bytes` found: how many artifacts were hashed, which could
    not be (and why), which are corrupted (and how)."""

    hashed: int
    not_hashed: dict[NodeId, str]
    corrupted: dict[NodeId, list[str]]


class StoreAPI(abc.ABC):
    """An mlstore store: records (MLMD), their index, and the artifacts' bytes.

    ``blobs`` is the store's :class:`~mlstore.blobs.BlobStore` (for a remote store, the
    shared artifact root its server advertises): bytes never go through the server.
    """

    blobs: "BlobStore"

    @property
    @abc.abstractmethod
    def uri(self) -> str:
        """The URI the store was opened with (a directory, a database or ``grpc://``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections (and stops followers); the store is unusable afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_access(self, scope: str) -> None:
        """Raises PermissionDenied (Unauthenticated) when this store may not be used for
        ``scope`` ("read", "write" or "admin"): through a server, the token's scopes, asked
        before long work that would otherwise fail only when it records. A local store
        has no scopes (the files' permissions apply)."""
        return None

    # -- write path ------------------------------------------------------------------------

    @abc.abstractmethod
    def log_execution(self, step: str, pipeline: str, *, inputs: Sequence[tuple[int, str]] = (),
                      outputs: Sequence[OutputArtifact] = (), properties: Mapping[str, Any] | None = None,
                      state: str = "COMPLETE", run_id: str | None = None,
                      reused_outputs: Sequence[tuple[int, str]] = ()) -> LoggedExecution:
        """Records one execution with its inputs and outputs atomically.

        See :meth:`mlstore.store.Store.log_execution` (arguments, errors).
        """

    @abc.abstractmethod
    def reindex(self, force: bool = False) -> int:
        """Rebuilds the index from MLMD; returns the number of executions indexed."""

    @abc.abstractmethod
    def follow(self, interval_s: float = 2.0) -> "Follower | None":
        """Indexes other MLMD writers' executions (TFX runs) as they finish, every ``interval_s``
        seconds; stop the returned follower with ``.stop()``. None where nothing needs
        starting (a server follows its own database)."""

    @abc.abstractmethod
    def set_custom_properties(self, ref: Any, values: Mapping[str, str | int | None]) -> None:
        """Sets (None: removes) custom properties of an artifact, in MLMD and the index (pins)."""

    @abc.abstractmethod
    def collect_garbage(self, policy: "RetentionPolicy", *, dry_run: bool = False,
                        progress: Callable[[str], None] | None = None, batch_size: int | None = None) -> "GcResult":
        """Reclaims what ``policy`` does not keep (see :func:`mlstore.gc.sweep.collect`);
        through a server, RPC CollectGarbage (admin scope)."""

    @abc.abstractmethod
    def pin(self, ref: Any, reason: str = "") -> "Pin":
        """Pins an artifact so gc always keeps it and what it was made from (:func:`mlstore.gc.pin`)."""

    @abc.abstractmethod
    def unpin(self, ref: Any) -> bool:
        """Removes a pin; False when the artifact was not pinned."""

    @abc.abstractmethod
    def pins(self) -> list["Pin"]:
        """Every pinned artifact, in id order."""

    # -- query path ------------------------------------------------------------------------

    @abc.abstractmethod
    def resolve(self, ref: Any) -> NodeId:
        """The node ``ref`` refers to. Raises NotFound, InvalidArgument, AmbiguousReference."""

    @abc.abstractmethod
    def artifact(self, ref: Any) -> Artifact:
        """The artifact ``ref`` refers to. Raises NotFound; InvalidArgument for an execution."""

    @abc.abstractmethod
    def execution(self, ref: Any) -> Execution:
        """The execution ``ref`` refers to. Raises NotFound; InvalidArgument for an artifact."""

    @abc.abstractmethod
    def artifacts(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                  after_id: int = 0, limit: int | None = None, order: str = "asc",
                  before_id: int | None = None, since_ms: int | None = None) -> list[Artifact]:
        """Artifacts in id order (``order="desc"``: newest first), optionally filtered and paged."""

    @abc.abstractmethod
    def executions(self, *, type: str | None = None, pipeline: str | None = None, state: str | None = None,
                   after_id: int = 0, limit: int | None = None, order: str = "asc",
                   before_id: int | None = None, since_ms: int | None = None) -> list[Execution]:
        """Executions in id order, filtered and paged as :meth:`artifacts`."""

    @abc.abstractmethod
    def events(self, ref: Any) -> list[EventRecord]:
        """Inputs and outputs of an execution, or the events touching an artifact."""

    @abc.abstractmethod
    def lineage(self, start: Any, direction: str = "up", depth: int | None = None,
                types: Sequence[str] = ()) -> "LineageGraph":
        """The lineage graph around one or more nodes ("up", "down" or "both"), at any depth."""

    @abc.abstractmethod
    def pipelines(self) -> list[str]:
        """Names of every pipeline with at least one execution."""

    @abc.abstractmethod
    def newest_execution_id(self) -> int:
        """The id of the newest execution (0 for an empty store): a cheap store version."""

    @abc.abstractmethod
    def index_revision(self) -> str | None:
        """The index schema's migration revision (None for a database never migrated)."""

    @abc.abstractmethod
    def artifact_named(self, type: str, name: str) -> Artifact | None:
        """The artifact of ``type`` recorded under the unique MLMD ``name`` (None when there is none)."""

    @abc.abstractmethod
    def cached_execution_ids(self, cache_key: str) -> list[int]:
        """Ids of COMPLETE executions recorded with ``cache_key`` (the pipeline cache), newest first."""

    # -- models, metrics and gates ---------------------------------------------------------

    @abc.abstractmethod
    def metric_series(self, pipeline: str, metric: str, slice: str = "Overall") -> list[MetricPoint]:
        """Every model's value of ``metric`` on ``slice`` in ``pipeline``, ordered by span."""

    @abc.abstractmethod
    def metric_names(self, pipeline: str) -> list[str]:
        """Sorted names of every metric evaluated in ``pipeline``."""

    @abc.abstractmethod
    def slices(self, pipeline: str, metric: str | None = None) -> list[str]:
        """Slice keys evaluated in ``pipeline`` (with ``metric``): "Overall" first, then sorted."""

    @abc.abstractmethod
    def evaluation_metrics(self, ref: Any) -> dict[str, dict[str, float]]:
        """``{slice: {metric: value}}`` of a ModelEvaluation artifact."""

    @abc.abstractmethod
    def latest_blessed(self, pipeline: str) -> Artifact | None:
        """The blessed model with the newest span in ``pipeline`` (None when none is blessed)."""

    @abc.abstractmethod
    def daily_models(self, pipeline: str, *, newest: int | None = None) -> list[Artifact]:
        """The daily model of each span in ``pipeline`` (reruns left out), oldest span first."""

    @abc.abstractmethod
    def newest_daily_model(self, pipeline: str) -> Artifact | None:
        """The daily model of the newest span; None when none yet."""

    @abc.abstractmethod
    def blessings(self, *, pipeline: str | None = None, model: Any = None) -> list[Blessing]:
        """Gate decisions, oldest first, optionally for one pipeline or one model."""

    @abc.abstractmethod
    def requirement_of_model(self, ref: Any, *, layer_patterns: tuple[str, ...] | None = None) -> Any:
        """"Compatible with model ``ref``": pass it as ``require_compatible`` to :meth:`select_warm_start`."""

    @abc.abstractmethod
    def select_warm_start(self, pipeline: str, policy: str = "latest_blessed", *, metric: str | None = None,
                          slice: str = "Overall", as_of: int | None = None, require_compatible: Any = None,
                          higher_is_better: bool | None = None, exclude: Sequence[int] = (),
                          explain: str = "ranked") -> "Selection":
        """The warm-start base of ``pipeline``'s next run.

        See :func:`mlstore.warmstart.from_store.select_warm_start` (arguments, errors).
        """

    @abc.abstractmethod
    def push(self, model: Any, to: str, name: str, *, force: bool = False,
             pipeline: str | None = None) -> "PushResult":
        """Pushes a blessed Model to TF Serving's ``<to>/<name>/<next version>/`` and records it."""

    @abc.abstractmethod
    def diff(self, a: Any, b: Any) -> "RunDiff":
        """What differs between two runs: executions, or artifacts (their producing runs)."""

    # -- data validation (TFDV statistics and anomalies) -----------------------------------

    @abc.abstractmethod
    def statistics_summary(self, ref: Any, split: str | None = None) -> dict[str, Any]:
        """Per split, per feature rows of an ExampleStatistics artifact."""

    @abc.abstractmethod
    def statistics_drift(self, a: Any, b: Any, *, split: str | None = None, threshold: float | None = None,
                         schema: Any = None) -> dict[str, Any]:
        """Per feature drift of ExampleStatistics ``b`` from ``a``."""

    @abc.abstractmethod
    def anomalies_summary(self, ref: Any) -> dict[str, Any]:
        """Per split, per feature anomalies of an ExampleAnomalies artifact."""

    @abc.abstractmethod
    def schema_summary(self, ref: Any) -> dict[str, Any]:
        """The features of a Schema artifact."""

    # -- bytes -----------------------------------------------------------------------------

    @abc.abstractmethod
    def check_bytes(self, refs: Sequence[Any] = ()) -> BytesReport:
        """Re-hashes artifacts' bytes (all non-DELETED artifacts when ``refs`` is empty)."""

    def verify(self, refs: Sequence[Any] = ()) -> dict[NodeId, list[str]]:
        """Re-hashes artifacts' bytes (all non-DELETED artifacts when ``refs`` is empty).

        Returns ``{node id: [problem, ...]}`` for every corrupted artifact (empty when all
        verify). :meth:`check_bytes` also says what could not be hashed.
        """
        return self.check_bytes(refs).corrupted

    @abc.abstractmethod
    def content_digest(self, ref: Any) -> str | None:
        """The digest of an artifact's bytes (None when the store knows none)."""

    @abc.abstractmethod
    def local_path(self, ref: Any) -> str:
        """A local path holding the artifact's verified bytes."""


def check_targets(store: StoreAPI, refs: Sequence[Any]) -> list[Artifact]:
    """The artifacts :meth:`StoreAPI.check_bytes` hashes: ``refs``, or every non-DELETED one."""
    if refs:
        return [store.artifact(r) for r in refs]
    return [a for a in store.artifacts() if a.state != "DELETED"]
