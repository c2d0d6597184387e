"""Building reusable modules: an embedding table as a SavedModel (strings → vectors).

>>> export_embedding_module(["AA", "DL", "UA"], matrix, "out/carrier_embedding")

The module maps a batch of string tokens ``[batch]`` to ``[batch, dim]`` float32 embeddings
through ``__call__`` (for :class:`~mlstore.hub.KerasLayer`) and the
``serving_default`` signature (input ``tokens``, output ``embeddings``). Unknown tokens
map to one extra out-of-vocabulary row. The embedding matrix is a trainable variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from mlstore.errors import InvalidArgument

OOV_BUCKETS = 1


class EmbeddingModule(tf.Module):
    """Token → embedding lookup with ``OOV_BUCKETS`` extra rows for unknown tokens."""

    def __init__(self, vocab: Sequence[str], matrix: np.ndarray):
        super().__init__(name="embedding_module")
        keys = tf.constant(list(vocab), tf.string)
        ids = tf.range(len(vocab), dtype=tf.int64)
        self.table = tf.lookup.StaticVocabularyTable(tf.lookup.KeyValueTensorInitializer(keys, ids), OOV_BUCKETS)
        oov = np.zeros((OOV_BUCKETS, matrix.shape[1]), np.float32)
        self.embeddings = tf.Variable(np.concatenate([matrix.astype(np.float32), oov]), trainable=True,
                                      name="embeddings")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, tokens):
        return tf.nn.embedding_lookup(self.embeddings, self.table.lookup(tokens))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tokens")])
    def serve(self, tokens):
        return {"embeddings": self(tokens)}


def export_embedding_module(vocab: Sequence[str], matrix, out_dir: str | Path) -> Path:
    """Writes an embedding module SavedModel to ``out_dir`` (which must not exist or be empty).

    Args:
        vocab: distinct tokens; row ``i`` of ``matrix`` is the embedding of ``vocab[i]``.
        matrix: ``[len(vocab), dim]`` numbers.
        out_dir: target directory.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        InvalidArgument: duplicate or empty vocabulary, or a matrix of the wrong shape.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    vocab = [str(v) for v in vocab]
    if not vocab or len(set(vocab)) != len(vocab):
        raise InvalidArgument("vocabulary must be non-empty and without duplicates")
    if matrix.ndim != 2 or matrix.shape[0] != len(vocab) or matrix.shape[1] < 1:
        raise InvalidArgument(f"matrix must be [{len(vocab)}, dim], got {list(matrix.shape)}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InvalidArgument(f"{out} is not empty; export into a new directory")
    module = EmbeddingModule(vocab, matrix)
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    return out
