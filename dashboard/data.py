"""Cached data access for the dashboard, through mlstore's public API only.

Everything here calls ``mlstore.open(uri)`` and Store methods, never the index tables.
Results are cached with ``st.cache_data`` keyed on the store URI and a cheap *store
version*: the newest execution id. Any new execution changes the version, so a page
never shows stale data, and an unchanged store costs one query per rerun to confirm.
"Newest N" lists use the store's newest-first queries (``order="desc"``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import streamlit as st

import mlstore
from mlstore import errors
from mlstore.tfx import tfma
from mlstore.types import decoded_property

#: Environment variable carrying the store URI (``mlstore dashboard`` sets it).
STORE_ENV = "MLSTORE_URI"

# Metrics where a smaller value is better; the rest are higher-is-better, except those
# in NEUTRAL_METRICS which are not judged.
LOWER_IS_BETTER = frozenset({"log_loss", "loss", "mse", "mae", "rmse"})
NEUTRAL_METRICS = frozenset({"example_count", "weighted_example_count", "calibration",
                             "mean_label", "mean_prediction"})

_BLESSING_COLUMNS = ["id", "model_id", "baseline_id", "evaluation_id", "pipeline", "blessed", "span", "create_time_ms"]


def store_uri() -> str | None:
    """The store URI: ``--store URI`` after ``--`` on the streamlit command line, else $MLSTORE_URI."""
    argv = sys.argv[1:]
    if "--store" in argv and argv.index("--store") + 1 < len(argv):
        return argv[argv.index("--store") + 1]
    return os.environ.get(STORE_ENV) or None


@st.cache_resource(show_spinner=False)
def _open(uri: str | None):
    opened = mlstore.open(uri)
    opened.follow()  # pick up TFX runs as they finish (a server follows itself: a no-op remotely)
    warm_up(uri, opened)
    return opened


def store():
    """The opened store (one per URI per server process).

    Raises:
        Unavailable / InvalidArgument: from :func:`mlstore.open`.
    """
    return _open(store_uri())


@st.cache_resource(show_spinner=False)
def warm_up(uri: str | None, _opened) -> threading.Thread:
    """Starts (once per URI per server process) a background lineage query.

    Why: the first lineage query of a process loads every lineage edge into memory
    (seconds at 10,000 daily runs; later queries only load new edges). Paying it at
    start-up keeps it off the first lineage page view.

    Args:
        uri: the store URI (the cache key).
        _opened: the opened store (not hashed: leading underscore).

    Returns:
        The thread (joinable, e.g. by the benchmark).
    """
    thread = threading.Thread(target=_first_lineage_query, args=(_opened,), name="mlstore-warm-up",
                              daemon=True)
    thread.start()
    return thread


def _first_lineage_query(opened) -> None:
    try:
        newest = opened.artifacts(order="desc", limit=1)
        if newest:
            opened.lineage(newest[0], depth=1)
    except errors.MlstoreError:
        pass  # best effort: the page that needs lineage pays the cost and shows any error itself


def version(s=None) -> int:
    """The store version: the newest execution id (see the module docstring)."""
    return (s or store()).newest_execution_id()


# -- cached queries --------------------------------------------------------------------
# Each takes (uri, ver) first so the cache key changes with the store.

@st.cache_data(show_spinner=False, max_entries=64)
def pipelines(uri: str | None, ver: int) -> list[str]:
    return store().pipelines()


@st.cache_data(show_spinner=False, max_entries=256)
def metric_series(uri: str | None, ver: int, pipeline: str, metric: str, slice_key: str) -> pd.DataFrame:
    """Columns model_id, evaluation_id, span, value (by span)."""
    points = store().metric_series(pipeline, metric, slice_key)
    return pd.DataFrame(points, columns=["model_id", "evaluation_id", "span", "value"])  # MetricPoint tuples


@st.cache_data(show_spinner=False, max_entries=64)
def blessings(uri: str | None, ver: int, pipeline: str | None) -> pd.DataFrame:
    """Gate decisions, oldest first: id, model_id, baseline_id, evaluation_id, blessed, span, create_time_ms."""
    rows = [b.__dict__ for b in store().blessings(pipeline=pipeline)]
    return _blessing_frame(rows)


def _blessing_frame(rows: list[dict]) -> pd.DataFrame:
    """Blessings as a table; optional ids stay integers (``Int64``: no ``18.0``)."""
    frame = pd.DataFrame(rows, columns=_BLESSING_COLUMNS)
    for column in ("baseline_id", "evaluation_id", "span"):
        frame[column] = frame[column].astype("Int64")
    return frame


@st.cache_data(show_spinner=False, max_entries=512)
def model_blessings(uri: str | None, ver: int, model_id: int) -> pd.DataFrame:
    """One model's gate decisions, oldest first (columns as :func:`blessings`)."""
    rows = [b.__dict__ for b in store().blessings(model=f"artifact:{model_id}")]
    return _blessing_frame(rows)


@st.cache_data(show_spinner=False, max_entries=512)
def evaluation_metrics(uri: str | None, ver: int, evaluation_id: int) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of an evaluation.

    The metric index holds models' own evaluations only (a series point per model); a
    baseline's evaluation on the candidate's data (role ``baseline_evaluation``) is read
    from its ``metrics`` property instead.
    """
    s = store()
    found = s.evaluation_metrics(f"artifact:{evaluation_id}")
    if not found:
        recorded = parse_json(s.artifact(f"artifact:{evaluation_id}").properties.get("metrics"))
        if isinstance(recorded, dict):
            found = {k: {m: float(v) for m, v in values.items() if isinstance(v, (int, float))}
                     for k, values in recorded.items() if isinstance(values, dict)}
    return found


@st.cache_data(show_spinner=False, max_entries=64)
def metric_catalog(uri: str | None, ver: int, pipeline: str) -> tuple[list[str], list[str]]:
    """(metric names, slice keys with "Overall" first) evaluated in the pipeline; empty when none."""
    s = store()
    return s.metric_names(pipeline), s.slices(pipeline)


@st.cache_data(show_spinner=False, max_entries=64)
def newest_artifacts(uri: str | None, ver: int, type_name: str | None, pipeline: str | None, n: int) -> list:
    """The newest ``n`` artifacts of a type (and pipeline), newest first."""
    return store().artifacts(type=type_name, pipeline=pipeline, order="desc", limit=n)


@st.cache_data(show_spinner=False, max_entries=256)
def models_before(uri: str | None, ver: int, pipeline: str, model_id: int, n: int) -> list:
    """The ``n`` Model artifacts of the pipeline logged just before ``model_id``, newest first."""
    return store().artifacts(type="Model", pipeline=pipeline, order="desc", before_id=model_id, limit=n)


@st.cache_data(show_spinner=False, max_entries=64)
def newest_executions(uri: str | None, ver: int, step: str | None, pipeline: str | None,
                      state: str | None, n: int, since_ms: int | None = None) -> list:
    """The newest ``n`` executions matching the filters (created at/after ``since_ms``), newest first."""
    return store().executions(type=step, pipeline=pipeline, state=state, order="desc", limit=n, since_ms=since_ms)


@st.cache_data(show_spinner=False, max_entries=32)
def all_artifacts(uri: str | None, ver: int, type_name: str) -> list:
    """Every artifact of a (rare) type, e.g. HubModule."""
    return store().artifacts(type=type_name)


@st.cache_data(show_spinner=False, max_entries=512)
def artifact(uri: str | None, ver: int, ref: str):
    return store().artifact(ref)


@st.cache_data(show_spinner=False, max_entries=512)
def execution(uri: str | None, ver: int, ref: str):
    return store().execution(ref)


@st.cache_data(show_spinner=False, max_entries=512)
def events(uri: str | None, ver: int, ref: str) -> list:
    return store().events(ref)


@st.cache_data(show_spinner=False, max_entries=128)
def lineage(uri: str | None, ver: int, ref: str, direction: str, depth: int | None):
    return store().lineage(ref, direction=direction, depth=depth)


# -- derived views ---------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=64)
def rerun_outputs(uri: str | None, ver: int, pipeline: str, newest: int = 2000) -> dict[int, int]:
    """``{artifact id: id of the execution it re-ran}`` for outputs of ``mlstore rerun`` executions.

    A rerun verifies a recorded day; its outputs are not new daily models, so pickers
    label them and never default to them. Looks at the newest ``newest`` executions.
    """
    found: dict[int, int] = {}
    for e in newest_executions(uri, ver, None, pipeline, None, newest):
        original = e.properties.get("rerun_of")
        if original is None:
            continue
        for ev in events(uri, ver, f"execution:{e.id}"):
            if ev.is_output:
                found[ev.artifact_id] = int(original)
    return found


@dataclass(frozen=True)
class ModelContext:
    """What the model page shows about one model, gathered from events and blessings.

    ``evaluation_id`` is this model's own evaluation: the Evaluator output with role
    ``evaluation`` of a run that used the model with role ``model``. The same run's
    ``baseline_evaluation`` output (the baseline scored on the same data, what the gate
    compares) is ``baseline_evaluation_id``.
    """

    model: Any
    trainer: Any | None
    evaluation_id: int | None
    baseline_id: int | None
    blessings: pd.DataFrame
    baseline_evaluation_id: int | None = None
    evaluator_id: int | None = None


#: Output roles of an Evaluator run: the candidate's evaluation and the baseline's.
EVALUATION_ROLE = "evaluation"
BASELINE_EVALUATION_ROLE = "baseline_evaluation"


def model_context(uri: str | None, ver: int, model_id: int) -> ModelContext:
    """The model, the execution that produced it, its newest own evaluation, baseline and gate decisions.

    An evaluation by a rerun of an Evaluator (``mlstore rerun``, a verification) is used
    only when no other Evaluator run scored the model, so the page agrees with the series.

    Raises:
        NotFound: no such model. InvalidArgument: the id is not a Model artifact.
    """
    model = artifact(uri, ver, f"artifact:{model_id}")
    if model.type != "Model":
        raise errors.InvalidArgument(f"artifact:{model_id} is a {model.type}, not a Model")
    trainer, evaluation_id, baseline_id, baseline_evaluation_id, evaluator_id = None, None, None, None, None
    best = (False, 0)  # (a day's own run, not a rerun; evaluation id): the largest wins
    for ev in events(uri, ver, f"artifact:{model_id}"):
        if ev.is_output:
            trainer = execution(uri, ver, f"execution:{ev.execution_id}")
            continue
        if ev.role != "model":
            continue
        own, theirs = _evaluation_outputs(uri, ver, ev.execution_id)
        if own is None:
            continue
        rank = (execution(uri, ver, f"execution:{ev.execution_id}").properties.get("rerun_of") is None, own)
        if rank > best:
            best = rank
            evaluation_id, baseline_evaluation_id, evaluator_id = own, theirs, ev.execution_id
            baseline_id = _baseline_input(uri, ver, ev.execution_id)
    mine = model_blessings(uri, ver, model_id)
    if not mine.empty and pd.notna(mine.iloc[-1]["baseline_id"]) and int(mine.iloc[-1]["baseline_id"]):
        gate_baseline = int(mine.iloc[-1]["baseline_id"])
        if gate_baseline != baseline_id:
            baseline_evaluation_id = None  # that run scored another baseline
        baseline_id = gate_baseline
    return ModelContext(model, trainer, evaluation_id, baseline_id, mine, baseline_evaluation_id, evaluator_id)


def _evaluation_outputs(uri: str | None, ver: int, execution_id: int) -> tuple[int | None, int | None]:
    """(own evaluation id, baseline evaluation id) output by one Evaluator run.

    An output with role ``evaluation`` is the candidate's; ``baseline_evaluation`` the
    baseline's. A ModelEvaluation output with any other role counts as the candidate's
    only when the run has no ``evaluation`` output (stores written by other tools).
    """
    own, theirs, other = None, None, None
    for out in events(uri, ver, f"execution:{execution_id}"):
        if not out.is_output:
            continue
        if out.role == EVALUATION_ROLE:
            own = out.artifact_id
        elif out.role == BASELINE_EVALUATION_ROLE:
            theirs = out.artifact_id
        elif artifact(uri, ver, f"artifact:{out.artifact_id}").type == "ModelEvaluation":
            other = out.artifact_id
    return (own if own is not None else other), theirs


def _baseline_input(uri: str | None, ver: int, execution_id: int) -> int | None:
    for ev in events(uri, ver, f"execution:{execution_id}"):
        if not ev.is_output and ev.role == "baseline_model":
            return ev.artifact_id
    return None


def warm_start_chain(uri: str | None, ver: int, model_id: int, max_models: int = 10) -> list[int]:
    """Model ids this model warm-started from (base_model edges), nearest first.

    Walks events (producer → its base_model input) rather than a lineage query: two small
    lookups per model, with no dependence on the size of the rest of the graph.
    """
    chain, current = [], model_id
    while len(chain) < max_models:
        producers = [ev.execution_id for ev in events(uri, ver, f"artifact:{current}") if ev.is_output]
        bases = [ev.artifact_id for p in producers for ev in events(uri, ver, f"execution:{p}")
                 if not ev.is_output and ev.role == "base_model"]
        if not bases:
            break
        current = bases[0]
        chain.append(current)
    return chain


def metric_deltas(current: dict[str, dict[str, float]], other: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Long table slice, metric, value, other, delta, regression (worse in the judged direction)."""
    rows = []
    for slice_key, values in current.items():
        for name, value in values.items():
            before = other.get(slice_key, {}).get(name)
            delta = None if before is None else value - before
            worse = (delta is not None and name not in NEUTRAL_METRICS
                     and (delta > 1e-12 if name in LOWER_IS_BETTER else delta < -1e-12))
            rows.append({"slice": slice_key, "metric": name, "value": value, "other": before,
                         "delta": delta, "regression": worse})
    return pd.DataFrame(rows, columns=["slice", "metric", "value", "other", "delta", "regression"])


def read_plots(evaluation_id: int) -> dict[str, dict]:
    """``{slice: {plot name: data}}`` of the evaluation (mlstore's ``plots.json`` or TFMA's
    ``plots-*`` files); {} when it has none.

    Raises:
        NotFound / IntegrityError: the evaluation's bytes are missing or corrupt.
    """
    path = store().local_path(f"artifact:{evaluation_id}")
    if tfma.is_tfma_output(path):
        return tfma.read_plots(path)
    plots_file = os.path.join(path, "plots.json")
    if not os.path.isfile(plots_file):
        return {}
    with open(plots_file, encoding="utf-8") as fh:
        data = json.load(fh)
    return {entry["slice"]: entry.get("plots", {}) for entry in data.get("slices", [])}


@st.cache_data(show_spinner=False, max_entries=512)
def tfma_baseline_metrics(uri: str | None, ver: int, evaluation_id: int) -> dict[str, dict[str, float]]:
    """The baseline model's ``{slice: {metric: value}}`` in a TFMA evaluation (TFX's Evaluator
    scores both models on the same data); {} for other evaluations."""
    try:
        path = store().local_path(f"artifact:{evaluation_id}")
        return tfma.read_metrics(path, baseline=True) if tfma.is_tfma_output(path) else {}
    except (errors.NotFound, errors.IntegrityError, errors.PermissionDenied):
        return {}


@st.cache_data(show_spinner=False, max_entries=4096)
def decision_reason(uri: str | None, ver: int, blessing_id: int, evaluation_id: int | None) -> str:
    """Why a gate decision went as it did, in one line: the failed checks of mlstore's
    ``report.json``, or TFMA's validation result for a TFX Evaluator's blessing."""
    try:
        blessing_dir = store().local_path(f"artifact:{blessing_id}")
        report_file = os.path.join(blessing_dir, "report.json")
        if os.path.isfile(report_file):
            with open(report_file, encoding="utf-8") as fh:
                checks = json.load(fh).get("checks", [])
            failed = [c for c in checks if c.get("status") == "fail"]
            if not failed:
                return f"passed {len(checks)} checks"
            return f"{len(failed)} of {len(checks)} checks failed: " + "; ".join(
                f"{c['metric']} {c['kind']} on {c['slice_key']}" for c in failed[:3]) + (" …" if len(failed) > 3 else "")
        if evaluation_id is not None:
            validation = tfma.read_validations(store().local_path(f"artifact:{evaluation_id}"))
            if validation is not None:
                return "TFMA " + validation.summary()
    except (errors.NotFound, errors.IntegrityError, errors.PermissionDenied, OSError, ValueError) as e:
        return f"unknown: {e}"
    return "no report recorded"


parse_json = decoded_property  # a JSON property decoded, or the raw value when it is not JSON


def flatten(records: Sequence[Any]) -> pd.DataFrame:
    """Artifacts/executions as a table (their ``to_json`` without nested properties)."""
    rows = []
    for r in records:
        row = r.to_json()
        row.pop("properties", None)
        rows.append(row)
    return pd.DataFrame(rows)
