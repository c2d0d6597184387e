"""Small custom Keras layers of the wide-and-deep model (registered for ``model.keras`` loading).

Import this module (importing :mod:`mlstore.components.trainer` does) before
``keras.saving.load_model`` so the classes are found.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mlstore")
class MaskedMeanEmbedding(keras.layers.Layer):
    """Mean of the embeddings of a padded id list; ids < 0 are padding.

    The weight is named ``embeddings`` with shape [input_dim, output_dim], like
    ``keras.layers.Embedding``, so warm start treats both the same way.
    An all-padding row gives a zero vector.
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def build(self, input_shape):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer="uniform")

    def call(self, ids):
        mask = ops.cast(ops.greater_equal(ids, 0), "float32")
        vectors = ops.take(self.embeddings, ops.maximum(ids, 0), axis=0)
        total = ops.sum(vectors * ops.expand_dims(mask, -1), axis=1)
        count = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="mlstore")
class CrossedIds(keras.layers.Layer):
    """Cross of two categorical id features: ``(a * size_b + b) mod num_bins``.

    Collision-free when ``num_bins >= size_a * size_b``; otherwise a simple
    deterministic hash into ``num_bins`` buckets.
    """

    def __init__(self, size_b: int, num_bins: int, **kwargs):
        super().__init__(**kwargs)
        self.size_b = size_b
        self.num_bins = num_bins

    def call(self, inputs):
        a, b = inputs
        return ops.mod(a * self.size_b + b, self.num_bins)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "size_b": self.size_b, "num_bins": self.num_bins}
