"""The Keras wide-and-deep binary classifier over transformed features.

Layer names are part of the warm-start contract (warm start matches by name):

* ``embedding_<feature>``: embedding of a categorical feature (rows = ids);
  ``MaskedMeanEmbedding`` for id lists (ngram vocabularies).
* ``module_<column>``: a hub module embedding raw string column ``<column>`` (model input
  ``<column>``, tf.string); it replaces ``embedding_<feature>`` of the features listed
  as replaced (see :mod:`mlstore.components.trainer.modules`).
* ``onehot_<feature>``, ``cross_<a>_x_<b>``, ``onehot_cross_<a>_x_<b>``: wide inputs.
* ``wide_logit``: linear layer over the wide one-hots.
* ``deep_dense_<i>`` (i = 0, 1, ...) and ``deep_logit``: the deep tower.
* ``logit``: wide + deep, shape [batch, 1]. The model's output is this logit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import keras

from mlstore.components.trainer.layers import CrossedIds, MaskedMeanEmbedding
from mlstore.components.transform.graph import TransformedFeature
from mlstore.errors import InvalidArgument

MODEL_KINDS = ("numeric", "categorical", "categorical_list")


@dataclass(frozen=True)
class Hyperparams:
    """Training hyperparameters (all recorded by the caller).

    ``features`` selects transformed features (default: every numeric or
    categorical one); ``crosses`` are pairs of categorical features for the wide part.
    """

    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 0.01
    embedding_dim: int = 4
    embedding_dims: Mapping[str, int] = field(default_factory=dict)
    hidden_units: tuple[int, ...] = (16, 8)
    crosses: tuple[tuple[str, str], ...] = ()
    cross_buckets: int = 64
    seed: int = 42
    features: tuple[str, ...] | None = None


def model_features(feature_spec: Mapping[str, TransformedFeature], hp: Hyperparams) -> list[TransformedFeature]:
    """The transformed features the model consumes, in a stable (sorted) order.

    Raises:
        InvalidArgument: a selected feature is unknown or has an unusable kind.
    """
    names = sorted(hp.features) if hp.features is not None else sorted(
        n for n, f in feature_spec.items() if f.kind in MODEL_KINDS)
    out = []
    for name in names:
        feat = feature_spec.get(name)
        if feat is None or feat.kind not in MODEL_KINDS:
            raise InvalidArgument(f"feature {name!r} is not a numeric or categorical transformed feature")
        out.append(feat)
    if not out:
        raise InvalidArgument("no usable transformed features for the model")
    return out


def build_model(features: list[TransformedFeature], hp: Hyperparams,
                module_layers: Mapping[str, keras.layers.Layer] | None = None,
                replaced: Collection[str] = ()) -> keras.Model:
    """Build (not compile) the wide-and-deep model; call after seeding for reproducible init.

    Args:
        features: transformed features (model inputs by feature name).
        hp: hyperparameters.
        module_layers: raw string column → layer embedding it (extra model inputs by column name).
        replaced: categorical features that get no deep embedding of their own (a module
            embeds their column instead); they keep their wide one-hot.
    """
    inputs = {f.name: _input(f) for f in features}
    by_name = {f.name: f for f in features}
    wide, deep = [], []
    for column, layer in sorted((module_layers or {}).items()):
        inputs[column] = keras.Input(shape=(), dtype="string", name=column)
        deep.append(layer(inputs[column]))
    for f in features:
        x = inputs[f.name]
        if f.kind == "numeric":
            deep.append(keras.layers.Reshape((1,), name=f"numeric_{f.name}")(x))
            continue
        dim = hp.embedding_dims.get(f.name, hp.embedding_dim)
        if f.kind == "categorical":
            if f.name not in replaced:
                deep.append(keras.layers.Embedding(f.num_ids, dim, name=f"embedding_{f.name}")(x))
            wide.append(keras.layers.CategoryEncoding(f.num_ids, output_mode="one_hot",
                                                      name=f"onehot_{f.name}")(x))
        else:
            deep.append(MaskedMeanEmbedding(f.num_ids, dim, name=f"embedding_{f.name}")(x))
    for a, b in hp.crosses:
        wide.append(_cross(inputs, by_name, a, b, hp.cross_buckets))
    h = _concat(deep, "deep_concat")
    for i, units in enumerate(hp.hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"deep_dense_{i}")(h)
    logit = keras.layers.Dense(1, name="deep_logit")(h)
    if wide:
        wide_logit = keras.layers.Dense(1, name="wide_logit")(_concat(wide, "wide_concat"))
        logit = keras.layers.Add(name="logit")([wide_logit, logit])
    return keras.Model(inputs=inputs, outputs=logit, name="wide_and_deep")


def _input(f: TransformedFeature):
    if f.kind == "numeric":
        return keras.Input(shape=(), dtype="float32", name=f.name)
    if f.kind == "categorical":
        return keras.Input(shape=(), dtype="int64", name=f.name)
    return keras.Input(shape=(None,), dtype="int64", name=f.name)


def _concat(parts, name):
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name=name)(parts)


def _cross(inputs, by_name, a, b, num_bins):
    for n in (a, b):
        if n not in by_name or by_name[n].kind != "categorical":
            raise InvalidArgument(f"cross ({a}, {b}): {n!r} is not a selected categorical feature")
    ids = CrossedIds(by_name[b].num_ids, num_bins, name=f"cross_{a}_x_{b}")([inputs[a], inputs[b]])
    return keras.layers.CategoryEncoding(num_bins, output_mode="one_hot", name=f"onehot_cross_{a}_x_{b}")(ids)
