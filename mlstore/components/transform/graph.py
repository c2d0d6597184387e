"""Build, export and load the transform graph (a TF SavedModel).

SavedModel layout written by :func:`export_transform_graph`::

    <dir>/saved_model.pb, variables/          # the graph
    <dir>/assets/vocab_<feature>.txt          # one token per line, line i = id i
    <dir>/assets.extra/analyzers.json         # AnalyzerResults (see results.py)
    <dir>/assets.extra/transformed_feature_spec.json

Signature ``transform_features``: inputs are the raw columns as named 1-D
tensors (float32 for ``float``/``int`` columns, tf.string for ``string``);
outputs, one per spec feature:

* numeric (identity of a number, z-score): float32 [batch]
* categorical (vocabulary of a string column, bucketize): int64 [batch]
* categorical_list (vocabulary of ngrams): int64 [batch, max_len], padded with -1
* string (identity of a string column): string [batch]
* tokens (ngrams): string [batch, max_len], padded with ""

Missing inputs (NaN / "") are replaced by the column default when the spec has
one; serving does not reject rows. Arithmetic is float64 inside the graph,
mirroring the analyze phase, and cast to float32 at the output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from mlstore.components.transform.results import (AnalyzerResults, QuantileResult, VocabularyResult,
                                                  ZScoreStats, read_results_json)
from mlstore.components.transform.spec import TransformSpec
from mlstore.errors import InvalidArgument, NotFound

SIGNATURE = "transform_features"
ANALYZERS_JSON = os.path.join("assets.extra", "analyzers.json")
FEATURE_SPEC_JSON = os.path.join("assets.extra", "transformed_feature_spec.json")
_DTYPE_OF_KIND = {"numeric": "float32", "categorical": "int64", "categorical_list": "int64",
                  "string": "string", "tokens": "string"}


@dataclass(frozen=True)
class TransformedFeature:
    """Shape/type facts about one output of ``transform_features``.

    ``num_ids`` is the number of distinct ids of categorical features
    (vocabulary size + OOV buckets, or number of buckets), else None.
    """

    name: str
    kind: str
    dtype: str
    rank: int
    num_ids: int | None = None
    vocabulary: tuple[str, ...] | None = None
    num_oov_buckets: int = 0


@dataclass(frozen=True)
class TransformGraph:
    """A loaded transform SavedModel plus its analyzer results and feature spec."""

    path: str
    results: AnalyzerResults
    feature_spec: dict[str, TransformedFeature]
    module: Any = field(repr=False, compare=False)

    @property
    def spec(self) -> TransformSpec:
        return self.results.spec

    def transform(self, features: Mapping[str, Any]) -> dict[str, tf.Tensor]:
        """Apply ``transform_features`` to raw values (arrays or tensors), returning tensors."""
        return self.module.transform_features(to_raw_tensors(self.spec, features))


def raw_input_signature(spec: TransformSpec) -> dict[str, str]:
    """Raw feature name -> tensor dtype name ("float32" or "string"), the serving input contract."""
    return {c.name: ("string" if c.dtype == "string" else "float32") for c in spec.raw_columns}


def raw_tensor_specs(spec: TransformSpec) -> dict[str, tf.TensorSpec]:
    """Named 1-D TensorSpecs for the raw inputs (used by transform and serving signatures)."""
    return {name: tf.TensorSpec([None], tf.dtypes.as_dtype(dtype), name=name)
            for name, dtype in raw_input_signature(spec).items()}


def to_raw_tensors(spec: TransformSpec, features: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    """Convert raw column values to the tensors the signatures expect.

    Raises:
        InvalidArgument: a raw column is missing from ``features``.
    """
    missing = [n for n in raw_input_signature(spec) if n not in features]
    if missing:
        raise InvalidArgument(f"raw features missing: {missing}")
    out = {}
    for name, dtype in raw_input_signature(spec).items():
        value = features[name]
        if dtype == "string":
            # None/NaN become "" (the graph's "missing" string), not the text "None"/"nan".
            texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in np.asarray(value, dtype=object).reshape(-1)]
            out[name] = tf.constant(np.array(texts, dtype=object), tf.string)
        else:
            out[name] = tf.constant(np.asarray(value, dtype=np.float32))
    return out


def transformed_feature_spec(results: AnalyzerResults) -> dict[str, TransformedFeature]:
    """Describe every output of the transform graph built from ``results``."""
    spec = results.spec
    out = {}
    for feat in spec.features:
        kind = spec.output_kind(feat.name)
        res = results.features.get(feat.name)
        num_ids, vocab, oov = None, None, 0
        if isinstance(res, VocabularyResult):
            num_ids, vocab, oov = res.size, res.tokens, res.num_oov_buckets
        elif isinstance(res, QuantileResult):
            num_ids = res.num_buckets
        out[feat.name] = TransformedFeature(
            name=feat.name, kind=kind, dtype=_DTYPE_OF_KIND[kind],
            rank=2 if kind in ("categorical_list", "tokens") else 1,
            num_ids=num_ids, vocabulary=vocab, num_oov_buckets=oov)
    return out


class _TransformModule(tf.Module):
    """tf.Module whose ``transform_features`` applies the spec with baked-in results."""

    def __init__(self, results: AnalyzerResults, vocab_dir: str):
        super().__init__(name="transform")
        self._results = results
        self._spec = results.spec
        # A dict attribute of a tf.Module is tracked, so tables and their asset files are saved.
        self.tables = {}
        for name, res in results.features.items():
            if isinstance(res, VocabularyResult):
                self.tables[name] = _vocabulary_table(name, res, vocab_dir)
        self.transform_features = tf.function(
            self._transform, input_signature=[raw_tensor_specs(self._spec)])

    def _transform(self, features):
        cache: dict[str, Any] = {}
        outputs = {}
        for feat in self._spec.features:
            outputs[feat.name] = _finalize(self._spec.output_kind(feat.name),
                                           self._value(feat.name, features, cache))
        return outputs

    def _value(self, name, features, cache):
        if name not in cache:
            cache[name] = self._compute(name, features, cache)
        return cache[name]

    def _compute(self, name, features, cache):
        raw = self._spec.raw(name)
        if raw is not None:
            return _raw_value(raw, features[name])
        feat = self._spec.feature(name)
        x = self._value(feat.input, features, cache)
        res = self._results.features.get(name)
        if feat.op == "identity":
            return x
        if feat.op == "scale_to_z_score":
            return _z_score(x, res)
        if feat.op == "bucketize":
            return _bucketize(x, res)
        if feat.op == "ngrams":
            tokens = tf.strings.split(x)
            widths = list(range(feat.ngram_range[0], feat.ngram_range[1] + 1))
            return tf.strings.ngrams(tokens, ngram_width=widths, separator=" ")
        # vocabulary
        table = self.tables[name]
        if isinstance(x, tf.RaggedTensor):
            return tf.ragged.map_flat_values(table.lookup, x)
        return table.lookup(x)


def _vocabulary_table(name: str, res: VocabularyResult, vocab_dir: str) -> tf.lookup.StaticVocabularyTable:
    path = os.path.join(vocab_dir, f"vocab_{name}.txt")
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(f"{t}\n" for t in res.tokens)
    # A string filename becomes a tracked tf.saved_model.Asset, copied into assets/.
    init = tf.lookup.TextFileInitializer(
        path, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
    # OOV ids: len(tokens) + Fingerprint64(token) % num_oov_buckets.
    return tf.lookup.StaticVocabularyTable(init, num_oov_buckets=res.num_oov_buckets)


def _raw_value(raw, x):
    if raw.dtype == "string":
        return x if raw.default is None else tf.where(tf.equal(x, ""), raw.default, x)
    x = tf.cast(x, tf.float64)
    if raw.default is not None:
        x = tf.where(tf.math.is_nan(x), tf.constant(raw.default, tf.float64), x)
    return x


def _z_score(x, stats: ZScoreStats):
    centered = x - tf.constant(stats.mean, tf.float64)
    std = float(np.sqrt(stats.variance))
    return centered / tf.constant(std, tf.float64) if std > 0 else centered


def _bucketize(x, res: QuantileResult):
    if not res.boundaries:
        return tf.zeros_like(x, dtype=tf.int64)
    bounds = tf.constant(res.boundaries, tf.float64)
    return tf.searchsorted(bounds, x, side="right", out_type=tf.int64)


def _finalize(kind: str, x):
    if kind == "numeric":
        return tf.cast(x, tf.float32)
    if kind == "categorical_list":
        return x.to_tensor(default_value=-1)
    if kind == "tokens":
        return x.to_tensor(default_value="")
    return x


def export_transform_graph(results: AnalyzerResults, export_dir: str) -> str:
    """Write the transform SavedModel (layout in the module docstring).

    Args:
        results: output of :func:`mlstore.components.transform.analyze`.
        export_dir: new or empty directory.

    Returns:
        ``export_dir``.

    Raises:
        InvalidArgument: ``export_dir`` exists and is not empty.
    """
    if os.path.isdir(export_dir) and os.listdir(export_dir):
        raise InvalidArgument(f"export directory {export_dir!r} is not empty")
    with tempfile.TemporaryDirectory(prefix="mlstore-vocab-") as vocab_dir:
        module = _TransformModule(results, vocab_dir)
        tf.saved_model.save(module, export_dir, signatures={SIGNATURE: module.transform_features})
    os.makedirs(os.path.join(export_dir, "assets.extra"), exist_ok=True)
    results.write_json(os.path.join(export_dir, ANALYZERS_JSON))
    feature_spec = {k: asdict(v) for k, v in transformed_feature_spec(results).items()}
    with open(os.path.join(export_dir, FEATURE_SPEC_JSON), "w", encoding="utf-8") as fh:
        json.dump(feature_spec, fh, sort_keys=True, indent=1)
    return export_dir


def load_transform_graph(path: str) -> TransformGraph:
    """Load a transform SavedModel written by :func:`export_transform_graph`.

    Raises:
        NotFound: ``path`` is not a transform graph directory.
    """
    analyzers = os.path.join(path, ANALYZERS_JSON)
    if not os.path.exists(analyzers):
        raise NotFound(f"{path!r} is not a transform graph (no {ANALYZERS_JSON})")
    results = read_results_json(analyzers)
    return TransformGraph(path=path, results=results, feature_spec=transformed_feature_spec(results),
                          module=tf.saved_model.load(path))
