"""Evaluator tests: slicing keys, metrics vs scikit-learn, Beam pipeline, layout."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlstore.components.evaluator import (EvalConfig, LabelSpec, SliceSpec, evaluate,
                                          read_evaluation)
from mlstore.components.evaluator import metrics as m
from mlstore.components.evaluator.histogram import N_BINS
from mlstore.components.evaluator.layout import METRICS_FILE
from mlstore.components.evaluator.slicing import (assign_slices, canonical_slice_key,
                                                  parse_slice_key)
from mlstore.errors import DataError, InvalidArgument, NotFound

N_ROWS = 5_000
N_MISSING = 37
HOUR_BOUNDS = [9, 13, 17]
CARRIERS = np.array(["AA", "UA", "DL", "B6"])
ORIGINS = np.array(["JFK", "LGA", "EWR"])


# ---------------------------------------------------------------- fixtures

def _synthetic_frame(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = N_ROWS + N_MISSING
    x = rng.normal(size=n).astype(np.float32)
    carrier = CARRIERS[rng.integers(0, len(CARRIERS), n)]
    noise = rng.normal(scale=1.5, size=n)
    # Delay loosely follows x so the model has real (imperfect) signal.
    arr_delay = np.round(20 * x + 10 * (carrier == "AA") + 20 * noise)
    arr_delay[rng.choice(n, N_MISSING, replace=False)] = np.nan
    return pd.DataFrame({
        "x": x, "carrier": carrier,
        "origin": ORIGINS[rng.integers(0, len(ORIGINS), n)],
        "hour": rng.integers(5, 23, n),
        "arr_delay": arr_delay,
        "weight": rng.uniform(0.5, 2.0, n),
    })


def _save_model(path: str) -> str:
    """A SavedModel following the serving contract: P = sigmoid(0.9 x + 0.4 [carrier == AA])."""
    import tensorflow as tf

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                      tf.TensorSpec([None], tf.string, name="carrier")])
        def serve(self, x, carrier):
            x = tf.where(tf.math.is_nan(x), tf.zeros_like(x), x)
            logits = 0.9 * x + 0.4 * tf.cast(tf.equal(carrier, "AA"), tf.float32)
            return {"probabilities": tf.sigmoid(logits), "logits": logits}

    model = Model()
    tf.saved_model.save(model, path, signatures={"serving_default": model.serve})
    return path


@pytest.fixture(scope="module")
def eval_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluator")
    df = _synthetic_frame()
    data = str(root / "eval.parquet")
    df.to_parquet(data, index=False)
    model_dir = _save_model(str(root / "model"))
    cfg = EvalConfig(
        LabelSpec.parse("arr_delay > 15"),
        (SliceSpec.of("carrier"), SliceSpec.of("origin", "carrier"),
         SliceSpec.of("hour", boundaries={"hour": HOUR_BOUNDS})),
        batch_size=1_200,  # several batches, so merging is exercised
    )
    result = evaluate(model_dir, [data], str(root / "out"), cfg)
    return df, model_dir, result, str(root / "out")


def _model_predictions(model_dir: str, df: pd.DataFrame) -> np.ndarray:
    import tensorflow as tf
    sig = tf.saved_model.load(model_dir).signatures["serving_default"]
    out = sig(x=tf.constant(df["x"].to_numpy(np.float32)), carrier=tf.constant(df["carrier"].to_numpy(str)))
    return out["probabilities"].numpy().astype(np.float64)


def _expected_slices(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Slice key -> boolean row mask, computed independently of the evaluator."""
    edges = [-np.inf] + HOUR_BOUNDS + [np.inf]
    fmt = lambda v: "-inf" if v == -np.inf else "inf" if v == np.inf else str(int(v))  # noqa: E731
    masks = {"Overall": np.ones(len(df), bool)}
    for c in CARRIERS:
        masks[f"carrier={c}"] = (df.carrier == c).to_numpy()
        for o in ORIGINS:
            masks[f"carrier={c},origin={o}"] = ((df.carrier == c) & (df.origin == o)).to_numpy()
    for lo, hi in zip(edges[:-1], edges[1:]):
        masks[f"hour=[{fmt(lo)},{fmt(hi)})"] = ((df.hour >= lo) & (df.hour < hi)).to_numpy()
    return masks


def _check_against_sklearn(metrics: dict, y, p, w=None) -> None:
    pred = (p >= 0.5).astype(int)
    assert metrics["example_count"] == len(y)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=w), abs=1e-9)
    assert metrics["precision"] == pytest.approx(skm.precision_score(y, pred, sample_weight=w), abs=1e-9)
    assert metrics["recall"] == pytest.approx(skm.recall_score(y, pred, sample_weight=w), abs=1e-9)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y, p, sample_weight=w, labels=[0, 1]), abs=1e-9)
    assert metrics["auc_roc"] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-3)
    assert metrics["auc_pr"] == pytest.approx(skm.average_precision_score(y, p, sample_weight=w), abs=1e-3)
    ww = np.ones(len(y)) if w is None else w
    assert metrics["mean_label"] == pytest.approx(np.average(y, weights=ww), abs=1e-9)
    assert metrics["mean_prediction"] == pytest.approx(np.average(p, weights=ww), abs=1e-9)
    assert metrics["calibration"] == pytest.approx(np.average(p, weights=ww) / np.average(y, weights=ww), abs=1e-9)


# ---------------------------------------------------------------- slicing

def test_slice_keys_are_canonical():
    df = pd.DataFrame({"carrier": ["AA", "UA", "AA", None], "origin": ["JFK", "JFK", "LGA", "JFK"],
                       "hour": [5, 6, 9.0, np.nan], "n": [1.0, 2.0, 2.5, 1.0]})
    codes, keys = assign_slices(df, SliceSpec.of("origin", "carrier"))
    assert [keys[c] for c in codes] == ["carrier=AA,origin=JFK", "carrier=UA,origin=JFK",
                                        "carrier=AA,origin=LGA", "carrier=<missing>,origin=JFK"]
    codes, keys = assign_slices(df, SliceSpec.of("hour", boundaries={"hour": [6, 9]}))
    assert [keys[c] for c in codes] == ["hour=[-inf,6)", "hour=[6,9)", "hour=[9,inf)", "hour=<missing>"]
    codes, keys = assign_slices(df, SliceSpec.of("n"))
    assert [keys[c] for c in codes] == ["n=1", "n=2", "n=2.5", "n=1"]
    assert assign_slices(df, SliceSpec())[1] == ["Overall"]


def test_slice_key_parse_and_escape():
    df = pd.DataFrame({"route": ["a,b=c"]})
    _, keys = assign_slices(df, SliceSpec.of("route"))
    assert keys == ["route=a\\,b\\=c"]
    assert parse_slice_key("hour=[6,9),origin=JFK") == (("hour", "[6,9)"), ("origin", "JFK"))
    assert parse_slice_key(keys[0]) == (("route", "a\\,b\\=c"),)
    assert canonical_slice_key("origin=JFK,carrier=AA") == "carrier=AA,origin=JFK"
    assert parse_slice_key("Overall") == ()
    with pytest.raises(InvalidArgument):
        parse_slice_key("carrier")
    with pytest.raises(InvalidArgument):
        SliceSpec.of("hour", boundaries={"hour": [9, 6]})


def test_label_rule_parsing():
    assert LabelSpec.parse("arr_delay > 15") == LabelSpec("arr_delay", ">", 15.0)
    assert LabelSpec.parse("is_late") == LabelSpec("is_late")
    with pytest.raises(InvalidArgument):
        LabelSpec.parse("arr_delay >> 15")


# ---------------------------------------------------------------- metric engine

def test_accumulators_merge_exactly():
    rng = np.random.default_rng(1)
    y, p, w = rng.integers(0, 2, 3000), rng.uniform(size=3000), rng.uniform(0.1, 3, 3000)
    codes = np.zeros(3000, dtype=np.int64)
    whole = m.batch_accumulators(codes, 1, y, p, w)[0]
    parts = [m.batch_accumulators(codes[:1000], 1, y[s], p[s], w[s])[0]
             for s in (slice(0, 1000), slice(1000, 2000), slice(2000, 3000))]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert m.compute_metrics(merged) == pytest.approx(m.compute_metrics(whole), rel=1e-12, abs=1e-12)
    _check_against_sklearn(m.compute_metrics(whole), y, p, w)
    plots = m.compute_plots(whole)
    assert len(plots["roc"]["fpr"]) <= m.MAX_CURVE_POINTS
    assert plots["roc"]["fpr"][0] == 0 and plots["roc"]["tpr"][-1] == pytest.approx(1.0)
    assert sum(plots["prediction_histogram"]["positives"]) == pytest.approx(float((w * y).sum()))


def test_large_slices_switch_to_bins_and_stay_accurate():
    rng = np.random.default_rng(2)
    n = 30_000
    y, p = rng.integers(0, 2, n), np.clip(rng.beta(2, 3, n), 0, 1)
    p = np.where(y == 1, np.sqrt(p), p)  # some signal
    codes = np.zeros(n, dtype=np.int64)
    # Merge 3,000-row chunks: exact at first, binned once past MAX_EXACT_SCORES.
    acc = m.batch_accumulators(codes[:3000], 1, y[:3000], p[:3000], np.ones(3000))[0]
    assert acc.scores.scores is not None
    for s in range(3000, n, 3000):
        acc.merge(m.batch_accumulators(codes[:3000], 1, y[s:s + 3000], p[s:s + 3000], np.ones(3000))[0])
    assert acc.scores.scores is None and len(acc.scores.pos) == N_BINS
    _check_against_sklearn(m.compute_metrics(acc), y, p)


def test_undefined_metrics_are_none():
    acc = m.batch_accumulators(np.zeros(3, np.int64), 1, np.zeros(3), np.array([0.1, 0.2, 0.3]), np.ones(3))[0]
    out = m.compute_metrics(acc)
    assert out["auc_roc"] is None and out["auc_pr"] is None and out["precision"] is None
    assert out["calibration"] is None and out["accuracy"] == 1.0


# ---------------------------------------------------------------- Beam pipeline

def test_every_slice_matches_sklearn(eval_setup):
    df, model_dir, result, _ = eval_setup
    labeled = df[df.arr_delay.notna()].reset_index(drop=True)
    y = (labeled.arr_delay > 15).to_numpy(int)
    p = _model_predictions(model_dir, labeled)
    expected = _expected_slices(labeled)
    assert set(result.slice_keys()) == set(expected)
    assert result.slice_keys()[0] == "Overall"
    for key, mask in expected.items():
        _check_against_sklearn(result.get(key).metrics, y[mask], p[mask])


def test_missing_labels_are_dropped_and_counted(eval_setup):
    _, _, result, _ = eval_setup
    assert result.num_missing_label == N_MISSING
    assert result.num_examples == N_ROWS
    assert result.label == {"column": "arr_delay", "op": ">", "threshold": 15.0}
    assert {"carrier", "origin", "hour"} <= result.features()


def test_layout_roundtrip_and_version(eval_setup, tmp_path):
    _, _, result, out = eval_setup
    with open(os.path.join(out, METRICS_FILE)) as fh:
        raw = json.load(fh)
    assert raw["format_version"] == 1 and raw["slices"][0]["slice"] == "Overall"
    again = read_evaluation(out)
    assert again == result
    plots = again.get("carrier=AA").plots
    assert set(plots) == {"calibration", "roc", "pr", "prediction_histogram"}
    raw["format_version"] = 99
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / METRICS_FILE).write_text(json.dumps(raw))
    with pytest.raises(DataError, match="format_version"):
        read_evaluation(str(bad), with_plots=False)
    with pytest.raises(NotFound):
        read_evaluation(str(tmp_path / "nowhere"))


def test_weighted_precomputed_predictions_from_csv(tmp_path):
    df = _synthetic_frame(seed=3).dropna(subset=["arr_delay"]).head(2_000).copy()
    df["pred"] = 1 / (1 + np.exp(-0.9 * df.x.to_numpy(np.float64)))
    path = str(tmp_path / "eval.csv")
    df.to_csv(path, index=False)
    cfg = EvalConfig(LabelSpec.parse("arr_delay > 15"), (SliceSpec.of("origin"),),
                     example_weight_column="weight", prediction_column="pred", batch_size=500)
    result = evaluate(None, [path], str(tmp_path / "out"), cfg,
                      pipeline_options=["--runner=DirectRunner"])
    y, p, w = (df.arr_delay > 15).to_numpy(int), df.pred.to_numpy(), df.weight.to_numpy()
    _check_against_sklearn(result.get("Overall").metrics, y, p, w)
    jfk = (df.origin == "JFK").to_numpy()
    _check_against_sklearn(result.get("origin=JFK").metrics, y[jfk], p[jfk], w[jfk])
    assert result.get("Overall").metrics["weighted_example_count"] == pytest.approx(w.sum())


def test_missing_label_column_is_a_data_error(tmp_path):
    path = str(tmp_path / "eval.csv")
    pd.DataFrame({"x": [1.0], "pred": [0.5]}).to_csv(path, index=False)
    cfg = EvalConfig(LabelSpec.parse("arr_delay > 15"), prediction_column="pred")
    with pytest.raises(DataError, match="arr_delay"):
        evaluate(None, [path], str(tmp_path / "out"), cfg)
    with pytest.raises(InvalidArgument):
        evaluate("model", [path], str(tmp_path / "out"), cfg)  # both model and prediction column


def test_missing_model_input_is_a_data_error(eval_setup, tmp_path):
    _, model_dir, _, _ = eval_setup
    path = str(tmp_path / "eval.csv")
    pd.DataFrame({"x": [1.0, 2.0], "arr_delay": [20.0, 1.0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="model input 'carrier'"):
        evaluate(model_dir, [path], str(tmp_path / "out"), EvalConfig(LabelSpec.parse("arr_delay > 15")))
