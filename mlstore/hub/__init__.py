"""Module registry in the spirit of TensorFlow Hub: immutable ``publisher/name/version`` modules.

>>> import mlstore.hub as hub
>>> hub.publish("export/embedding", "acme/carrier-embedding", description="# Carriers", tags=["embedding"])
>>> layer = hub.load("acme/carrier-embedding/1", trainable=True)   # a Keras 3 layer
>>> hub.consumers("acme/carrier-embedding/1")                      # Models that used it

Layout: ``handles`` (parsing and rules), ``registry`` (publish/search/show/consumers on a
Store), ``cache`` (content-digest cache, verified on use), ``load`` (resolve/load/use),
``keras_layer`` (the layer), ``modules`` (building an embedding module),
``signatures`` (signatures read from a SavedModel).
"""

from mlstore.hub.handles import Handle
from mlstore.hub.load import load, resolve, use
from mlstore.hub.registry import ModuleInfo, consumers, publish, search, show


def __getattr__(name: str):
    # TensorFlow is imported only when a layer or a module is built.
    if name == "KerasLayer":
        from mlstore.hub.keras_layer import KerasLayer

        return KerasLayer
    if name == "export_embedding_module":
        from mlstore.hub.modules import export_embedding_module

        return export_embedding_module
    raise AttributeError(f"module 'mlstore.hub' has no attribute {name!r}")


__all__ = ["Handle", "KerasLayer", "ModuleInfo", "consumers", "export_embedding_module", "load",
           "publish", "resolve", "search", "show", "use"]
