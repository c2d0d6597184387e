"""Consuming modules: handle → verified local copy → Keras layer, recorded in the run.

>>> import mlstore, mlstore.hub
>>> with mlstore.run(pipeline="flights", step="Trainer") as run:
...     embed = mlstore.hub.load("acme/carrier-embedding/3", trainable=True, run=run)
...     model = build_model(embed)                     # a keras.Model using the layer
...     run.log_model(export(model))
>>> mlstore.hub.consumers("acme/carrier-embedding/3")  # → [the Model logged above]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlstore import errors
from mlstore.hub import registry
from mlstore.hub.cache import cached_copy
from mlstore.hub.handles import Handle


def resolve(handle: str | Handle, store=None, run=None) -> str:
    """A local directory holding the module's SavedModel, verified against its digest.

    Registry modules are copied into the hub cache (keyed by content digest) and
    re-hashed on every call; a corrupt or stale cache entry is replaced. A local-path
    handle is returned as is (it has no digest to check against).

    Args:
        handle: ``publisher/name[/version]`` (newest when unpinned),
            ``grpc://host:port/publisher/name[/version]`` or an absolute local path.
        store: the Store to look the module up in; default the run's store, the
            handle's server, or ``$MLSTORE_URI`` / ``./.mlstore``.
        run: a :class:`mlstore.Run`; the module version is recorded as its input with
            role ``module``.

    Raises:
        InvalidArgument: malformed handle; a run with a local path (nothing to record).
        NotFound: unknown module, version or path.
        IntegrityError: the store's own copy of the module is corrupt.
    """
    h = Handle.parse(handle)
    if h.is_local:
        return _local_module(h, run)
    store = _store_for(h, store, run)
    artifact = registry.find(store, h)
    path = cached_copy(artifact.digest, lambda: Path(store.local_path(artifact.node_id)))
    if run is not None:
        run.use(artifact, role=registry.MODULE_ROLE)
    return str(path)


def use(run, handle: str | Handle) -> "registry.ModuleInfo":
    """Records a module version as an input of ``run`` (role ``module``) and returns its info.

    Raises:
        InvalidArgument: malformed or local-path handle. NotFound: unknown module or version.
    """
    h = Handle.parse(handle)
    if h.is_local:
        raise errors.InvalidArgument(f"{h} is a local path with no registry entry: publish it to record its use")
    store = _store_for(h, None, run)
    artifact = registry.find(store, h)
    run.use(artifact, role=registry.MODULE_ROLE)
    return registry.info(store, artifact)


def load(handle: str | Handle, trainable: bool = False, *, signature: str | None = None,
         output_key: str | None = None, store=None, run=None, **layer_kwargs: Any):
    """Loads a module as a Keras 3 layer (like ``hub.KerasLayer``), cached and verified.

    The raw restored object (what ``tf.saved_model.load`` returns) is the layer's
    ``.module``. With ``trainable=True`` the module's trainable variables are trained
    with the model that contains the layer; the cached and published files never change.

    Args:
        handle, store, run: as in :func:`resolve`.
        trainable: fine-tune the module's variables.
        signature, output_key: see :class:`mlstore.hub.KerasLayer`.

    Returns:
        A :class:`mlstore.hub.KerasLayer`.

    Raises:
        As :func:`resolve`; InvalidArgument for an unknown signature.
    """
    from mlstore.hub.keras_layer import KerasLayer  # noqa: PLC0415 - TensorFlow is heavy

    path = resolve(handle, store=store, run=run)
    return KerasLayer(path, trainable=trainable, signature=signature, output_key=output_key, **layer_kwargs)


def _local_module(h: Handle, run) -> str:
    if run is not None:
        raise errors.InvalidArgument(f"{h} is a local path with no registry entry: publish it to record its use")
    if not (Path(h.path) / "saved_model.pb").is_file():
        raise errors.NotFound(f"{h.path} is not a SavedModel directory (no saved_model.pb)")
    return h.path


def _store_for(h: Handle, store, run):
    if h.server:
        import mlstore  # noqa: PLC0415

        registry.check_server(h, store)
        remote = store if store is not None else mlstore.open(f"grpc://{h.server}")
        if run is not None and run.store.uri != remote.uri:
            raise errors.InvalidArgument(
                f"{h} lives on {h.server} but the run records into {run.store.uri}; "
                "run against the same server to record module use")
        return remote
    if store is not None:
        return registry._store(store)
    return run.store if run is not None else registry._store(None)
