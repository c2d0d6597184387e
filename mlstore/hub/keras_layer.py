"""A Keras 3 layer around a restored SavedModel module, the way ``hub.KerasLayer`` works.

``tensorflow_hub.KerasLayer`` needs Keras 2 (tf_keras); this one is Keras 3. The
module's own ``tf.Variable`` objects become the layer's weights (Keras 3 wraps an
existing ``tf.Variable`` without copying it), so training a model that contains the
layer fine-tunes the restored variables in memory; the module's files never change.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from mlstore.errors import InvalidArgument


class KerasLayer(keras.layers.Layer):
    """Calls a restored SavedModel: its ``__call__`` function, or a named signature.

    Args:
        module_path: local SavedModel directory (use :func:`mlstore.hub.load` to get one
            from a handle, cached and verified).
        trainable: whether the module's trainable variables are trained with the model.
        signature: call this signature (e.g. "serving_default") instead of ``__call__``;
            default ``__call__`` when the module is callable, else "serving_default".
        output_key: which output of a dict-returning signature to return; default the
            only output.

    Raises:
        InvalidArgument: no such signature, or an ambiguous output without ``output_key``.
    """

    def __init__(self, module_path: str, trainable: bool = False, signature: str | None = None,
                 output_key: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, **kwargs)
        self.module_path = str(module_path)
        self.module = tf.saved_model.load(self.module_path)
        self.signature = signature or ("__call__" if callable(self.module) else "serving_default")
        self.output_key = output_key
        self._fn = self._endpoint(self.signature)
        # Attribute assignment is how Keras 3 tracks weights; the list keeps their order.
        self.module_weights = [
            keras.Variable(initializer=v, trainable=v.trainable, dtype=v.dtype.name, shape=v.shape,
                           name=v.name.split(":")[0].replace("/", "_"))
            for v in _variables_of(self._fn)
        ]
        self.built = True

    def _endpoint(self, name: str):
        if name == "__call__":
            return self.module.__call__
        if name in self.module.signatures:
            return self.module.signatures[name]
        raise InvalidArgument(f"module {self.module_path} has no signature {name!r}; "
                              f"it has: {', '.join(sorted(self.module.signatures)) or 'none'}")

    def call(self, inputs, training=None):
        if self.signature == "__call__":
            outputs = self._fn(inputs)
        elif isinstance(inputs, dict):
            outputs = self._fn(**inputs)
        else:
            outputs = self._fn(**{_only(self._fn.structured_input_signature[1], "input", self.module_path): inputs})
        if not isinstance(outputs, dict):
            return outputs
        key = self.output_key or _only(outputs, "output", self.module_path)
        return outputs[key]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "module_path": self.module_path,
                "signature": self.signature, "output_key": self.output_key}


def _variables_of(fn) -> list[tf.Variable]:
    """Variables the endpoint reads, trainable first, without duplicates."""
    concrete = getattr(fn, "concrete_functions", None) or [fn]
    seen: dict[int, tf.Variable] = {}
    for c in concrete:
        for v in list(c.trainable_variables) + list(c.variables):
            seen.setdefault(id(v), v)
    return sorted(seen.values(), key=lambda v: not v.trainable)


def _only(mapping, what: str, where: str) -> str:
    if len(mapping) != 1:
        raise InvalidArgument(f"module {where} has {len(mapping)} {what}s ({', '.join(sorted(mapping))}); "
                              f"pass output_key= / a dict of inputs to choose")
    return next(iter(mapping))
