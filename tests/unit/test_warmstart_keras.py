"""Applying a warm start to Keras models, including vocabulary-aware embedding remapping."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mlstore.errors import InvalidArgument
from mlstore.warmstart.keras import VocabularyMapping, warm_start


def _model(vocab_rows, dim=4, hidden=3, seed=0):
    keras.utils.set_random_seed(seed)
    ids = keras.Input(shape=(), dtype="int64", name="carrier_id")
    x = keras.layers.Embedding(vocab_rows, dim, name="embedding_carrier_id")(ids)
    x = keras.layers.Dense(hidden, name="deep_dense_0")(x)
    return keras.Model(ids, keras.layers.Dense(1, name="deep_logit")(x))


def _emb(model):
    return model.get_layer("embedding_carrier_id").get_weights()[0]


def test_vocabulary_remap_moves_rows_by_token():
    base_tokens, new_tokens = ("UA", "B6", "EV", "DL"), ("EV", "UA", "NEW", "AA")
    base, new = _model(len(base_tokens) + 1, seed=1), _model(len(new_tokens) + 1, seed=2)
    fresh = _emb(new).copy()
    report = warm_start(base, new, vocabularies={
        "embedding_carrier_id": VocabularyMapping(base_tokens, new_tokens, 1, 1)})
    b, n = _emb(base), _emb(new)
    np.testing.assert_array_equal(n[0], b[2])  # EV
    np.testing.assert_array_equal(n[1], b[0])  # UA
    np.testing.assert_array_equal(n[2], fresh[2])  # NEW keeps its fresh row
    np.testing.assert_array_equal(n[3], fresh[3])
    np.testing.assert_array_equal(n[4], b[4])  # OOV bucket row
    counts = report.vocabulary["embedding_carrier_id"]
    assert (counts.kept, counts.new, counts.dropped, counts.oov_rows_copied) == (2, 2, 2, 1)
    assert set(report.copied) == {"embedding_carrier_id", "deep_dense_0", "deep_logit"}


def test_oov_rows_stay_fresh_when_bucket_count_changes():
    base, new = _model(3 + 1, seed=1), _model(3 + 2, seed=2)
    fresh = _emb(new).copy()
    report = warm_start(base, new, vocabularies={
        "embedding_carrier_id": VocabularyMapping(("a", "b", "c"), ("a", "b", "c"), 1, 2)})
    np.testing.assert_array_equal(_emb(new)[:3], _emb(base)[:3])
    np.testing.assert_array_equal(_emb(new)[3:], fresh[3:])
    assert report.vocabulary["embedding_carrier_id"].oov_rows_copied == 0


def test_match_by_name_and_shape_and_patterns():
    base, new = _model(5, hidden=3, seed=1), _model(6, hidden=3, seed=2)
    report = warm_start(base, new)
    skipped = dict(report.skipped)
    assert "weight shapes differ" in skipped["embedding_carrier_id"]
    assert set(report.copied) == {"deep_dense_0", "deep_logit"}
    for name in report.copied:
        for wb, wn in zip(base.get_layer(name).get_weights(), new.get_layer(name).get_weights()):
            np.testing.assert_array_equal(wb, wn)

    other = _model(5, hidden=3, seed=3)
    before = other.get_layer("deep_logit").get_weights()[0].copy()
    report = warm_start(base, other, layers=["embedding_*", "deep_dense_0"])
    assert set(report.copied) == {"embedding_carrier_id", "deep_dense_0"} and not report.skipped
    np.testing.assert_array_equal(other.get_layer("deep_logit").get_weights()[0], before)


def test_errors_and_missing_layers():
    base, new = _model(5, seed=1), _model(5, seed=2)
    with pytest.raises(InvalidArgument):
        warm_start(base, new, vocabularies={"embedding_nope": VocabularyMapping(("a",), ("a",), 1, 1)})
    report = warm_start(base, new, vocabularies={
        "embedding_carrier_id": VocabularyMapping(("a", "b"), ("a", "b"), 1, 1)})
    assert "base vocabulary implies 3" in dict(report.skipped)["embedding_carrier_id"]
