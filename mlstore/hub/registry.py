"""The module registry on a Store: publish immutable versions, find them, find their consumers.

A module version is a ``HubModule`` artifact, output (role ``module``) of a
``HubPublish`` execution whose input (role ``source_model``) is the Model artifact the
SavedModel came from, when a recorded run produced it. The MLMD artifact name is
``publisher/name/version``; MLMD keeps artifact names unique per type, so two
publishers racing for the same next version cannot both get it: the loser's whole
transaction is rolled back and it retries with the next number.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from mlstore import capture, errors
from mlstore._records import OutputArtifact
from mlstore.blobs import collect_files, manifest_of
from mlstore.hub.handles import Handle, check_part
from mlstore.hub.signatures import summarize
from mlstore.types import Artifact

HUB_PIPELINE = "hub"
MODULE_TYPE = "HubModule"
MODULE_ROLE = "module"
SOURCE_ROLE = "source_model"
_RACE_ATTEMPTS = 20


@dataclass(frozen=True)
class ModuleInfo:
    """One published module version and what the registry knows about it."""

    handle: str  # publisher/name/version
    publisher: str
    name: str
    version: int
    artifact: str  # artifact:<id>
    digest: str
    size: int
    description: str
    tags: tuple[str, ...]
    license: str
    trainable: bool
    signatures: dict[str, Any] = field(default_factory=dict)
    source_model: str | None = None  # artifact:<id> of the Model it was published from
    source_execution: str | None = None  # the run that produced that Model
    create_time_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"handle": self.handle, "publisher": self.publisher, "name": self.name,
                "version": self.version, "artifact": self.artifact, "digest": self.digest,
                "size": self.size, "description": self.description, "tags": list(self.tags),
                "license": self.license, "trainable": self.trainable, "signatures": self.signatures,
                "source_model": self.source_model, "source_execution": self.source_execution,
                "create_time_ms": self.create_time_ms}


# -- reading -----------------------------------------------------------------------------


def check_server(h: Handle, store) -> None:
    """Raises InvalidArgument when a ``grpc://`` handle names another store than ``store``.

    Why: ``hub show grpc://host:port/acme/emb --store ./local`` used to answer from the
    local store, silently.
    """
    if h.server and store is not None and getattr(store, "uri", None) != f"grpc://{h.server}":
        raise errors.InvalidArgument(f"{h} names the server {h.server}, but the store given is {store.uri}: "
                                     f"drop --store, or use --server {h.server}")


def versions(store, handle: str | Handle) -> list[Artifact]:
    """HubModule artifacts of ``publisher/name`` (any version), oldest version first."""
    h = Handle.parse(handle)
    check_server(h, store)
    found = [a for a in store.artifacts(type=MODULE_TYPE)
             if a.properties.get("publisher") == h.publisher and a.properties.get("name") == h.name
             and a.state == "LIVE"]
    return sorted(found, key=lambda a: int(a.properties["version"]))


def find(store, handle: str | Handle) -> Artifact:
    """The artifact of a handle: the pinned version, or the newest one.

    Raises:
        NotFound: no such module or version. InvalidArgument: a local-path handle.
    """
    h = Handle.parse(handle)
    if h.is_local:
        raise errors.InvalidArgument(f"{h} is a local path, not a registry handle publisher/name[/version]")
    found = versions(store, h)
    if not found:
        raise errors.NotFound(f"no module {h.module} in {store.uri}; list modules with `mlstore hub search ''`")
    if h.version is None:
        return found[-1]
    for artifact in found:
        if int(artifact.properties["version"]) == h.version:
            return artifact
    raise errors.NotFound(f"module {h.module} has no version {h.version}; "
                          f"versions: {', '.join(str(a.properties['version']) for a in found)}")


def info(store, artifact: Artifact) -> ModuleInfo:
    """The :class:`ModuleInfo` of a HubModule artifact (one events query for its lineage)."""
    p = artifact.properties
    source_model, source_execution = _source_of(store, artifact)
    return ModuleInfo(
        handle=f"{p['publisher']}/{p['name']}/{p['version']}", publisher=p["publisher"], name=p["name"],
        version=int(p["version"]), artifact=str(artifact.node_id), digest=artifact.digest or "",
        size=artifact.size or 0, description=p.get("description", ""),
        tags=tuple(json.loads(p.get("tags") or "[]")), license=p.get("license", ""),
        trainable=bool(p.get("trainable", 0)), signatures=json.loads(p.get("signatures") or "{}"),
        source_model=source_model, source_execution=source_execution, create_time_ms=artifact.create_time_ms)


def _source_of(store, artifact: Artifact) -> tuple[str | None, str | None]:
    publish_runs = [e.execution_id for e in store.events(artifact.node_id) if e.is_output]
    for execution_id in publish_runs:
        for event in store.events(f"execution:{execution_id}"):
            if not event.is_output and event.role == SOURCE_ROLE:
                producers = [e.execution_id for e in store.events(f"artifact:{event.artifact_id}") if e.is_output]
                return f"artifact:{event.artifact_id}", (f"execution:{producers[0]}" if producers else None)
    return None, None


def show(handle: str | Handle, store=None) -> ModuleInfo:
    """The pinned version of ``handle``, or its newest version.

    Raises:
        InvalidArgument: malformed handle. NotFound: unknown module or version.
    """
    store = _store(store)
    return info(store, find(store, handle))


def search(text: str = "", tags: Sequence[str] = (), store=None) -> list[ModuleInfo]:
    """Newest version of every module whose handle, description or tags contain ``text``.

    Matching is case-insensitive; every tag in ``tags`` must be present. Sorted by handle.
    """
    store = _store(store)
    needle = text.lower().strip()
    newest: dict[str, Artifact] = {}
    for artifact in store.artifacts(type=MODULE_TYPE):
        if artifact.state != "LIVE":
            continue
        p = artifact.properties
        key = f"{p['publisher']}/{p['name']}"
        if key not in newest or int(p["version"]) > int(newest[key].properties["version"]):
            newest[key] = artifact
    out = []
    for key, artifact in sorted(newest.items()):
        module_tags = json.loads(artifact.properties.get("tags") or "[]")
        haystack = " ".join([key, artifact.properties.get("description", ""), *module_tags]).lower()
        if needle in haystack and all(t in module_tags for t in tags):
            out.append(info(store, artifact))
    return out


def consumers(handle: str | Handle, store=None) -> list[Artifact]:
    """Models produced by executions that used the module with role ``module``.

    A pinned handle means that version; ``publisher/name`` means every version.
    ABANDONED models (outputs of failed runs) are left out. Sorted by id.

    Raises:
        InvalidArgument: malformed handle. NotFound: unknown module or version.
    """
    store = _store(store)
    h = Handle.parse(handle)
    modules = [find(store, h)] if h.version is not None else versions(store, h)
    if not modules:
        find(store, h)  # raises NotFound with the standard message
    executions = sorted({e.execution_id for m in modules for e in store.events(m.node_id)
                         if not e.is_output and e.role == MODULE_ROLE})
    models: dict[int, Artifact] = {}
    for execution_id in executions:
        for event in store.events(f"execution:{execution_id}"):
            if event.is_output and event.artifact_id not in models:
                artifact = store.artifact(f"artifact:{event.artifact_id}")
                if artifact.type == "Model" and artifact.state != "ABANDONED":
                    models[artifact.id] = artifact
    return [models[i] for i in sorted(models)]


# -- publishing --------------------------------------------------------------------------


def publish(path: str | Path, handle: str | Handle, *, description: str = "", tags: Sequence[str] = (),
            license: str = "", source: Any = None, store=None) -> ModuleInfo:  # noqa: A002 - the field's name
    """Publishes a TF2 SavedModel directory as the next (or the given) version of a module.

    Idempotent: when the same bytes are already published under this module (at the
    pinned version, or at any version for ``publisher/name``), the existing version is
    returned and nothing is written; its metadata stays as first published.

    Args:
        path: the SavedModel directory.
        handle: ``publisher/name`` (next version) or ``publisher/name/version`` (must be
            an existing version with identical bytes, or the next version).
        description: Markdown documentation.
        tags: labels for search, each ``[a-z0-9][a-z0-9_.-]*``.
        license: license name or SPDX id.
        source: the Model artifact the SavedModel came from; default: found by digest.
        store: a Store (default ``$MLSTORE_URI`` / ``./.mlstore``).

    Returns:
        The :class:`ModuleInfo` of the published (or existing) version.

    Raises:
        InvalidArgument: bad handle, tag or SavedModel; a version that skips ahead.
        AlreadyExists: the pinned version holds different bytes.
        NotFound: no such path or source artifact.
    """
    store = _store(store)
    h = _publish_handle(handle)
    for tag in tags:
        check_part("tag", tag)
    summary = summarize(path)
    digest = manifest_of(collect_files(Path(path))).digest  # checked before any byte is stored
    existing = _existing_or_none(store, h, digest)
    if existing is not None:
        return info(store, existing)
    source_artifact = store.artifact(source) if source is not None else _model_with_digest(store, digest)
    blob = store.blobs.publish(path)
    properties = {"publisher": h.publisher, "name": h.name, "description": description,
                  "tags": json.dumps(sorted(set(tags))), "license": license,
                  "signatures": json.dumps(summary.signatures, sort_keys=True), "trainable": int(summary.trainable)}
    inputs = [(source_artifact.id, SOURCE_ROLE)] if source_artifact else []
    return _write_version(store, h, blob, properties, inputs)


def _publish_handle(handle: str | Handle) -> Handle:
    h = Handle.parse(handle)
    if h.is_local or h.server:
        raise errors.InvalidArgument(f"publish needs a handle publisher/name[/version], not {h}; "
                                     "choose the store with --store/--server")
    return h


def _existing_or_none(store, h: Handle, digest: str) -> Artifact | None:
    """The version to return instead of publishing, None to publish; raises on conflicts."""
    found = versions(store, h)
    if h.version is None:
        same = [a for a in found if a.digest == digest]
        return same[-1] if same else None
    for artifact in found:
        if int(artifact.properties["version"]) == h.version:
            if artifact.digest == digest:
                return artifact
            raise errors.AlreadyExists(
                f"{h} is already published with different content ({artifact.digest[:19]}); "
                f"versions are immutable: publish {h.module} to get a new version")
    _check_next(h, found)
    return None


def _check_next(h: Handle, found: list[Artifact]) -> None:
    expected = _next_version(found)
    if h.version != expected:
        raise errors.InvalidArgument(f"versions of {h.module} are assigned in order: the next one is "
                                     f"{expected}, not {h.version}; publish {h.module} without a version")


def _next_version(found: list[Artifact]) -> int:
    return max((int(a.properties["version"]) for a in found), default=0) + 1


def _model_with_digest(store, digest: str) -> Artifact | None:
    """The newest recorded Model with these exact bytes, or whose ``Format-Serving/`` has
    them (``log_model`` of a SavedModel): the run that produced the module."""
    try:
        candidate = store.artifact(digest)
        if candidate.type == "Model":
            return candidate
    except errors.NotFound:
        pass
    models = [a for a in store.artifacts(type="Model")
              if digest in (a.digest, a.properties.get("serving_digest"))]
    return models[-1] if models else None


def _write_version(store, h: Handle, blob, properties: dict, inputs: list) -> ModuleInfo:
    for attempt in range(_RACE_ATTEMPTS):
        found = versions(store, h)
        version = h.version or _next_version(found)
        name = f"{h.module}/{version}"
        output = OutputArtifact(MODULE_TYPE, blob.uri, blob.digest, blob.size, MODULE_ROLE,
                                {**properties, "version": version}, name=name)
        try:
            logged = store.log_execution(
                "HubPublish", HUB_PIPELINE, inputs=inputs, outputs=[output],
                properties={**capture.capture_properties(), "params": json.dumps({"handle": name})})
        except errors.AlreadyExists:
            winner = _winner(store, name)
            if winner is not None and winner.digest == blob.digest:
                return info(store, winner)  # a racing publisher stored the same bytes
            if h.version is not None:
                raise errors.AlreadyExists(f"{name} was just published by someone else with different content")
            time.sleep(0.02 * (attempt + 1))
            continue
        return info(store, store.artifact(f"artifact:{logged.output_ids[0]}"))
    raise errors.Unavailable(f"could not claim a version of {h.module} after {_RACE_ATTEMPTS} attempts; retry")


def _winner(store, name: str) -> Artifact | None:
    """The artifact that holds MLMD name ``name``, once the index has it."""
    return store.artifact_named(MODULE_TYPE, name)


def _store(store):
    if store is None or isinstance(store, str):
        import mlstore  # noqa: PLC0415 - mlstore imports this package lazily

        return mlstore.open(store)
    return store
