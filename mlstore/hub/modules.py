"""Building reusable modules: an embedding table as a SavedModel (strings → vectors).

>>> export_embedding_module(["AA", "DL", "UA"], matrix, "out/carrier_embedding")
>>> train_embedding_module(carriers, delayed, "out/learnt", dim=4, seed=1)  # learnt from data

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


def train_embedding_module(tokens: Sequence[str], labels, out_dir: str | Path, *, dim: int = 4, epochs: int = 2,
                           batch_size: int = 256, learning_rate: float = 0.05, seed: int = 0) -> Path:
    """Learns token embeddings that predict a binary label and exports them as a module.

    A tiny Keras model (embedding of the token → one logit) is fit on the pairs; its
    embedding matrix, with the vocabulary in sorted order, becomes the module. The same
    tokens, labels and seed give the same matrix (this seeds Python, NumPy and TF).

    Args:
        tokens: one string token per example.
        labels: 0/1 per example.
        out_dir: target directory (new or empty).
        dim, epochs, batch_size, learning_rate, seed: training settings.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        InvalidArgument: no examples, mismatched lengths, or labels other than 0/1.
    """
    import keras  # noqa: PLC0415 - only needed to learn a module

    tokens = np.asarray([str(t) for t in tokens], dtype=object)
    labels = np.asarray(labels, dtype=np.float32).reshape(-1)
    if not len(tokens) or len(tokens) != len(labels):
        raise InvalidArgument(f"need as many labels as tokens (> 0), got {len(tokens)} tokens, {len(labels)} labels")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InvalidArgument("labels must be 0 or 1")
    vocab = sorted(set(tokens))
    ids = np.searchsorted(np.asarray(vocab, dtype=object), tokens).astype(np.int64)
    keras.utils.set_random_seed(seed)
    embedding = keras.layers.Embedding(len(vocab), dim)
    ids_in = keras.Input(shape=(), dtype="int64")
    model = keras.Model(ids_in, keras.layers.Dense(1)(embedding(ids_in)))
    model.compile(keras.optimizers.Adam(learning_rate), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(ids, labels, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)  # seeded
    return export_embedding_module(vocab, keras.ops.convert_to_numpy(embedding.embeddings), out_dir)
