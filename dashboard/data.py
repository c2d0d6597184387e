"""Cached data access for the dashboard, through mlstore's public API only.

Everything here calls ``mlstore.open(uri)`` and Store methods (which a ``grpc://``
RemoteStore offers too), never the index tables, so the dashboard works against a
local store or a server. Results are cached with ``st.cache_data`` keyed on the store
URI and a cheap *store version*: the newest execution id. Any new execution changes the
version, so a page never shows stale data, and an unchanged store costs one query per
rerun to confirm.

The query API pages forward (``after_id`` + ``limit``); "the newest N" is found by
galloping to the newest id and reading a growing window below it (:func:`newest`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import pandas as pd
import streamlit as st

import mlstore
from mlstore import errors

#: Environment variable carrying the store URI (``mlstore dashboard`` sets it).
STORE_ENV = "MLSTORE_URI"

# Metrics where a smaller value is better; the rest are higher-is-better, except those
# in NEUTRAL_METRICS which are not judged.
LOWER_IS_BETTER = frozenset({"log_loss", "loss", "mse", "mae", "rmse"})
NEUTRAL_METRICS = frozenset({"example_count", "weighted_example_count", "calibration",
                             "mean_label", "mean_prediction"})

_version_hint: dict[str, int] = {}


def store_uri() -> str | None:
    """The store URI: ``--store URI`` after ``--`` on the streamlit command line, else $MLSTORE_URI."""
    argv = sys.argv[1:]
    if "--store" in argv and argv.index("--store") + 1 < len(argv):
        return argv[argv.index("--store") + 1]
    return os.environ.get(STORE_ENV) or None


@st.cache_resource(show_spinner=False)
def _open(uri: str | None):
    return mlstore.open(uri)


def store():
    """The opened store (one per URI per server process).

    Raises:
        Unavailable / InvalidArgument / FailedPrecondition: from :func:`mlstore.open`.
    """
    return _open(store_uri())


# -- newest-first paging over the forward-only query API ------------------------------

Fetch = Callable[[int, int | None], list]  # (after_id, limit) -> records with .id


def newest_id(fetch: Fetch, hint: int = 0) -> int:
    """The largest id ``fetch`` can return (0 when it returns nothing), in O(log n) calls.

    Args:
        fetch: pages forward like ``store.executions(after_id=, limit=)``.
        hint: an id known to exist (or 0); makes the unchanged case one call.
    """
    first = fetch(hint, 1)
    if not first:
        return hint
    lo, step, hi = first[0].id, 1, None  # invariant: lo exists; nothing is above hi
    while hi is None:
        found = fetch(lo + step, 1)
        if found:
            lo, step = found[0].id, step * 2
        else:
            hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = fetch(mid, 1)
        if found:
            lo = found[0].id
        else:
            hi = mid
    found = fetch(lo, 1)  # hi itself may exist: only ids above hi are known absent
    return found[0].id if found else lo


def newest(fetch: Fetch, top: int, n: int) -> list:
    """The newest ``n`` records of ``fetch`` (ids ≤ ``top``), newest first.

    Reads windows ``(top - w, top]`` with doubling ``w`` until ``n`` records are found.
    """
    width = max(4 * n, 64)
    while True:
        rows = [r for r in fetch(max(0, top - width), None) if r.id <= top]
        if len(rows) >= n or width >= top:
            return sorted(rows, key=lambda r: r.id, reverse=True)[:n]
        width *= 2


def version(s=None) -> int:
    """The store version: the newest execution id (cheap; see the module docstring)."""
    s = s or store()
    uri = str(store_uri())
    found = newest_id(lambda after, limit: s.executions(after_id=after, limit=limit), _version_hint.get(uri, 0))
    _version_hint[uri] = found
    return found


# -- cached queries --------------------------------------------------------------------
# Each takes (uri, ver) first so the cache key changes with the store.

@st.cache_data(show_spinner=False, max_entries=64)
def pipelines(uri: str | None, ver: int) -> list[str]:
    return store().pipelines()


@st.cache_data(show_spinner=False, max_entries=256)
def metric_series(uri: str | None, ver: int, pipeline: str, metric: str, slice_key: str) -> pd.DataFrame:
    """Columns model_id, evaluation_id, span, value (by span)."""
    points = store().metric_series(pipeline, metric, slice_key)
    return pd.DataFrame([p.__dict__ for p in points], columns=["model_id", "evaluation_id", "span", "value"])


@st.cache_data(show_spinner=False, max_entries=64)
def blessings(uri: str | None, ver: int, pipeline: str | None) -> pd.DataFrame:
    """Gate decisions, oldest first: id, model_id, baseline_id, evaluation_id, blessed, span, create_time_ms."""
    rows = [b.__dict__ for b in store().blessings(pipeline=pipeline)]
    columns = ["id", "model_id", "baseline_id", "evaluation_id", "pipeline", "blessed", "span", "create_time_ms"]
    return pd.DataFrame(rows, columns=columns)


@st.cache_data(show_spinner=False, max_entries=512)
def evaluation_metrics(uri: str | None, ver: int, evaluation_id: int) -> dict[str, dict[str, float]]:
    return store().evaluation_metrics(f"artifact:{evaluation_id}")


@st.cache_data(show_spinner=False, max_entries=64)
def metric_catalog(uri: str | None, ver: int, pipeline: str) -> tuple[list[str], list[str]]:
    """(metric names, slice keys) of the pipeline's newest evaluation; empty when none."""
    evaluations = newest_artifacts(uri, ver, "ModelEvaluation", pipeline, 1)
    if not evaluations:
        return [], []
    metrics = evaluation_metrics(uri, ver, evaluations[0].id)
    names = sorted({m for values in metrics.values() for m in values})
    slices = sorted(metrics, key=lambda s: (s != "Overall", s))
    return names, slices


@st.cache_data(show_spinner=False, max_entries=64)
def newest_artifacts(uri: str | None, ver: int, type_name: str, pipeline: str | None, n: int) -> list:
    """The newest ``n`` artifacts of a type (and pipeline), newest first."""
    s = store()

    def fetch(after: int, limit: int | None) -> list:
        return s.artifacts(type=type_name, pipeline=pipeline, after_id=after, limit=limit)

    return newest(fetch, newest_id(fetch), n)


@st.cache_data(show_spinner=False, max_entries=64)
def newest_executions(uri: str | None, ver: int, step: str | None, pipeline: str | None,
                      state: str | None, n: int) -> list:
    """The newest ``n`` executions matching the filters, newest first."""
    s = store()

    def fetch(after: int, limit: int | None) -> list:
        return s.executions(type=step, pipeline=pipeline, state=state, after_id=after, limit=limit)

    return newest(fetch, ver, n)


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

@dataclass(frozen=True)
class ModelContext:
    """What the model page shows about one model, gathered from events and blessings."""

    model: Any
    trainer: Any | None
    evaluation_id: int | None
    baseline_id: int | None
    blessings: pd.DataFrame


def model_context(uri: str | None, ver: int, model_id: int) -> ModelContext:
    """The model, the execution that produced it, its newest evaluation, baseline and gate decisions.

    Raises:
        NotFound: no such model. InvalidArgument: the id is not a Model artifact.
    """
    model = artifact(uri, ver, f"artifact:{model_id}")
    if model.type != "Model":
        raise errors.InvalidArgument(f"artifact:{model_id} is a {model.type}, not a Model")
    trainer, evaluation_id, baseline_id = None, None, None
    for ev in events(uri, ver, f"artifact:{model_id}"):
        if ev.is_output:
            trainer = execution(uri, ver, f"execution:{ev.execution_id}")
        elif ev.role == "model":
            for out in events(uri, ver, f"execution:{ev.execution_id}"):
                if out.is_output and artifact(uri, ver, f"artifact:{out.artifact_id}").type == "ModelEvaluation":
                    evaluation_id = max(evaluation_id or 0, out.artifact_id)
                    baseline_id = _baseline_input(uri, ver, ev.execution_id) or baseline_id
    frame = blessings(uri, ver, model.pipeline)
    mine = frame[frame["model_id"] == model_id]
    if not mine.empty and pd.notna(mine.iloc[-1]["baseline_id"]):
        baseline_id = int(mine.iloc[-1]["baseline_id"])
    return ModelContext(model, trainer, evaluation_id, baseline_id, mine)


def _baseline_input(uri: str | None, ver: int, execution_id: int) -> int | None:
    for ev in events(uri, ver, f"execution:{execution_id}"):
        if not ev.is_output and ev.role == "baseline_model":
            return ev.artifact_id
    return None


def warm_start_chain(uri: str | None, ver: int, model_id: int, max_models: int = 10) -> list[int]:
    """Model ids this model warm-started from (base_model edges), nearest first."""
    graph = lineage(uri, ver, f"artifact:{model_id}", "up", 2 * max_models)
    producer = {e.target.id: e.source.id for e in graph.edges
                if e.event_type == "OUTPUT" and e.target.kind == "artifact"}
    base_of = {e.target.id: e.source.id for e in graph.edges if e.event_type == "INPUT" and e.role == "base_model"}
    chain, current = [], model_id
    while current in producer and producer[current] in base_of and len(chain) < max_models:
        current = base_of[producer[current]]
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
    """``{slice: {plot name: data}}`` from the evaluation's ``plots.json``; {} when it has none.

    Raises:
        NotFound / IntegrityError: the evaluation's bytes are missing or corrupt.
    """
    path = store().local_path(f"artifact:{evaluation_id}")
    plots_file = os.path.join(path, "plots.json")
    if not os.path.isfile(plots_file):
        return {}
    with open(plots_file, encoding="utf-8") as fh:
        data = json.load(fh)
    return {entry["slice"]: entry.get("plots", {}) for entry in data.get("slices", [])}


def parse_json(text: Any) -> Any:
    """A JSON property decoded, or the raw value when it is not JSON."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def flatten(records: Sequence[Any]) -> pd.DataFrame:
    """Artifacts/executions as a table (their ``to_json`` without nested properties)."""
    rows = []
    for r in records:
        row = r.to_json()
        row.pop("properties", None)
        rows.append(row)
    return pd.DataFrame(rows)
