"""Pushing a recorded Model to TensorFlow Serving, recorded as a Pusher execution.

>>> result = store.push("artifact:12", to="/srv/serving", name="flights")
>>> result.version, result.destination          # 3, '/srv/serving/flights/3'

:func:`push_model` (what ``mlstore push``, ``Store.push`` and the gRPC ``PushModel``
run):

1. the model must be blessed: its newest gate decision (ModelBlessing) says
   ``blessed``; otherwise :class:`~mlstore.errors.ModelNotBlessed`, unless ``force``
   (the execution then records ``forced=1``);
2. its serving SavedModel (``Format-Serving/``) is read through the store's verified
   read and installed as the next integer version under ``<base>/<name>/``
   (:mod:`mlstore.serving`: staged, renamed atomically, never reusing a version);
3. a ``Pusher`` execution records it: inputs ``model`` (and ``blessing``), output a
   ``PushedModel`` whose blob is the pushed directory's bytes (its digest is the
   digest of what TF Serving loads) with TFX's Pusher properties ``pushed``,
   ``pushed_destination`` and ``pushed_version``.

If recording fails, the version directory is removed again: a version is never
served without its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstore import errors, serving
from mlstore.tfx.layout import serving_model_path
from mlstore.tfx.records import BLESSED
from mlstore.types import Artifact

PUSHER = "Pusher"


@dataclass(frozen=True)
class PushResult:
    """A recorded push.

    Attributes:
        model: the Model pushed.
        blessing: the ModelBlessing that allowed it (None: forced without one).
        pushed_model: the recorded PushedModel (its digest is the pushed directory's).
        execution_id: the Pusher execution.
        version: the TF Serving version (the directory's name).
        destination: the version directory.
        forced: pushed with ``force`` although not blessed.
    """

    model: Artifact
    blessing: Artifact | None
    pushed_model: Artifact
    execution_id: int
    version: int
    destination: str
    forced: bool

    def to_json(self) -> dict[str, Any]:
        return {"model": str(self.model.node_id),
                "blessing": str(self.blessing.node_id) if self.blessing is not None else None,
                "pushed_model": str(self.pushed_model.node_id), "digest": self.pushed_model.digest,
                "execution": f"execution:{self.execution_id}", "version": self.version,
                "destination": self.destination, "forced": self.forced}


def pushed_properties(installed: serving.InstalledVersion) -> dict[str, Any]:
    """The custom properties TFX's Pusher writes on a PushedModel."""
    return {"pushed": 1, "pushed_destination": str(installed.path), "pushed_version": str(installed.version)}


def is_blessed(blessing: Artifact | None) -> bool:
    return blessing is not None and bool(blessing.properties.get(BLESSED))


def newest_blessing(store, model: Artifact) -> Artifact | None:
    """The ModelBlessing of the newest gate decision on ``model`` (None: never gated)."""
    decisions = store.blessings(model=model)
    return store.artifact(decisions[-1].id) if decisions else None


def push_model(store, model_ref: Any, base: str | Path, name: str, *, force: bool = False,
               pipeline: str | None = None, run_id: str | None = None) -> PushResult:
    """Pushes a blessed Model to ``<base>/<name>/<next version>/`` and records it (see the module docstring).

    Args:
        store: a local :class:`~mlstore.store.Store` (the bytes are read and the version
            written on this machine).
        model_ref: the Model (``artifact:N``, a digest prefix, an Artifact).
        base: TF Serving's model base path.
        name: the model's name under ``base``.
        force: push even if no gate blessed the model (recorded as forced).
        pipeline: the pipeline the Pusher execution is recorded in (default: the model's).
        run_id: the pipeline run it belongs to (default: a new one).

    Raises:
        NotFound: no such artifact, or its bytes are gone. InvalidArgument: not a Model,
            a bad name, no pipeline. ModelNotBlessed: not blessed and not ``force``.
        FailedPrecondition: the model is not LIVE, or ``base`` is not writable.
        IntegrityError: the model's bytes differ from their digest.
    """
    model = store.artifact(model_ref)
    if model.type != "Model":
        raise errors.InvalidArgument(f"{model.node_id} is a {model.type}; push takes a Model")
    if model.state != "LIVE":
        raise errors.FailedPrecondition(f"{model.node_id} is {model.state}, not LIVE: it cannot be pushed")
    pipeline = pipeline or model.pipeline
    if not pipeline:
        raise errors.InvalidArgument(f"{model.node_id} belongs to no pipeline: name the pipeline to record the push in")
    blessing = newest_blessing(store, model)
    blessed = is_blessed(blessing)
    if not blessed and not force:
        why = ("no gate has decided on it" if blessing is None
               else f"its newest gate decision {blessing.node_id} did not bless it")
        raise errors.ModelNotBlessed(f"{model.node_id} is not blessed ({why}): run `mlstore gate` on it, "
                                     f"or pass --force to push it anyway (recorded as forced)")
    root = serving.check_writable(base, name)
    source = serving_model_path(store.local_path(model))
    params = {"base_dir": str(root.parent), "model_name": name, "force": bool(force)}
    installed = None
    from mlstore import sdk  # noqa: PLC0415 - sdk imports the store, which offers Store.push

    try:
        with sdk.run(pipeline, PUSHER, params, store=store, run_id=run_id) as run:
            run.use(model, "model")
            if blessing is not None:
                run.use(blessing, "blessing")
            run.properties["forced"] = int(not blessed)
            installed = serving.install_version(source, root.parent, name)
            logged = run.log_artifact(installed.path, "PushedModel", "pushed_model", pushed_properties(installed))
            if logged.digest != installed.digest:
                raise errors.IntegrityError(f"{installed.path} changed while it was recorded "
                                            f"({installed.digest} copied, {logged.digest} stored)")
    except BaseException:
        if installed is not None:
            serving.remove_version(installed)
        raise
    return PushResult(model, blessing, run.outputs[0], run.execution_id, installed.version, str(installed.path),
                      not blessed)
