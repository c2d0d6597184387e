"""Apply a warm start from a base Keras model to a freshly built one.

Rules, per layer of the new model that has weights:

1. Layers are selected by ``layers`` (exact names or ``fnmatch`` globs such as
   ``embedding_*``); default: every layer.
2. A layer with a :class:`VocabularyMapping` is remapped by token: for each
   token of the new vocabulary also in the base vocabulary, the new row is the
   base row; new tokens keep their fresh initial row; dropped tokens go.
   OOV bucket rows (after the vocabulary rows) are copied bucket by bucket when
   both models have the same number of buckets (bucket = hash(token) mod
   buckets, independent of the vocabulary), else left fresh. The embedding
   width must match. Other weights of the layer (none for embeddings) must match in shape.
3. Any other selected layer is copied when the base has a layer of that name
   whose weight shapes all match; otherwise it is skipped with the reason.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from mlstore.errors import InvalidArgument


@dataclass(frozen=True)
class VocabularyMapping:
    """Base and new vocabularies of one feature (row i = token i, then OOV buckets)."""

    base_tokens: tuple[str, ...]
    new_tokens: tuple[str, ...]
    base_num_oov_buckets: int
    new_num_oov_buckets: int


@dataclass(frozen=True)
class VocabularyRemapCounts:
    """What happened to one feature's embedding rows."""

    kept: int
    new: int
    dropped: int
    oov_rows_copied: int


@dataclass(frozen=True)
class WarmStartReport:
    """Layers copied, layers skipped (name, reason), and per-layer vocabulary counts."""

    copied: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    vocabulary: dict[str, VocabularyRemapCounts]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"copied": list(self.copied), "skipped": [list(s) for s in self.skipped],
                "vocabulary": {k: v.__dict__ for k, v in self.vocabulary.items()}}


def warm_start(base: keras.Model, new: keras.Model, *, layers: Sequence[str] | None = None,
               vocabularies: Mapping[str, VocabularyMapping] | None = None) -> WarmStartReport:
    """Copy weights from ``base`` into ``new`` in place.

    Args:
        base: trained model.
        new: freshly built model (its initial weights are the "fresh" rows).
        layers: layer names or glob patterns to warm-start; None = all layers.
        vocabularies: layer name (e.g. ``embedding_carrier_id``) -> vocabulary mapping.

    Returns:
        The report. Layers not selected by ``layers`` are not listed.

    Raises:
        InvalidArgument: a vocabulary mapping names a layer the new model lacks.
    """
    vocabularies = dict(vocabularies or {})
    new_layers = {layer.name: layer for layer in new.layers}
    unknown = sorted(set(vocabularies) - set(new_layers))
    if unknown:
        raise InvalidArgument(f"vocabulary mappings for layers not in the new model: {unknown}")
    base_layers = {layer.name: layer for layer in base.layers}
    copied, skipped, counts = [], [], {}
    for layer in new.layers:
        if not layer.weights or not _selected(layer.name, layers):
            continue
        source = base_layers.get(layer.name)
        if source is None:
            skipped.append((layer.name, "no layer of that name in the base model"))
            continue
        if layer.name in vocabularies:
            reason, result = _remap_embedding(source, layer, vocabularies[layer.name])
            if result is not None:
                counts[layer.name] = result
        else:
            reason = _copy_if_shapes_match(source, layer)
        if reason:
            skipped.append((layer.name, reason))
        else:
            copied.append(layer.name)
    return WarmStartReport(copied=tuple(copied), skipped=tuple(skipped), vocabulary=counts)


def _selected(name: str, patterns: Sequence[str] | None) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _shapes(layer) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in layer.weights]


def _copy_if_shapes_match(source, target) -> str | None:
    if _shapes(source) != _shapes(target):
        return f"weight shapes differ: base {_shapes(source)} vs new {_shapes(target)}"
    target.set_weights(source.get_weights())
    return None


def _remap_embedding(source, target, mapping: VocabularyMapping) -> tuple[str | None, VocabularyRemapCounts | None]:
    base_w, new_w = source.get_weights(), target.get_weights()
    if len(base_w) != 1 or len(new_w) != 1:
        return "vocabulary remapping needs a layer with exactly one weight (the embedding)", None
    base_e, new_e = base_w[0], new_w[0].copy()
    if base_e.shape[0] != len(mapping.base_tokens) + mapping.base_num_oov_buckets:
        return f"base embedding has {base_e.shape[0]} rows, base vocabulary implies " \
               f"{len(mapping.base_tokens) + mapping.base_num_oov_buckets}", None
    if new_e.shape[0] != len(mapping.new_tokens) + mapping.new_num_oov_buckets:
        return f"new embedding has {new_e.shape[0]} rows, new vocabulary implies " \
               f"{len(mapping.new_tokens) + mapping.new_num_oov_buckets}", None
    if base_e.shape[1:] != new_e.shape[1:]:
        return f"embedding width differs: base {base_e.shape[1:]} vs new {new_e.shape[1:]}", None
    counts = remap_rows(base_e, new_e, mapping)
    target.set_weights([new_e])
    return None, counts


def remap_rows(base_e: np.ndarray, new_e: np.ndarray, mapping: VocabularyMapping) -> VocabularyRemapCounts:
    """Overwrite rows of ``new_e`` in place with base rows by token (rules in the module docstring)."""
    base_index = {t: i for i, t in enumerate(mapping.base_tokens)}
    kept = 0
    for j, token in enumerate(mapping.new_tokens):
        i = base_index.get(token)
        if i is not None:
            new_e[j] = base_e[i]
            kept += 1
    oov = 0
    if mapping.base_num_oov_buckets == mapping.new_num_oov_buckets:
        oov = mapping.new_num_oov_buckets
        nb, nn = len(mapping.base_tokens), len(mapping.new_tokens)
        new_e[nn:nn + oov] = base_e[nb:nb + oov]
    return VocabularyRemapCounts(kept=kept, new=len(mapping.new_tokens) - kept,
                                 dropped=len(mapping.base_tokens) - kept, oov_rows_copied=oov)
