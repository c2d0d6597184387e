"""What differs between two runs: ``mlstore diff A B``, ``Store.diff``, gRPC ``DiffRuns``, the dashboard.

>>> result = store.diff("execution:4", "execution:9")     # or two models: their producing runs
>>> [c.key for c in result.section("params")]            # ['hyperparams.learning_rate']

A and B are executions, or artifacts (a Model, say), which stand for the execution that
produced them. Sections, each a list of :class:`Change` (only what differs):

* ``params``: the recorded params, flattened to dotted keys;
* ``code``: git commit / dirty / diff digest and the step's code digest;
* ``code_files``: the files whose bytes differ between the two runs' recorded code
  (``code_blob``: the sources a built-in step's code digest covers), by path;
* ``environment``: Python version, host, the package-list digest;
* ``packages``: every package whose version differs, from each run's full package list
  (``packages_blob``; runs recorded before it existed fall back to the key packages);
* ``seeds``; ``inputs`` and ``outputs`` by role, compared by type and digest;
* ``metrics``: per evaluation role, slice and metric, of the two runs' ModelEvaluation
  outputs, or, for two models, of each model's newest evaluation.

A value that is absent on one side is ``None`` there. What could not be compared (a
blob that was collected, a run without recorded code files) is said in ``notes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from mlstore import capture, errors
from mlstore.types import Artifact, EventRecord, Execution, decoded_property

#: The sections of a diff, in the order they are shown.
SECTIONS = ("params", "code", "code_files", "environment", "packages", "seeds", "inputs", "outputs", "metrics")
_CODE_KEYS = ("git_commit", "git_dirty", "git_diff_digest", "code_digest")
_ENVIRONMENT_KEYS = ("python_version", "host", "environment_digest")
_FINISHED = ("COMPLETE", "CACHED")


@dataclass(frozen=True)
class Change:
    """One key whose value differs: ``a`` and ``b`` are JSON values, ``None`` when absent."""

    key: str
    a: Any
    b: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class RunSide:
    """One side of a diff: the reference given, the execution compared, the artifact it named."""

    ref: str
    execution: Execution
    artifact: Artifact | None = None

    def to_json(self) -> dict[str, Any]:
        e = self.execution
        return {"ref": self.ref, "execution": str(e.node_id), "type": e.type, "state": e.state,
                "pipeline": e.pipeline, "run_id": e.properties.get("run_id"),
                "artifact": str(self.artifact.node_id) if self.artifact is not None else None}

    def describe(self) -> str:
        e = self.execution
        named = f"{self.artifact.node_id} ({self.artifact.type}) from " if self.artifact is not None else ""
        return f"{named}{e.node_id} ({e.type}, {e.state}, {e.pipeline or '-'})"


@dataclass(frozen=True)
class RunDiff:
    """The differences between runs ``a`` and ``b`` (see the module docstring)."""

    a: RunSide
    b: RunSide
    sections: Mapping[str, tuple[Change, ...]]
    notes: tuple[str, ...] = ()

    def section(self, name: str) -> tuple[Change, ...]:
        return self.sections.get(name, ())

    @property
    def identical(self) -> bool:
        """No section has a difference."""
        return not any(self.sections.values())

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a.to_json(), "b": self.b.to_json(), "identical": self.identical,
                "sections": {name: [c.to_json() for c in self.section(name)] for name in SECTIONS},
                "notes": list(self.notes)}


def diff_runs(store, a: Any, b: Any) -> RunDiff:
    """Compares two runs (executions, or artifacts standing for the runs that produced them).

    Raises:
        InvalidArgument: a malformed reference. NotFound: no such node, or an artifact no
            recorded execution produced.
    """
    left, right = run_side(store, a), run_side(store, b)
    notes: list[str] = []
    ea, eb = left.execution.properties, right.execution.properties
    ios = _io(store, left.execution), _io(store, right.execution)
    sections = {
        "params": _changes(_flat(decoded_property(ea.get("params"))), _flat(decoded_property(eb.get("params")))),
        "code": _changes(_pick(ea, _CODE_KEYS), _pick(eb, _CODE_KEYS)),
        "code_files": _code_files(store, left, right, notes),
        "environment": _changes(_pick(ea, _ENVIRONMENT_KEYS), _pick(eb, _ENVIRONMENT_KEYS)),
        "packages": _changes(_packages(store, left, notes), _packages(store, right, notes)),
        "seeds": _changes(_flat(decoded_property(ea.get("seeds"))), _flat(decoded_property(eb.get("seeds")))),
        "inputs": _changes(*(_by_role(io, False) for io in ios)),
        "outputs": _changes(*(_by_role(io, True) for io in ios)),
        "metrics": _changes(_metrics(store, left, ios[0]), _metrics(store, right, ios[1])),
    }
    return RunDiff(left, right, {k: tuple(v) for k, v in sections.items()}, tuple(notes))


def run_side(store, ref: Any) -> RunSide:
    """The execution ``ref`` names, or the one that produced the artifact it names."""
    node = store.resolve(ref)
    if node.kind == "execution":
        return RunSide(str(node), store.execution(node))
    artifact = store.artifact(node)
    producers = [e.execution_id for e in store.events(node) if e.is_output]
    if not producers:
        raise errors.NotFound(f"{node} ({artifact.type}) was produced by no recorded execution: name an execution")
    return RunSide(str(node), store.execution(f"execution:{min(producers)}"), artifact)


# -------------------------------------------------------------------- comparing values


def _changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    return [Change(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{dotted.key: leaf}``; lists, scalars and empty mappings are leaves."""
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if prefix:
        return {prefix: value}
    return {} if value is None or value == {} else {"": value}  # no params, or params that are not a mapping


def _pick(properties: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: properties[k] for k in keys if properties.get(k) not in (None, "")}


# -------------------------------------------------------------------- blobs the runs recorded


def _why(error: errors.MlstoreError) -> str:
    # Not the message: it names the blob root, which a server does not tell its clients.
    return "its blob is gone (collected?)" if isinstance(error, errors.NotFound) else "its blob is corrupt"


def _code_files(store, left: RunSide, right: RunSide, notes: list[str]) -> list[Change]:
    files = []
    for side in (left, right):
        digest = side.execution.properties.get("code_blob")
        if not digest:
            notes.append(f"{side.execution.node_id} recorded no code files (built-in steps do): "
                         f"only its code digests are compared")
            continue
        try:
            manifest = store.blobs.manifest(digest)
        except (errors.NotFound, errors.IntegrityError) as e:
            notes.append(f"the code of {side.execution.node_id} ({digest}) cannot be read: {_why(e)}")
            continue
        files.append({entry.path: "sha256:" + entry.sha256 for entry in manifest.entries})
    return _changes(*files) if len(files) == 2 else []


def _packages(store, side: RunSide, notes: list[str]) -> dict[str, str]:
    """The run's full package list, or its key packages when the full list is not there."""
    properties = side.execution.properties
    digest = properties.get("packages_blob")
    if digest:
        try:
            return capture.read_package_list(store.blobs, digest)
        except (errors.NotFound, errors.IntegrityError) as e:
            notes.append(f"the package list of {side.execution.node_id} ({digest}) cannot be read: {_why(e)}; "
                         f"compared its key packages")
    else:
        notes.append(f"{side.execution.node_id} recorded no full package list: compared its key packages")
    key_packages = decoded_property(properties.get("packages"))
    return dict(key_packages) if isinstance(key_packages, Mapping) else {}


# -------------------------------------------------------------------- inputs, outputs, metrics


@dataclass(frozen=True)
class _Event:
    record: EventRecord
    artifact: Artifact


def _io(store, execution: Execution) -> list[_Event]:
    return [_Event(e, store.artifact(e.artifact_id)) for e in store.events(execution.node_id)]


def _by_role(events: list[_Event], outputs: bool) -> dict[str, Any]:
    return {e.record.role: {"type": e.artifact.type, "digest": e.artifact.digest}
            for e in events if e.record.is_output == outputs}


def _metrics(store, side: RunSide, events: list[_Event]) -> dict[str, float]:
    """``{"role/slice/metric": value}`` of the run's evaluations (a model's own newest one)."""
    evaluations = {e.record.role: e.artifact for e in events
                   if e.record.is_output and e.artifact.type == "ModelEvaluation"}
    if not evaluations and side.artifact is not None and side.artifact.type == "Model":
        newest = _newest_evaluation(store, side.artifact)
        evaluations = {"evaluation": newest} if newest is not None else {}
    flat = {}
    for role, evaluation in evaluations.items():
        for slice_key, values in store.evaluation_metrics(evaluation.node_id).items():
            flat.update({f"{role}/{slice_key}/{name}": value for name, value in values.items()})
    return flat


def _newest_evaluation(store, model: Artifact) -> Artifact | None:
    """The ``evaluation`` output of the newest finished Evaluator run with ``model`` as its ``model`` input."""
    runs = sorted({e.execution_id for e in store.events(model.node_id) if not e.is_output and e.role == "model"},
                  reverse=True)
    for execution_id in runs:
        execution = store.execution(f"execution:{execution_id}")
        if execution.state not in _FINISHED:
            continue
        for event in store.events(execution.node_id):
            if event.is_output and event.role == "evaluation":
                return store.artifact(event.artifact_id)
    return None


# -------------------------------------------------------------------- text


def format_value(value: Any) -> str:
    """A change's value as one short line (an input/output as its type and digest)."""
    if value is None:
        return "(absent)"
    if isinstance(value, Mapping) and set(value) == {"type", "digest"}:
        return f"{value['type']} {value['digest'] or '(no digest)'}"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def render_text(result: RunDiff) -> str:
    """The diff as the CLI prints it: the two runs, each section that differs, then the notes."""
    lines = [f"A: {result.a.describe()}", f"B: {result.b.describe()}"]
    same = [name for name in SECTIONS if not result.section(name)]
    for name in SECTIONS:
        changes = result.section(name)
        if not changes:
            continue
        lines.append(f"{name.replace('_', ' ')} ({len(changes)} differ)")
        lines += [f"  {c.key or '(value)'}: {format_value(c.a)} -> {format_value(c.b)}" for c in changes]
    lines.append("identical runs" if result.identical else f"same: {', '.join(s.replace('_', ' ') for s in same) or '-'}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)
