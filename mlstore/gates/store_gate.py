"""The gate against a store: find the evaluations, decide, record a ModelBlessing.

:func:`evaluate_gate` is what ``mlstore gate`` and the gRPC ``EvaluateGate`` call:

1. the candidate's evaluation is the ModelEvaluation output (role ``evaluation``) of an
   Evaluator execution whose ``model`` input is the candidate;
2. the baseline is the pipeline's latest blessed model (never the candidate itself), a
   given model, or none (a first model: only value thresholds apply);
3. the baseline's metrics come, when possible, from the ``baseline_evaluation`` output of
   an Evaluator execution that evaluated candidate and baseline together (the same
   data); otherwise from the baseline's own newest evaluation, and the report says so;
4. the decision is :func:`mlstore.gates.decide`; with ``record=True`` it is recorded by
   running the built-in ``Gate`` step through the pipeline executor (never cached), so
   every decision is a Gate execution with a ModelBlessing (blessed 1/0, linked to the
   candidate, baseline, evaluations and the spec digest).

Everything is validated before anything is recorded: a bad spec or a missing
evaluation records nothing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import yaml

from mlstore import errors
from mlstore.components.evaluator.layout import EvalResult, SliceResult, sort_slices
from mlstore.tfx import tfma
from mlstore.tfx.tfma import read_any_evaluation
from mlstore.types import Artifact

from .decide import decide
from .report import GateReport
from .spec import parse_gate_spec, validate_against

LATEST_BLESSED = "latest-blessed"
_DONE = ("COMPLETE", "CACHED")


@dataclass(frozen=True)
class GateOutcome:
    """A gate decision on a candidate from the store.

    Attributes:
        report: the decision; its ``notes`` include the store-side notes below.
        candidate: the candidate Model.
        evaluation: the candidate's ModelEvaluation the decision used.
        baseline: the baseline Model (``None``: value thresholds only).
        baseline_evaluation: the baseline's ModelEvaluation the decision used.
        anomalies: the ExampleAnomalies of the candidate's training data the ``data:``
            checks used (``None``: the spec has none, or none was recorded).
        blessing: the recorded ModelBlessing (``None`` with ``record=False``).
        execution_id: the recorded Gate execution (``None`` with ``record=False``).
        notes: how the inputs were found (first model, baseline on different data, ...).
    """

    report: GateReport
    candidate: Artifact
    evaluation: Artifact
    baseline: Artifact | None
    baseline_evaluation: Artifact | None
    blessing: Artifact | None = None
    execution_id: int | None = None
    notes: tuple[str, ...] = ()
    anomalies: Artifact | None = None  # the training data's ExampleAnomalies (specs with data:)

    def to_json(self) -> dict[str, Any]:
        """The ids (``artifact:N``), for the CLI's ``--json`` next to the report."""
        def node(a: Artifact | None) -> str | None:
            return str(a.node_id) if a is not None else None
        return {"candidate": node(self.candidate), "evaluation": node(self.evaluation),
                "baseline": node(self.baseline), "baseline_evaluation": node(self.baseline_evaluation),
                "blessing": node(self.blessing), "anomalies": node(self.anomalies),
                "execution": f"execution:{self.execution_id}" if self.execution_id else None}


@dataclass(frozen=True)
class _EvaluatorRun:
    """One finished Evaluator execution: artifact ids by role."""

    execution_id: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass(frozen=True)
class _Inputs:
    """What the decision reads, found in the store."""

    candidate: Artifact
    evaluation: Artifact
    baseline: Artifact | None
    baseline_evaluation: Artifact | None
    notes: tuple[str, ...]


# ------------------------------------------------------------------ finding evaluations

def _evaluator_runs(store, artifact: Artifact, input_role: str = "model") -> list[_EvaluatorRun]:
    """Finished Evaluator executions that read ``artifact`` as ``input_role``, newest first."""
    runs = []
    for event in store.events(artifact.node_id):
        if event.is_output or event.role != input_role:
            continue
        execution = store.execution(f"execution:{event.execution_id}")
        if execution.type != "Evaluator" or execution.state not in _DONE:
            continue
        events = store.events(execution.node_id)
        runs.append(_EvaluatorRun(execution.id, {e.role: e.artifact_id for e in events if not e.is_output},
                                  {e.role: e.artifact_id for e in events if e.is_output}))
    return sorted(runs, key=lambda r: (r.outputs.get("evaluation", 0), r.execution_id), reverse=True)


def _live_evaluation(store, artifact_id: int | None) -> Artifact | None:
    if artifact_id is None:
        return None
    artifact = store.artifact(artifact_id)
    return artifact if artifact.type == "ModelEvaluation" and artifact.state == "LIVE" else None


def _own_evaluation(store, model: Artifact, runs: list[_EvaluatorRun], what: str) -> Artifact:
    """The newest live ``evaluation`` output of ``runs``, the Evaluator runs on ``model``.

    Raises:
        FailedPrecondition: the model has none.
    """
    for run in runs:
        found = _live_evaluation(store, run.outputs.get("evaluation"))
        if found is not None:
            return found
    raise errors.FailedPrecondition(
        f"the {what} model {model.node_id} has no evaluation: run the Evaluator on it first (an Evaluator "
        f"execution with input role 'model' = {model.node_id} and a ModelEvaluation output role 'evaluation')")


def _paired_evaluations(store, runs: list[_EvaluatorRun], baseline: Artifact) -> tuple[Artifact, Artifact] | None:
    """The newest (evaluation, baseline_evaluation) of ``runs`` computed together, i.e. on the same data."""
    for run in runs:
        if run.inputs.get("baseline_model") != baseline.id:
            continue
        pair = (_live_evaluation(store, run.outputs.get("evaluation")),
                _live_evaluation(store, run.outputs.get("baseline_evaluation")))
        if pair[0] is not None and pair[1] is not None:
            return pair
        if pair[0] is not None and _holds_tfma_baseline(store, pair[0]):
            return pair[0], pair[0]  # TFX's Evaluator: both models' values in one TFMA output
    return None


def _holds_tfma_baseline(store, evaluation: Artifact) -> bool:
    try:
        path = store.local_path(evaluation)
    except (errors.NotFound, errors.IntegrityError, errors.PermissionDenied):
        return False
    return tfma.is_tfma_output(path) and bool(tfma.baseline_names(path))


def _model_of_evaluation(store, evaluation: Artifact) -> Artifact:
    """The ``model`` input of the Evaluator execution that wrote ``evaluation``."""
    for event in store.events(evaluation.node_id):
        if event.is_output and event.role == "evaluation":
            for source in store.events(f"execution:{event.execution_id}"):
                if not source.is_output and source.role == "model":
                    return store.artifact(source.artifact_id)
    raise errors.FailedPrecondition(
        f"{evaluation.node_id} is not the 'evaluation' output of an Evaluator run with a 'model' input; "
        f"name the Model instead")


def _as_model(store, ref: Any, what: str) -> tuple[Artifact, Artifact | None]:
    """(model, the evaluation the ref names if it names one).

    Raises:
        InvalidArgument: ``ref`` names neither a Model nor a ModelEvaluation.
    """
    artifact = store.artifact(ref)
    if artifact.type == "Model":
        return artifact, None
    if artifact.type == "ModelEvaluation":
        return _model_of_evaluation(store, artifact), artifact
    raise errors.InvalidArgument(f"the {what} {artifact.node_id} is a {artifact.type}; name a Model")


# ------------------------------------------------------------------ baseline

def _latest_blessed_other(store, pipeline: str, candidate: Artifact) -> Artifact | None:
    """``store.latest_blessed(pipeline)``, or the newest other blessed model if that is the candidate."""
    latest = store.latest_blessed(pipeline)
    if latest is None or latest.id != candidate.id:
        return latest
    # Re-gating an already blessed model: compare it with the one blessed before it,
    # in the index's order (span, then model id; a missing span counts as oldest).
    others = [b for b in store.blessings(pipeline=pipeline) if b.blessed and b.model_id != candidate.id]
    if not others:
        return None
    best = max(others, key=lambda b: (b.span is not None, b.span or 0, b.model_id))
    return store.artifact(best.model_id)


def _resolve_inputs(store, candidate: Artifact, named_evaluation: Artifact | None, baseline: Any,
                    pipeline: str) -> _Inputs:
    notes: list[str] = []
    if baseline is None:
        base_model, base_named = None, None
        notes.append("no baseline requested: only value thresholds were applied")
    elif baseline == LATEST_BLESSED:
        base_model, base_named = _latest_blessed_other(store, pipeline, candidate), None
        if base_model is None:
            notes.append(f"no blessed model in pipeline {pipeline!r} yet (first model): "
                         f"only value thresholds were applied")
    else:
        base_model, base_named = _as_model(store, baseline, "baseline")
        if base_model.id == candidate.id:
            raise errors.InvalidArgument(f"the baseline {base_model.node_id} is the candidate itself")
    runs = [] if named_evaluation else _evaluator_runs(store, candidate)  # read once for pair and own
    if base_model is None:
        evaluation = named_evaluation or _own_evaluation(store, candidate, runs, "candidate")
        return _Inputs(candidate, evaluation, None, None, tuple(notes))
    pair = None if named_evaluation or base_named else _paired_evaluations(store, runs, base_model)
    if pair is not None:
        if pair[0].id == pair[1].id:
            notes.append(f"baseline values: TFMA's evaluation of {base_model.node_id} on the same data, "
                         f"in {pair[0].node_id}")
        return _Inputs(candidate, pair[0], base_model, pair[1], tuple(notes))
    evaluation = named_evaluation or _own_evaluation(store, candidate, runs, "candidate")
    base_evaluation = base_named or _own_evaluation(store, base_model, _evaluator_runs(store, base_model), "baseline")
    notes.append(f"baseline {base_model.node_id} was evaluated on different data than the candidate "
                 f"({base_evaluation.node_id} vs {evaluation.node_id}): deltas compare different data")
    return _Inputs(candidate, evaluation, base_model, base_evaluation, tuple(notes))


# ------------------------------------------------------------------ training data

def _outputs(store, execution_id: int, type_: str) -> list[Artifact]:
    """LIVE outputs of type ``type_`` of a finished execution."""
    if store.execution(f"execution:{execution_id}").state not in _DONE:
        return []
    found = (store.artifact(e.artifact_id) for e in store.events(f"execution:{execution_id}") if e.is_output)
    return [a for a in found if a.type == type_ and a.state == "LIVE"]


def _readers(store, artifact_id: int, role: str) -> list[int]:
    """Executions that read an artifact as ``role``."""
    return [e.execution_id for e in store.events(f"artifact:{artifact_id}") if not e.is_output and e.role == role]


def training_anomalies(store, model: Artifact) -> Artifact | None:
    """The newest ExampleAnomalies recorded for the Examples ``model`` was trained on:
    Trainer input ``examples`` -> StatisticsGen (``examples`` -> ExampleStatistics) ->
    ExampleValidator (``statistics`` -> ExampleAnomalies), as mlstore and TFX record them.
    A validator that read them only as ``previous_statistics`` (drift of the next span)
    does not count. None when nothing was recorded."""
    producers = [e.execution_id for e in store.events(model.node_id) if e.is_output]
    examples = [e.artifact_id for p in producers for e in store.events(f"execution:{p}")
                if not e.is_output and e.role == "examples"]
    found = [anomalies
             for ex in examples for stats_run in _readers(store, ex, "examples")
             for stats in _outputs(store, stats_run, "ExampleStatistics")
             for validator in _readers(store, stats.id, "statistics")
             for anomalies in _outputs(store, validator, "ExampleAnomalies")]
    return max(found, key=lambda a: a.id) if found else None


def _load_anomalies(store, artifact: Artifact | None) -> dict | None:
    from mlstore.components.statistics.layout import read_anomalies  # noqa: PLC0415

    return read_anomalies(store.local_path(artifact)) if artifact is not None else None


# ------------------------------------------------------------------ metrics

def _load(store, evaluation: Artifact, tfma_baseline: bool = False) -> tuple[EvalResult, bool]:
    """The evaluation's metrics and whether they came from the evaluator layout (with
    ``tfma_baseline``, the baseline model's values in a TFMA output).

    The layout files (mlstore's ``metrics.json`` v1 or TFMA's ``metrics-*``) are what the
    recorded Gate step reads. An evaluation logged another way (``run.log_evaluation``)
    or whose bytes were collected still has its metrics in the index; a read-only
    decision can use those.
    """
    if tfma_baseline:
        return tfma.read_evaluation(store.local_path(evaluation), with_plots=False, baseline=True), True
    try:
        return read_any_evaluation(store.local_path(evaluation), with_plots=False), True
    except (errors.NotFound, errors.DataError, errors.FailedPrecondition):
        metrics = store.evaluation_metrics(evaluation)
        if not metrics:
            raise errors.FailedPrecondition(
                f"{evaluation.node_id} has neither an evaluator layout (metrics.json) nor indexed metrics; "
                f"re-run the Evaluator") from None
        slices = sort_slices([SliceResult(key, dict(values)) for key, values in metrics.items()])
        count = int(metrics.get("Overall", {}).get("example_count") or 0)
        return EvalResult(slices=slices, num_examples=count, num_missing_label=0, label={}), False


# ------------------------------------------------------------------ entry point

def evaluate_gate(store, candidate_ref: Any, baseline: Any = LATEST_BLESSED, spec_text: str = "", *,
                  record: bool = True, pipeline: str | None = None) -> GateOutcome:
    """Decides on a candidate model from the store and (by default) records the decision.

    Args:
        store: a :class:`~mlstore.store.Store` (or a remote store).
        candidate_ref: the candidate Model (or one of its ModelEvaluations).
        baseline: ``"latest-blessed"`` (the pipeline's latest blessed model other than
            the candidate), a Model / ModelEvaluation reference, or ``None`` (value
            thresholds only).
        spec_text: the gate spec YAML (see :mod:`mlstore.gates.spec`).
        record: record a Gate execution with its ModelBlessing.
        pipeline: where to look for the latest blessed model and record the decision;
            default the candidate's pipeline.

    Returns:
        The :class:`GateOutcome`; ``outcome.report.passed`` is the verdict.

    Raises:
        InvalidArgument: malformed spec (message names the field and line), a spec
            slice feature the evaluation lacks, bad references.
        NotFound: a reference names nothing.
        FailedPrecondition: the candidate (or baseline) has no evaluation, or recording
            needs evaluator-layout files the evaluation lacks.
    """
    spec = parse_gate_spec(spec_text)
    candidate, named_evaluation = _as_model(store, candidate_ref, "candidate")
    pipeline = pipeline or candidate.pipeline
    if not pipeline:
        raise errors.InvalidArgument(f"{candidate.node_id} has no pipeline; pass the pipeline explicitly")
    found = _resolve_inputs(store, candidate, named_evaluation, baseline, pipeline)
    candidate_result, layout = _load(store, found.evaluation)
    validate_against(spec, candidate_result)
    same_file = found.baseline_evaluation is not None and found.baseline_evaluation.id == found.evaluation.id
    baseline_result, base_layout = (_load(store, found.baseline_evaluation, tfma_baseline=same_file)
                                    if found.baseline_evaluation else (None, True))
    anomalies = training_anomalies(store, found.candidate) if spec.data is not None else None
    report = decide(spec, candidate_result, baseline_result, _load_anomalies(store, anomalies))
    report = dataclasses.replace(report, notes=found.notes + report.notes)
    outcome = GateOutcome(report, found.candidate, found.evaluation, found.baseline,
                          found.baseline_evaluation, notes=found.notes, anomalies=anomalies)
    if not record:
        return outcome
    if not (layout and base_layout):
        raise errors.FailedPrecondition(
            "cannot record a blessing: an evaluation has no evaluator layout (mlstore's metrics.json v1 or "
            "TFMA's metrics-* files) for the Gate "
            "step to read; re-run the Evaluator, or decide without recording (--no-record)")
    return _record(store, pipeline, spec_text, outcome)


def _one_line_spec(spec_text: str, digest: str) -> str:
    """The spec as one line of flow-style YAML (same document, same digest).

    Why: the spec is recorded in the execution's ``params`` (JSON), where a multi-line
    text becomes ``\\n`` escapes, and ML Metadata 1.17's PostgreSQL backend cannot store a
    string property containing a backslash (it builds a malformed ``'E'...'`` literal).
    Flow-style YAML of the parsed document has no newlines or double quotes to escape.
    """
    one_line = yaml.safe_dump(yaml.safe_load(spec_text), default_flow_style=True, width=2**31,
                              sort_keys=True).strip()
    return one_line if parse_gate_spec(one_line).digest() == digest else spec_text


def _record(store, pipeline: str, spec_text: str, outcome: GateOutcome) -> GateOutcome:
    """Runs the built-in Gate step (uncached) so the decision is a recorded execution."""
    # Imported here: the executor pulls in the SDK and the index; a read-only gate needs neither.
    from mlstore.pipeline.executor import execute  # noqa: PLC0415
    from mlstore.pipeline.steps import gate as gate_step  # noqa: PLC0415

    inputs = {"model": outcome.candidate, "evaluation": outcome.evaluation}
    if outcome.anomalies is not None:
        inputs["anomalies"] = outcome.anomalies
    if outcome.baseline is not None:
        inputs["baseline_model"] = outcome.baseline
        if outcome.baseline_evaluation.id != outcome.evaluation.id:  # else: TFMA's, in the same file
            inputs["baseline_evaluation"] = outcome.baseline_evaluation
    params = {"spec": _one_line_spec(spec_text, outcome.report.spec_digest)}
    result = execute(store, pipeline, "Gate", gate_step, inputs, params, use_cache=False,
                     extra_properties={"gate_notes": json.dumps(list(outcome.notes))})
    blessing = result.outputs["blessing"]
    if bool(blessing.properties.get("blessed")) != outcome.report.passed:  # same code, same files
        raise errors.IntegrityError(f"recorded {blessing.node_id} disagrees with the decision; "
                                    f"the evaluation bytes changed while gating")
    return dataclasses.replace(outcome, blessing=blessing, execution_id=result.execution_id)
