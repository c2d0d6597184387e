"""A realistic daily store for the gc tests, built through the public SDK.

Per day (span) d of pipeline ``daily``: ExampleGen -> Examples; Transform -> TransformGraph;
Trainer(examples, transform_graph, base_model = latest blessed) -> Model; Evaluator(model,
examples, baseline_model) -> ModelEvaluation; Gate -> ModelBlessing (blessed on day 1 and
every 5th day); Pusher(model, blessing) -> PushedModel for blessed days. Artifact bytes
are tiny files. Some days' Examples repeat an older day's bytes (SHARED_EXAMPLES), so artifacts share blobs.

Run as a script to log more days into an existing store (the concurrency test does)::

    python tests/integration/test_gc_daily.py STORE_URI FIRST_DAY LAST_DAY
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import mlstore

PIPELINE = "daily"
SHARED_EXAMPLES = {58: 3, 23: 2, 25: 4}  # day -> day whose Examples bytes it repeats


def is_blessed_day(day: int) -> bool:
    return day == 1 or day % 5 == 0


def _file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def log_day(store, day: int, work: Path) -> dict[str, int]:
    """Logs one day's pipeline; returns ``{type: artifact id}`` of what it made."""
    made: dict[str, int] = {}
    # latest_blessed raises NotFound for a pipeline with nothing recorded yet (day 1).
    base = store.latest_blessed(PIPELINE) if PIPELINE in store.pipelines() else None
    source_day = SHARED_EXAMPLES.get(day, day)
    with mlstore.run(PIPELINE, "ExampleGen", {"day": day}, store=store) as run:
        run.log_artifact(_file(work / f"ex{day}", "data.csv", f"x,y\n{source_day},{source_day * 2}\n" * 3),
                         "Examples", "examples", {"span": day, "split_names": "train,eval"})
    made["Examples"] = examples = run.outputs[0].id
    with mlstore.run(PIPELINE, "Transform", {"day": day}, store=store) as run:
        run.use(examples, "examples")
        run.log_artifact(_file(work / f"tg{day}", "graph.txt", f"mean={day}.5\n"), "TransformGraph", "transform_graph")
    made["TransformGraph"] = graph = run.outputs[0].id
    with mlstore.run(PIPELINE, "Trainer", {"day": day}, store=store) as run:
        run.use(examples, "examples")
        run.use(graph, "transform_graph")
        if base is not None:
            run.use(base, "base_model")
        model_dir = work / f"m{day}"
        _file(model_dir, "saved_model.pb", f"model of day {day}\n" * 4)
        _file(model_dir, "variables/variables.data", f"weights {day}\n")
        run.log_model(model_dir)
    made["Model"] = model = run.outputs[0].id
    with mlstore.run(PIPELINE, "Evaluator", {"day": day}, store=store) as run:
        run.use(model, "model")
        run.use(examples, "examples")
        if base is not None:
            run.use(base, "baseline_model")
        run.log_evaluation({"Overall": {"auc": 0.5 + day / 1000}})
    made["ModelEvaluation"] = evaluation = run.outputs[0].id
    blessed = is_blessed_day(day)
    with mlstore.run(PIPELINE, "Gate", {"day": day}, store=store) as run:
        run.use(evaluation, "evaluation")
        run.use(model, "model")
        props = {"blessed": int(blessed), "current_model_id": model, "evaluation_id": evaluation}
        if base is not None:
            run.use(base, "baseline_model")
            props["baseline_model_id"] = base.id
        run.log_artifact(_file(work / f"b{day}", "blessing.json", f'{{"blessed": {int(blessed)}, "day": {day}}}'),
                         "ModelBlessing", "blessing", props)
    made["ModelBlessing"] = blessing = run.outputs[0].id
    if blessed:
        with mlstore.run(PIPELINE, "Pusher", {"day": day}, store=store) as run:
            run.use(model, "model")
            run.use(blessing, "blessing")
            run.log_artifact(_file(work / f"p{day}", "push.txt", f"serving/v{day}\n"), "PushedModel", "pushed_model",
                             {"pushed": 1, "pushed_destination": "serving", "pushed_version": str(day)})
        made["PushedModel"] = run.outputs[0].id
    return made


def log_days(store, first: int, last: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gc-days-") as tmp:
        for day in range(first, last + 1):
            log_day(store, day, Path(tmp))


def test_daily_store_structure(tmp_path):
    store = mlstore.open(str(tmp_path / "s"))
    log_days(store, 1, 6)
    counts = {}
    for art in store.artifacts():
        counts[art.type] = counts.get(art.type, 0) + 1
    assert counts == {"Examples": 6, "TransformGraph": 6, "Model": 6, "ModelEvaluation": 6,
                      "ModelBlessing": 6, "PushedModel": 2}
    assert store.latest_blessed(PIPELINE).span == 5
    trainer_day6 = [e for e in store.executions(type="Trainer")][-1]
    roles = {ev.role for ev in store.events(trainer_day6.node_id) if not ev.is_output}
    assert roles == {"examples", "transform_graph", "base_model"}


if __name__ == "__main__":
    log_days(mlstore.open(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
