"""Builds a realistic small store for the dashboard tests and benchmark, with the public SDK.

For each data day (span) the daily pipeline records, like the flights demo::

    ExampleGen → Examples(span) → Transform → TransformGraph
    Trainer(examples, transform_graph, base_model=yesterday's model[, module]) → Model
    Evaluator(model, baseline_model=latest blessed, examples) → ModelEvaluation
        (metrics.json + plots.json in the evaluation layout of mlstore.components.evaluator)
    Gate(model, baseline_model, evaluation) → ModelBlessing(blessed, current/baseline/evaluation ids)

Files are tiny stand-ins (a SavedModel directory holds a small ``saved_model.pb``):
the dashboard reads metrics from the index and only plot data from blobs. Metric
values follow a seeded random walk; every ``dip_every``-th day the model regresses
and its gate fails. Optionally two HubModule versions are published and consumed.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlstore

SLICES = ("Overall", "carrier=AA", "carrier=UA", "origin=JFK", "origin=LGA", "hour=[6,9)")
SLICE_SHARE = {"Overall": 1.0, "carrier=AA": 0.2, "carrier=UA": 0.25, "origin=JFK": 0.3,
               "origin=LGA": 0.35, "hour=[6,9)": 0.02}
ROWS_PER_DAY = 2000


@dataclass
class DemoStore:
    """What :func:`build_store` recorded, for assertions."""

    uri: str
    pipeline: str
    model_ids: list[int] = field(default_factory=list)
    evaluation_ids: list[int] = field(default_factory=list)
    blessing_ids: list[int] = field(default_factory=list)
    failed_model_ids: list[int] = field(default_factory=list)
    module_ids: list[int] = field(default_factory=list)


def _metrics(auc: float, rng: random.Random) -> dict[str, dict[str, float]]:
    out = {}
    for slice_key in SLICES:
        share = SLICE_SHARE[slice_key]
        slice_auc = min(0.99, max(0.5, auc + rng.gauss(0, 0.01) - (0.03 if share < 0.05 else 0)))
        out[slice_key] = {
            "auc_roc": slice_auc,
            "auc_pr": slice_auc - 0.25,
            "accuracy": 0.5 + (slice_auc - 0.5) * 0.8,
            "log_loss": 0.9 - slice_auc * 0.6,
            "calibration": 1.0 + rng.gauss(0, 0.03),
            "example_count": float(int(ROWS_PER_DAY * share)),
        }
    return out


def _curve_points(auc: float, n: int = 11) -> tuple[list[float], list[float]]:
    # A ROC-like curve whose area grows with auc: tpr = fpr ** k with k = (1 - auc) / auc.
    k = (1 - auc) / auc
    fpr = [i / (n - 1) for i in range(n)]
    return fpr, [x ** k for x in fpr]


def _plots(metrics: dict[str, dict[str, float]]) -> dict:
    slices = []
    for slice_key, m in metrics.items():
        fpr, tpr = _curve_points(m["auc_roc"])
        edges = [i / 10 for i in range(11)]
        mids = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
        slices.append({"slice": slice_key, "plots": {
            "calibration": {"bin_edges": edges, "weighted_count": [m["example_count"] / 10] * 10,
                            "mean_prediction": mids, "mean_label": [min(1.0, x * m["calibration"]) for x in mids]},
            "roc": {"thresholds": [1 - x for x in fpr], "fpr": fpr, "tpr": tpr},
            "pr": {"thresholds": [1 - x for x in fpr], "recall": tpr,
                   "precision": [max(0.2, 1 - 0.8 * r ** 2) for r in tpr]},
            "prediction_histogram": {"bin_edges": edges,
                                     "positives": [math.floor(30 * x) for x in mids],
                                     "negatives": [math.floor(30 * (1 - x)) for x in mids]},
        }})
    return {"format_version": 1, "slices": slices}


def _evaluation_dir(root: Path, metrics: dict[str, dict[str, float]]) -> Path:
    target = root / "evaluation"
    target.mkdir()
    slices = [{"slice": s, "metrics": m} for s, m in sorted(metrics.items(), key=lambda kv: (kv[0] != "Overall", kv[0]))]
    (target / "metrics.json").write_text(json.dumps({
        "format_version": 1, "num_examples": ROWS_PER_DAY, "num_missing_label": 0,
        "label": {"column": "arr_delay", "op": ">", "threshold": 15.0}, "example_weight_column": None,
        "slicing_specs": [{"features": ["carrier"], "boundaries": {}}], "slices": slices}))
    (target / "plots.json").write_text(json.dumps(_plots(metrics)))
    return target


def _file(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "data.txt").write_text(text)
    return path


def _publish_modules(store, pipeline: str, result: DemoStore, tmp: Path) -> None:
    for version in (1, 2):
        with mlstore.run(pipeline, "HubPublish", {"version": version}, store=store) as run:
            run.log_artifact(_file(tmp, f"module{version}", f"embedding v{version}"), "HubModule", role="module",
                             properties={"publisher": "acme", "name": "airport-embedding", "version": version,
                                         "description": f"Airport embedding, 16 dims (v{version}).",
                                         "tags": json.dumps({"signatures": {"default": "airport:string -> [16]"}})})
        result.module_ids.append(run.outputs[0].id)


def build_store(uri: str, days: int = 30, pipeline: str = "flights", *, seed: int = 0,
                dip_every: int = 6, modules: bool = True) -> DemoStore:
    """Records ``days`` daily pipeline runs into the store at ``uri``.

    Args:
        uri: store URI (created if needed).
        days: number of daily runs (spans 1..days).
        pipeline: pipeline name.
        seed: seeds the metric random walk.
        dip_every: every n-th day regresses and fails its gate (0: never).
        modules: also publish two HubModule versions and consume v2 from day 2 on.

    Returns:
        The ids of what was recorded.
    """
    store = mlstore.open(uri)
    rng = random.Random(seed)
    result = DemoStore(uri, pipeline)
    auc, prev_model, blessed_model, blessed_auc = 0.70, None, None, 0.0
    with tempfile.TemporaryDirectory(prefix="mlstore-dash-") as tmpdir:
        tmp = Path(tmpdir)
        if modules:
            _publish_modules(store, pipeline, result, tmp)
        for span in range(1, days + 1):
            day = tmp / f"day{span}"
            day.mkdir()
            run_id = f"day-{span:05d}"
            with mlstore.run(pipeline, "ExampleGen", {"span": span}, store=store, run_id=run_id) as run:
                run.log_artifact(_file(day, "examples", f"rows of day {span}"), "Examples", role="examples",
                                 properties={"span": span, "version": 0, "row_count": ROWS_PER_DAY,
                                             "split_names": '["train", "eval"]'})
            examples = run.outputs[0]
            with mlstore.run(pipeline, "Transform", {"spec": "v1"}, store=store, run_id=run_id) as run:
                run.use(examples, "examples")
                run.log_artifact(_file(day, "transform", f"graph {span}"), "TransformGraph", role="transform_graph")
            graph = run.outputs[0]
            with mlstore.run(pipeline, "Trainer", {"epochs": 2, "lr": 0.01}, store=store, run_id=run_id, seed=span) as run:
                run.use(examples, "examples")
                run.use(graph, "transform_graph")
                if prev_model is not None:
                    run.use(prev_model, "base_model")
                if modules and span >= 2:
                    run.use(result.module_ids[-1], "module")
                model_dir = _file(day, "model", f"weights {span}")
                (model_dir / "saved_model.pb").write_bytes(f"model {span}".encode())
                run.log_model(model_dir)
            model = run.outputs[0]
            dip = dip_every and span % dip_every == 0 and blessed_model is not None
            auc = min(0.95, auc + rng.gauss(0.002, 0.004))
            day_auc = auc - 0.04 if dip else auc
            metrics = _metrics(day_auc, rng)
            with mlstore.run(pipeline, "Evaluator", {"slices": list(SLICES)}, store=store, run_id=run_id) as run:
                run.use(model, "model")
                if blessed_model is not None:
                    run.use(blessed_model, "baseline_model")
                run.use(examples, "examples")
                run.log_evaluation(metrics, directory=_evaluation_dir(day, metrics))
            evaluation = run.outputs[0]
            blessed = blessed_model is None or metrics["Overall"]["auc_roc"] >= blessed_auc - 0.01
            with mlstore.run(pipeline, "Gate", {"metric": "auc_roc", "absolute": -0.01}, store=store,
                             run_id=run_id) as run:
                run.use(model, "model")
                if blessed_model is not None:
                    run.use(blessed_model, "baseline_model")
                run.use(evaluation, "evaluation")
                run.log_artifact(_file(day, "blessing", f"blessed={blessed}"), "ModelBlessing", role="blessing",
                                 properties={"blessed": int(blessed), "current_model_id": model.id,
                                             "baseline_model_id": blessed_model.id if blessed_model else 0,
                                             "evaluation_id": evaluation.id})
            result.model_ids.append(model.id)
            result.evaluation_ids.append(evaluation.id)
            result.blessing_ids.append(run.outputs[0].id)
            if blessed:
                blessed_model, blessed_auc = model, metrics["Overall"]["auc_roc"]
            else:
                result.failed_model_ids.append(model.id)
            prev_model = model
    store.close()
    return result


def build_store_fast(uri: str, days: int, pipeline: str = "flights", *, seed: int = 0,
                     dip_every: int = 6) -> DemoStore:
    """The same daily structure as :func:`build_store`, recorded with ``Store.log_execution``.

    For large stores (the benchmark): no SDK run context (no environment capture per
    step) and every artifact points at one of two shared blobs published once (a tiny
    file; an evaluation directory whose plots.json holds day 1's plots). Metrics (per
    slice), gate decisions, warm-start chains and module consumers are all per day.

    Args:
        uri: store URI (created if needed).
        days: number of daily runs (spans 1..days).
        pipeline: pipeline name.
        seed: seeds the metric random walk.
        dip_every: every n-th day regresses and fails its gate (0: never).

    Returns:
        The ids of what was recorded.
    """
    from mlstore.sdk import EVALUATION_FORMAT_VERSION  # noqa: PLC0415
    from mlstore.store import OutputArtifact  # noqa: PLC0415

    store = mlstore.open(uri)
    rng = random.Random(seed)
    result = DemoStore(uri, pipeline)
    with tempfile.TemporaryDirectory(prefix="mlstore-dash-") as tmpdir:
        tiny = store.blobs.publish(_file(Path(tmpdir), "tiny", "shared bytes"))
        evaluation_blob = store.blobs.publish(_evaluation_dir(Path(tmpdir), _metrics(0.7, random.Random(seed))))

    def out(type_name: str, role: str, blob=tiny, **props) -> OutputArtifact:
        return OutputArtifact(type_name, blob.uri, blob.digest, blob.size, role, props)

    def log(step: str, run_id: str | None, params: dict, inputs=(), outputs=()) -> list[int]:
        properties = {"params": json.dumps(params, sort_keys=True)}
        return list(store.log_execution(step, pipeline, inputs=list(inputs), outputs=list(outputs),
                                        properties=properties, run_id=run_id).output_ids)

    for version in (1, 2):
        result.module_ids += log("HubPublish", None, {"version": version}, outputs=[out(
            "HubModule", "module", publisher="acme", name="airport-embedding", version=version,
            description=f"Airport embedding, 16 dims (v{version}).",
            tags=json.dumps({"signatures": {"default": "airport:string -> [16]"}}))])
    auc, prev_model, blessed_model, blessed_auc = 0.70, None, None, 0.0
    for span in range(1, days + 1):
        run_id = f"day-{span:05d}"
        [examples] = log("ExampleGen", run_id, {"span": span}, outputs=[out(
            "Examples", "examples", span=span, version=0, row_count=ROWS_PER_DAY, split_names='["train", "eval"]')])
        [graph] = log("Transform", run_id, {"spec": "v1"}, [(examples, "examples")],
                      [out("TransformGraph", "transform_graph")])
        inputs = [(examples, "examples"), (graph, "transform_graph")]
        inputs += [(prev_model, "base_model")] if prev_model else []
        inputs += [(result.module_ids[-1], "module")] if span >= 2 else []
        [model] = log("Trainer", run_id, {"epochs": 2, "lr": 0.01}, inputs, [out("Model", "model")])
        dip = dip_every and span % dip_every == 0 and blessed_model is not None
        auc = min(0.95, auc + rng.gauss(0.002, 0.004))
        metrics = _metrics(auc - 0.04 if dip else auc, rng)
        baseline = [(blessed_model, "baseline_model")] if blessed_model else []
        [evaluation] = log("Evaluator", run_id, {"slices": list(SLICES)},
                           [(model, "model"), *baseline, (examples, "examples")],
                           [out("ModelEvaluation", "evaluation", evaluation_blob,
                                metrics=json.dumps(metrics, sort_keys=True), format_version=EVALUATION_FORMAT_VERSION)])
        blessed = blessed_model is None or metrics["Overall"]["auc_roc"] >= blessed_auc - 0.01
        [blessing] = log("Gate", run_id, {"metric": "auc_roc", "absolute": -0.01},
                         [(model, "model"), *baseline, (evaluation, "evaluation")],
                         [out("ModelBlessing", "blessing", blessed=int(blessed), current_model_id=model,
                              baseline_model_id=blessed_model or 0, evaluation_id=evaluation)])
        result.model_ids.append(model)
        result.evaluation_ids.append(evaluation)
        result.blessing_ids.append(blessing)
        if blessed:
            blessed_model, blessed_auc = model, metrics["Overall"]["auc_roc"]
        else:
            result.failed_model_ids.append(model)
        prev_model = model
    store.close()
    return result
