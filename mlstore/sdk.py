"""The Python SDK: ``mlstore.run(...)`` records one step execution with its artifacts.

>>> import mlstore
>>> with mlstore.run(pipeline="flights", step="Trainer", params={"epochs": 2}) as run:
...     run.use("artifact:1", role="examples")
...     model_dir = train(...)                       # your code
...     run.log_model(model_dir)
>>> run.outputs[0].id                               # ids exist once the block has ended

Artifact bytes are published (content-addressed, immutable) when logged; the execution
with all its events is written to MLMD in one transaction when the block ends. If the
block raises, the execution is recorded FAILED with the error, its outputs ABANDONED
(never LIVE), and the exception propagates.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from mlstore import capture, errors, schema
from mlstore.blobs import collect_files, manifest_of
from mlstore.names import check_name
from mlstore._records import OutputArtifact
from mlstore.opening import open as open_store
from mlstore.store_api import StoreAPI
from mlstore.tfx.layout import SERVING_DIR
from mlstore.types import Artifact

EVALUATION_FORMAT_VERSION = 1

log = logging.getLogger("mlstore.sdk")


@dataclass(eq=False)
class PendingOutput:
    """An output logged inside a run: its bytes are stored, its id comes at the end.

    Keep it: once the run's block has ended it resolves to the recorded artifact
    (``.artifact``, ``.id``, ``.node_id``), so it can be passed to a later run's
    :meth:`Run.use` or to any Store call taking a reference. Before that it has no id.
    """

    type: str
    role: str
    digest: str
    size: int
    uri: str
    _run: "Run | None" = field(default=None, repr=False)
    _artifact: Artifact | None = field(default=None, repr=False)

    @property
    def artifact(self) -> Artifact:
        """The recorded artifact.

        Raises:
            FailedPrecondition: the run that logged it has not ended yet.
        """
        if self._artifact is None:
            raise errors.FailedPrecondition(
                f"the {self.type} output {self.role!r} has no id until its run's `with` block ends")
        return self._artifact

    @property
    def id(self) -> int:
        return self.artifact.id

    @property
    def node_id(self):
        return self.artifact.node_id

    def __str__(self) -> str:
        return str(self._artifact.node_id) if self._artifact is not None else f"<pending {self.type} {self.role}>"


class Run:
    """One step execution being recorded. Create it with :func:`mlstore.run`."""

    def __init__(self, store: StoreAPI, pipeline: str, step: str, params: Mapping[str, Any],
                 run_id: str | None, seed: int | None):
        self.store = store
        self.pipeline = pipeline
        self.step = step
        self.params = dict(params)
        self.run_id = run_id
        self.seeds: dict[str, int] = {}
        self.properties: dict[str, Any] = {}
        self._inputs: list[tuple[int, str]] = []
        self._outputs: list[OutputArtifact] = []
        self._pending: list[PendingOutput] = []
        self.execution_id: int | None = None
        self.outputs: list[Artifact] = []
        self._start_ms = int(time.time() * 1000)
        if seed is not None:
            self.set_seed(seed)

    # -- inputs --------------------------------------------------------------------------

    def use(self, ref: Any, role: str) -> Artifact:
        """Records an existing artifact as an input with ``role`` (e.g. "examples").

        Raises:
            NotFound / InvalidArgument: ``ref`` does not name an artifact.
        """
        _check_role(role)
        if isinstance(ref, PendingOutput):
            if ref._run is self:
                raise errors.InvalidArgument(
                    f"the {ref.type} output {ref.role!r} of this run cannot also be its input")
            ref = ref.artifact  # FailedPrecondition while the run that logged it is still open
        artifact = ref if isinstance(ref, Artifact) else self.store.artifact(ref)
        self._inputs.append((artifact.id, role))
        return artifact

    # -- outputs -------------------------------------------------------------------------

    def log_artifact(self, path: str | Path, type: str, role: str | None = None,
                     properties: Mapping[str, Any] | None = None, name: str | None = None) -> PendingOutput:
        """Stores the file or directory at ``path`` by content and records it as an output.

        Args:
            path: a file or directory; symlinks must stay inside it.
            type: an mlstore artifact type (``schema.ARTIFACT_TYPES``).
            role: the output role; defaults to the type name in snake case.
            properties: type properties (validated against the schema).

        Raises:
            InvalidArgument: unknown type or property, symlink escape. NotFound: no path.
        """
        if not isinstance(path, (str, Path)):
            raise errors.InvalidArgument(f"path must be a str or Path, not {_type_name(path)}")
        if not isinstance(type, str):
            raise errors.InvalidArgument(f"type must be an artifact type name (str), not {_type_name(type)}")
        if properties is not None and not isinstance(properties, Mapping):
            raise errors.InvalidArgument(f"properties must be a mapping, not {_type_name(properties)}")
        if name is not None and not isinstance(name, str):
            raise errors.InvalidArgument(f"name must be a str, not {_type_name(name)}")
        return self._log_output(lambda blobs: blobs.publish(path), type, role, properties, name)

    def _log_output(self, publish: Callable[[Any], Any], type: str, role: str | None,
                    properties: Mapping[str, Any] | None, name: str | None = None) -> PendingOutput:
        """Checks an output's type, properties and role, then ``publish(blobs)`` stores its bytes."""
        properties = dict(properties or {})
        schema.check_artifact_properties(type, properties)
        role = role or _snake(type)
        _check_role(role)
        blob = publish(self.store.blobs)
        self._outputs.append(OutputArtifact(type, blob.uri, blob.digest, blob.size, role, properties, name))
        pending = PendingOutput(type, role, blob.digest, blob.size, blob.uri, _run=self)
        self._pending.append(pending)
        return pending

    def log_model(self, saved_model_dir: str | Path, role: str = "model",
                  properties: Mapping[str, Any] | None = None) -> PendingOutput:
        """Logs a SavedModel directory as a ``Model`` artifact, laid out as TFX lays one out.

        A directory with ``saved_model.pb`` at its top is stored as ``Format-Serving/``
        of the artifact (where TFX's Pusher and Evaluator look); a directory that already
        has ``Format-Serving/saved_model.pb`` (the built-in Trainer's output) is stored as is.

        Raises:
            InvalidArgument: the directory has no saved_model.pb.
        """
        if not isinstance(saved_model_dir, (str, Path)):
            raise errors.InvalidArgument(f"saved_model_dir must be a str or Path, not {_type_name(saved_model_dir)}")
        source = Path(saved_model_dir)
        if (source / SERVING_DIR / "saved_model.pb").is_file():
            return self.log_artifact(source, "Model", role, properties)
        if not (source / "saved_model.pb").is_file():
            raise errors.InvalidArgument(f"{saved_model_dir} is not a SavedModel (no saved_model.pb)")
        files = collect_files(source)
        # The digest the SavedModel has on its own (what `hub publish` of it stores).
        serving = manifest_of(files).digest
        if properties is not None and not isinstance(properties, Mapping):
            raise errors.InvalidArgument(f"properties must be a mapping, not {_type_name(properties)}")
        # Stored as Format-Serving/<file> straight from the source: no copy to lay it out first.
        laid_out = [(f"{SERVING_DIR}/{rel}", full) for rel, full in files]
        return self._log_output(lambda blobs: blobs.publish_files(laid_out), "Model", role,
                                {"serving_digest": serving, **(properties or {})})

    def log_evaluation(self, metrics: Mapping[str, Mapping[str, float]], role: str = "evaluation",
                       directory: str | Path | None = None,
                       properties: Mapping[str, Any] | None = None) -> PendingOutput:
        """Logs a ModelEvaluation: ``{slice: {metric: value}}`` plus any files in ``directory``.

        The metrics are stored both in the blob (``metrics.json``) and on the MLMD
        artifact, so the index can be rebuilt even after the bytes are collected.
        """
        if not isinstance(metrics, Mapping) or not all(isinstance(m, Mapping) for m in metrics.values()):
            raise errors.InvalidArgument("metrics must be a mapping {slice: {metric: number}}")
        try:
            clean = {str(s): {str(k): float(v) for k, v in m.items()} for s, m in metrics.items()}
        except (TypeError, ValueError):
            raise errors.InvalidArgument("metrics must be a mapping {slice: {metric: number}}; "
                                         "a metric value is not a number") from None
        if properties is not None and not isinstance(properties, Mapping):
            raise errors.InvalidArgument(f"properties must be a mapping, not {_type_name(properties)}")
        props = {"metrics": json.dumps(clean, sort_keys=True),
                 "format_version": EVALUATION_FORMAT_VERSION, **(properties or {})}

        def write_metrics(target: Path) -> None:
            if not (target / "metrics.json").exists():
                (target / "metrics.json").write_text(json.dumps(
                    {"format_version": EVALUATION_FORMAT_VERSION,
                     "slices": [{"slice": s, "metrics": m} for s, m in sorted(clean.items())]},
                    indent=1, sort_keys=True))

        if directory:
            write_metrics(Path(directory))
            return self.log_artifact(directory, "ModelEvaluation", role, props)
        # metrics.json is written straight into the blob's staging directory: no temporary copy.
        return self._log_output(lambda blobs: blobs.publish_written(write_metrics), "ModelEvaluation", role, props)

    def set_seed(self, seed: int) -> None:
        """Seeds Python, NumPy and (when imported) TensorFlow, and records the seed."""
        random.seed(seed)
        try:
            import numpy as np  # noqa: PLC0415

            np.random.seed(seed)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
        import sys  # noqa: PLC0415

        if "tensorflow" in sys.modules:
            sys.modules["tensorflow"].random.set_seed(seed)
        self.seeds["global"] = seed

    # -- end -----------------------------------------------------------------------------

    def _finish(self, error: BaseException | None) -> None:
        properties = {
            **capture.capture_properties(blobs=self.store.blobs),
            "params": json.dumps(self.params, sort_keys=True, default=str),
            "seeds": json.dumps(self.seeds, sort_keys=True),
            "start_time_ms": float(self._start_ms),
            "end_time_ms": time.time() * 1000.0,
            **self.properties,
        }
        if error is not None:
            properties["error"] = f"{type(error).__name__}: {error}"[:4000]
        try:
            logged = self.store.log_execution(
                self.step, self.pipeline, inputs=self._inputs, outputs=self._outputs,
                properties=properties, state="FAILED" if error else "COMPLETE", run_id=self.run_id,
            )
        except errors.MlstoreError as write_error:
            if error is not None or isinstance(write_error, (errors.InvalidArgument, errors.NotFound,
                                                             errors.IndexBehind)):
                raise  # (IndexBehind: MLMD has the run, recording it again would duplicate it)
            self._record_failed_write(properties, write_error)
            raise
        self.execution_id = logged.execution_id
        # The artifacts as just indexed (a remote store's answer has only their ids).
        outputs = getattr(logged, "outputs", ())
        self.outputs = list(outputs) if len(outputs) == len(logged.output_ids) and outputs else [
            self.store.artifact(i) for i in logged.output_ids]
        for pending, artifact in zip(self._pending, self.outputs):
            pending._artifact = artifact  # the handles a caller kept now resolve
            pending._run = None

    def _record_failed_write(self, properties: dict[str, Any], write_error: errors.MlstoreError) -> None:
        """Records the run FAILED (outputs ABANDONED) after its COMPLETE write finally failed.

        Why: a run whose write failed (after the MLMD chokepoint's retries) must not
        vanish with its bytes orphaned; the FAILED record says what happened. When even
        that write fails, the blobs stay unreferenced and gc reclaims them after its
        grace period.
        """
        failed = {**properties, "error": f"recording the run failed: {type(write_error).__name__}: "
                                         f"{write_error}"[:4000]}
        log.warning("recording %s/%s failed (%s); recording it FAILED", self.pipeline, self.step, write_error)
        try:
            logged = self.store.log_execution(self.step, self.pipeline, inputs=self._inputs, outputs=self._outputs,
                                              properties=failed, state="FAILED", run_id=self.run_id)
        except errors.MlstoreError:
            return
        self.execution_id = logged.execution_id


@contextmanager
def run(pipeline: str, step: str, params: Mapping[str, Any] | None = None, *,
        store: StoreAPI | str | None = None, run_id: str | None = None, seed: int | None = None) -> Iterator[Run]:
    """Records the enclosed block as one execution of ``step`` in ``pipeline``.

    Args:
        pipeline: pipeline name (an MLMD ``pipeline`` context).
        step: the step / execution type, e.g. "Trainer".
        params: the step's parameters (recorded as canonical JSON).
        store: a Store, a store URI, or None for ``$MLSTORE_URI`` / ``./.mlstore``.
        run_id: groups steps into a ``pipeline_run`` context (default: a new id).
        seed: seeds Python/NumPy/TensorFlow and records it.

    Yields:
        The :class:`Run`; after the block, ``run.execution_id`` and ``run.outputs`` are set.
    """
    for label, value in (("pipeline", pipeline), ("step", step)):
        if not isinstance(value, str) or not value:
            raise errors.InvalidArgument(f"{label} must be a non-empty str, not {value!r}")
        check_name(label, value)
    if params is not None and not isinstance(params, Mapping):
        raise errors.InvalidArgument(f"params must be a mapping, not {_type_name(params)}")
    if run_id is not None and not isinstance(run_id, str):
        raise errors.InvalidArgument(f"run_id must be a str, not {_type_name(run_id)}")
    if run_id is not None:
        check_name("run_id", run_id)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise errors.InvalidArgument(f"seed must be an int, not {_type_name(seed)}")
    if store is not None and not isinstance(store, (str, Path, StoreAPI)):
        raise errors.InvalidArgument(f"store must be a Store or a store URI, not {_type_name(store)}")
    the_store = store if isinstance(store, StoreAPI) else open_store(None if store is None else str(store))
    current = Run(the_store, pipeline, step, params or {}, run_id or uuid.uuid4().hex[:12], seed)
    try:
        yield current
    except BaseException as e:
        current._finish(e)
        raise
    current._finish(None)


def _snake(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i:
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_role(role: str) -> None:
    if not isinstance(role, str):
        raise errors.InvalidArgument(f"role must be a str, not {_type_name(role)}")
    check_name("role", role)
    if not role or not role.replace("_", "").isalnum() or len(role) > 64:
        raise errors.InvalidArgument(f"role {role!r} must be 1-64 letters, digits or '_'")
