"""``train``: fit the wide-and-deep model on transformed rows and export it.

Output directory layout::

    <output_dir>/Format-Serving/          serving SavedModel, where TFX keeps it (see export.py)
    <output_dir>/keras/model.keras        the Keras model (load with load_keras_model)
    <output_dir>/keras/vocabularies.json  {layer name: {"tokens": [...], "num_oov_buckets": n}}
    <output_dir>/keras/modules/<layer>/   copies of the hub modules the model embeds with
    <output_dir>/train_result.json        TrainResult as JSON
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import tensorflow as tf

from mlstore.components.trainer.data import LabelSpec, load_raw, transform_rows
from mlstore.components.trainer.export import export_serving
from mlstore.components.trainer.model import Hyperparams, build_model, model_features
from mlstore.components.trainer.modules import (ModuleEmbedding, build_module_layers, check_modules,
                                                custom_objects, replaced_embeddings)
from mlstore.components.transform.graph import TransformGraph, load_transform_graph
from mlstore.errors import InvalidArgument, NotFound
from mlstore.tfx.layout import SERVING_DIR
from mlstore.warmstart.keras import VocabularyMapping, WarmStartReport, warm_start

KERAS_MODEL = os.path.join("keras", "model.keras")
VOCABULARIES = os.path.join("keras", "vocabularies.json")


@dataclass(frozen=True)
class WarmStart:
    """Warm start from a previous ``train`` output directory.

    ``layers``: names or globs (None = every layer whose name and shapes match).
    ``vocabulary_aware``: remap ``embedding_<feature>`` rows by token.
    """

    base_dir: str
    layers: tuple[str, ...] | None = None
    vocabulary_aware: bool = True


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` produced; everything the store records about the run."""

    output_dir: str
    serving_dir: str
    keras_model_path: str
    history: dict[str, list[float]]
    seed: int
    op_determinism: bool
    num_rows_used: int
    num_rows_missing_label: int
    num_rows_malformed: int
    input_features: tuple[str, ...]
    hyperparams: Hyperparams
    warm_start: WarmStartReport | None = None
    label: LabelSpec = field(default_factory=LabelSpec)
    modules: tuple[ModuleEmbedding, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready form (written as ``train_result.json``)."""
        d = asdict(self)
        d["hyperparams"]["embedding_dims"] = dict(self.hyperparams.embedding_dims)
        d["warm_start"] = self.warm_start.to_dict() if self.warm_start else None
        return d


def train(transform_graph_path: str, train_paths: Sequence[str], output_dir: str, *,
          label: LabelSpec = LabelSpec(), hyperparams: Hyperparams = Hyperparams(),
          eval_paths: Sequence[str] = (), warm_start_from: WarmStart | None = None,
          drop_malformed: bool = False, modules: Sequence[ModuleEmbedding] = ()) -> TrainResult:
    """Train the wide-and-deep classifier and export serving + Keras models.

    Args:
        transform_graph_path: directory written by ``export_transform_graph``.
        train_paths: CSV/Parquet files with the raw columns and the label column.
        output_dir: new or empty directory (layout in the module docstring).
        label: how to derive the 0/1 label; rows with a missing label are dropped.
        hyperparams: see :class:`Hyperparams`; ``seed`` seeds Python, NumPy, TF and Keras.
        eval_paths: optional validation files (adds ``val_*`` series to the history).
        warm_start_from: optional warm start.
        drop_malformed: drop malformed rows instead of failing.
        modules: hub modules embedding raw string columns (fed the raw tokens; the serving
            model still takes raw features). Each replaces the deep embedding of the
            vocabulary features of its column and is fine-tuned when ``trainable``.

    Returns:
        The :class:`TrainResult`.

    Raises:
        NotFound, InvalidArgument, DataError: bad inputs or data.

    Note: for reproducibility this seeds the global RNGs, enables TF op
    determinism (process-wide, cannot be undone) and clears the Keras session.
    """
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise InvalidArgument(f"output directory {output_dir!r} is not empty")
    graph = load_transform_graph(transform_graph_path)
    features = model_features(graph.feature_spec, hyperparams)
    names = [f.name for f in features]
    modules = tuple(modules)
    check_modules(modules, graph.spec, names)
    columns = [m.column for m in modules]
    raw = load_raw(graph, train_paths, label, drop_malformed=drop_malformed)
    x = _model_inputs(graph, raw.columns, names, columns)
    _seed(hyperparams.seed)
    keras.backend.clear_session()  # fresh name counters and state for a reproducible build
    model = build_model(features, hyperparams, build_module_layers(modules, output_dir),
                        replaced_embeddings(modules, graph.spec, names))
    report = _warm_start(model, graph, warm_start_from) if warm_start_from else None
    model.compile(optimizer=keras.optimizers.Adam(hyperparams.learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.AUC(from_logits=True, name="auc"),
                           keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    fit = model.fit(_dataset(x, raw.labels, hyperparams, shuffle=True), epochs=hyperparams.epochs,
                    validation_data=_eval_dataset(graph, eval_paths, label, names, columns, hyperparams,
                                                  drop_malformed),
                    shuffle=False, verbose=0)  # the dataset is already shuffled with the seed
    result = TrainResult(
        output_dir=output_dir, serving_dir=os.path.join(output_dir, SERVING_DIR),
        keras_model_path=os.path.join(output_dir, KERAS_MODEL),
        history={k: [float(v) for v in vs] for k, vs in fit.history.items()},
        seed=hyperparams.seed, op_determinism=True, num_rows_used=len(raw.labels),
        num_rows_missing_label=raw.num_missing_label, num_rows_malformed=raw.num_malformed,
        input_features=tuple(names), hyperparams=hyperparams, warm_start=report, label=label,
        modules=modules)
    _save(result, model, graph, names, columns)
    return result


def _seed(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _dataset(x: dict[str, np.ndarray], y: np.ndarray, hp: Hyperparams, shuffle: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=hp.seed, reshuffle_each_iteration=True)
    return ds.batch(hp.batch_size)


def _model_inputs(graph: TransformGraph, columns: dict[str, np.ndarray], names: Sequence[str],
                  raw_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Transformed features by feature name, plus the raw columns that modules embed."""
    return transform_rows(graph, columns, names) | {c: columns[c] for c in raw_names}


def _eval_dataset(graph, paths, label, names, raw_names, hp, drop_malformed):
    if not paths:
        return None
    raw = load_raw(graph, paths, label, drop_malformed=drop_malformed)
    return _dataset(_model_inputs(graph, raw.columns, names, raw_names), raw.labels, hp, shuffle=False)


def _vocabularies(graph: TransformGraph) -> dict[str, dict]:
    return {f"embedding_{f.name}": {"tokens": list(f.vocabulary), "num_oov_buckets": f.num_oov_buckets}
            for f in graph.feature_spec.values() if f.vocabulary is not None}


def _warm_start(model: keras.Model, graph: TransformGraph, ws: WarmStart) -> WarmStartReport:
    base = load_keras_model(ws.base_dir)
    mappings = {}
    if ws.vocabulary_aware:
        with open(os.path.join(ws.base_dir, VOCABULARIES), encoding="utf-8") as fh:
            base_vocab = json.load(fh)
        layer_names = {layer.name for layer in model.layers}
        for layer, new in _vocabularies(graph).items():
            old = base_vocab.get(layer)
            if old is not None and layer in layer_names:
                mappings[layer] = VocabularyMapping(tuple(old["tokens"]), tuple(new["tokens"]),
                                                    old["num_oov_buckets"], new["num_oov_buckets"])
    return warm_start(base, model, layers=ws.layers, vocabularies=mappings)


def load_keras_model(train_output_dir: str) -> keras.Model:
    """Load ``<dir>/keras/model.keras`` (the custom layers are registered on import).

    Raises:
        NotFound: no Keras model in that directory.
    """
    path = os.path.join(train_output_dir, KERAS_MODEL)
    if not os.path.exists(path):
        raise NotFound(f"no Keras model at {path!r}")
    # Module layers are rebound to the module copies inside this directory.
    return keras.saving.load_model(path, compile=False, custom_objects=custom_objects(train_output_dir))


def _save(result: TrainResult, model: keras.Model, graph: TransformGraph, names: list[str],
          raw_names: list[str]) -> None:
    os.makedirs(os.path.dirname(result.keras_model_path), exist_ok=True)
    model.save(result.keras_model_path)
    with open(os.path.join(result.output_dir, VOCABULARIES), "w", encoding="utf-8") as fh:
        json.dump(_vocabularies(graph), fh, sort_keys=True, indent=1)
    export_serving(graph, model, names, result.serving_dir, raw_names)
    with open(os.path.join(result.output_dir, "train_result.json"), "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(), fh, sort_keys=True, indent=1)
