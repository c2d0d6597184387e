"""``mlstore rerun``: re-execute a recorded step exactly and say whether it reproduced.

The step runs again with the recorded inputs (fetched and verified by digest) and
params, in a clean working directory, recorded as a new execution with ``rerun_of``.
Each output is then compared with the original's:

* same digest → **identical**;
* a Model whose semantic digest (variables by name and value, signatures, assets)
  matches → **semantically identical**, naming the files whose bytes differ (SavedModel
  serialisation embeds generated names; that is not a different model);
* ExampleStatistics whose exact fields all match and whose KLL-sketched quantiles and
  histograms differ only as two results within the sketch's bound can (KLL compacts with
  random offsets above 16,384 values of a feature) → **semantically identical**, naming
  those features;
* a TransformGraph whose analyzer outputs are identical and whose bytes differ only in
  ``saved_model.pb`` / ``fingerprint.pb`` (generated function names) → **semantically identical**;
* otherwise → **differs**, with a structured diff: which variables changed and by how
  much (Model), metric deltas per slice (ModelEvaluation), analyzer differences
  (TransformGraph), changed files (anything else).

Environment and code drift since the original run are reported before running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mlstore import capture, errors
from mlstore.pipeline.executor import code_digest, execute
from mlstore.pipeline.steps import serving_dir, step_function
from mlstore.store import Store
from mlstore.types import Artifact

IDENTICAL, SEMANTIC, DIFFERS = "identical", "semantically identical", "differs"


@dataclass
class OutputComparison:
    role: str
    original: str  # node id
    rerun: str
    status: str  # IDENTICAL, SEMANTIC or DIFFERS
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"role": self.role, "original": self.original, "rerun": self.rerun, "status": self.status,
                "details": self.details}


@dataclass
class RerunReport:
    original_id: int
    rerun_id: int
    step: str
    drift: list[str]
    outputs: list[OutputComparison]
    overrides: dict[str, Any]

    @property
    def reproduced(self) -> bool:
        return all(o.status != DIFFERS for o in self.outputs)

    def to_json(self) -> dict:
        return {"original": f"execution:{self.original_id}", "rerun": f"execution:{self.rerun_id}",
                "step": self.step, "reproduced": self.reproduced, "drift": self.drift,
                "overrides": self.overrides, "outputs": [o.to_json() for o in self.outputs]}


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["hyperparams.learning_rate=0.1"]`` → ``{"hyperparams.learning_rate": 0.1}`` (JSON values).

    Raises:
        InvalidArgument: a pair without ``=``.
    """
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise errors.InvalidArgument(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def apply_overrides(params: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``params`` with dotted-key overrides applied.

    Raises:
        InvalidArgument: an override names a parameter the step was not run with.
    """
    result = json.loads(json.dumps(params))
    for dotted, value in overrides.items():
        node, keys = result, dotted.split(".")
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise errors.InvalidArgument(f"--set {dotted}: the step has no parameter group {key!r}")
            node = node[key]
        if keys[-1] not in node:
            raise errors.InvalidArgument(f"--set {dotted}: the step has no parameter {keys[-1]!r}; "
                                         f"known: {', '.join(sorted(node))}")
        node[keys[-1]] = value
    return result


def drift_since(properties: Mapping[str, Any], fn, blobs=None) -> list[str]:
    """What changed in code and environment since an execution was recorded.

    Package versions are compared over the full package list when the execution
    recorded one (``packages_blob``) and ``blobs`` holds it, else over the key packages.
    """
    now = capture.capture_properties()
    drift = []
    for key, label in (("code_digest", "step code"), ("environment_digest", "installed packages"),
                       ("python_version", "Python"), ("git_commit", "git commit")):
        recorded = properties.get(key)
        current = code_digest(fn) if key == "code_digest" else now.get(key)
        if recorded and current and recorded != current:
            drift.append(f"{label}: {str(recorded)[:19]} -> {str(current)[:19]}")
    recorded_packages = _full_package_list(properties, blobs)
    if recorded_packages is not None:
        current_packages = capture.parse_package_list(capture.installed_packages())
    else:
        recorded_packages = json.loads(properties.get("packages") or "{}")
        current_packages = json.loads(now["packages"])
    for name in sorted(set(recorded_packages) | set(current_packages)):
        if recorded_packages.get(name) != current_packages.get(name):
            drift.append(f"{name}: {recorded_packages.get(name)} -> {current_packages.get(name)}")
    return drift


def _full_package_list(properties: Mapping[str, Any], blobs) -> dict[str, str] | None:
    digest = properties.get("packages_blob")
    if not digest or blobs is None:
        return None
    try:
        return capture.read_package_list(blobs, digest)
    except (errors.NotFound, errors.IntegrityError):
        return None  # collected or damaged: the key packages still tell


#: Steps whose effect is outside the store: re-executing one to verify it would repeat the effect.
SIDE_EFFECT_STEPS = {"Pusher": "it would install another version into TF Serving; `mlstore push` pushes again"}


def rerun(store: Store, ref: Any, overrides: Mapping[str, Any] | None = None,
          on_drift=lambda lines: None, beam_options: list[str] | tuple[str, ...] = ()) -> RerunReport:
    """Re-executes a recorded step execution and compares its outputs (see module docstring).

    ``beam_options`` are appended to the recorded param ``beam_options`` (later wins), e.g.
    ``["--runner=DaskRunner", "--dask_client_address=tcp://127.0.0.1:8786"]`` to reproduce a
    DirectRunner result on a cluster; runner options are not part of the cache key.

    Raises:
        NotFound: no such execution. InvalidArgument: not a built-in step, a step with
            side effects (:data:`SIDE_EFFECT_STEPS`), bad override.
        FailedPrecondition: the original did not complete, or an input has no bytes.
        IntegrityError: an input's bytes no longer match their digest.
    """
    original = store.execution(ref)
    if original.type in SIDE_EFFECT_STEPS:
        raise errors.InvalidArgument(f"{original.node_id} is a {original.type} run, which is not re-executed: "
                                     f"{SIDE_EFFECT_STEPS[original.type]}")
    if original.state not in ("COMPLETE", "CACHED"):
        raise errors.FailedPrecondition(f"{original.node_id} is {original.state}; only completed runs can be rerun")
    fn = step_function(original.type)
    params = apply_overrides(json.loads(original.properties.get("params") or "{}"), overrides or {})
    if beam_options:
        params["beam_options"] = [*params.get("beam_options", []), *beam_options]
    events = store.events(original.node_id)
    inputs = {ev.role: store.artifact(ev.artifact_id) for ev in events if not ev.is_output}
    before = {ev.role: store.artifact(ev.artifact_id) for ev in events if ev.is_output}
    drift = drift_since(original.properties, fn, store.blobs)
    on_drift(drift)
    extra = {"span": original.properties["span"]} if original.properties.get("span") is not None else {}
    result = execute(store, original.pipeline or "default", original.type, fn, inputs, params,
                     run_id=f"rerun-of-{original.id}", use_cache=False, rerun_of=original.id,
                     extra_properties=extra)
    comparisons = [compare_outputs(store, role, before.get(role), result.outputs.get(role))
                   for role in sorted(set(before) | set(result.outputs))]
    return RerunReport(original.id, result.execution_id, original.type, drift, comparisons, dict(overrides or {}))


def compare_outputs(store: Store, role: str, old: Artifact | None, new: Artifact | None) -> OutputComparison:
    """Compares one output of the original and the rerun."""
    if old is None or new is None:
        missing = "original" if old is None else "rerun"
        return OutputComparison(role, str(old.node_id) if old else "-", str(new.node_id) if new else "-",
                                DIFFERS, [f"the {missing} has no {role} output"])
    comparison = OutputComparison(role, str(old.node_id), str(new.node_id), IDENTICAL)
    if old.digest == new.digest:
        return comparison
    changed_files = _changed_files(store, old, new)
    if old.type == "Model":
        _compare_models(store, old, new, comparison, changed_files)
    elif old.type == "ExampleStatistics":
        _compare_statistics(store, old, new, comparison, changed_files)
    elif old.type == "ModelEvaluation":
        comparison.status = DIFFERS
        comparison.details = _metric_deltas(old, new) or [f"files differ: {', '.join(changed_files)}"]
    elif old.type == "TransformGraph":
        differences = _analyzer_differences(store, old, new)
        same_spec = old.properties.get("spec_digest") == new.properties.get("spec_digest")
        if (not differences and same_spec and "assets.extra/analyzers.json" not in changed_files
                and set(changed_files) <= _SAVED_MODEL_SERIALISATION):
            # Same analyzer outputs and spec digest, so the same graph; TF names its traced functions
            # with a per-process counter, which only the serialised bytes show.
            comparison.status = SEMANTIC
            comparison.details = [f"analyzer outputs identical; bytes differ in: {', '.join(changed_files)}"]
        else:
            comparison.status = DIFFERS
            comparison.details = differences or [f"files differ: {', '.join(changed_files)}"]
    else:
        comparison.status = DIFFERS
        comparison.details = [f"files differ: {', '.join(changed_files)}"]
    return comparison


#: Files of a SavedModel whose bytes carry TF's generated function names.
_SAVED_MODEL_SERIALISATION = {"saved_model.pb", "fingerprint.pb"}


def _changed_files(store: Store, old: Artifact, new: Artifact) -> list[str]:
    a = {e.path: e.sha256 for e in store.blobs.manifest(old.digest).entries}
    b = {e.path: e.sha256 for e in store.blobs.manifest(new.digest).entries}
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def _compare_models(store: Store, old: Artifact, new: Artifact, comparison: OutputComparison,
                    changed_files: list[str]) -> None:
    from mlstore.components.trainer import diff_variables  # noqa: PLC0415 - TensorFlow

    old_sem, new_sem = old.properties.get("semantic_digest"), new.properties.get("semantic_digest")
    if old_sem and old_sem == new_sem:
        comparison.status = SEMANTIC
        comparison.details = [f"bytes differ in: {', '.join(changed_files)}"]
        return
    comparison.status = DIFFERS
    diff = diff_variables(str(serving_dir(Path(store.local_path(old)))), str(serving_dir(Path(store.local_path(new)))))
    comparison.details = [f"variable {name}: max |diff| {delta:.3g}" for name, delta in sorted(diff.differing.items())]
    if not comparison.details:
        comparison.details = [f"signatures or assets differ; files: {', '.join(changed_files)}"]


def _compare_statistics(store: Store, old: Artifact, new: Artifact, comparison: OutputComparison,
                        changed_files: list[str]) -> None:
    from mlstore.components.statistics import read_statistics  # noqa: PLC0415
    from mlstore.components.statistics.feature_stats import compare_runs  # noqa: PLC0415 - DataSketches
    from mlstore.components.statistics.quantiles import K  # noqa: PLC0415

    a, b = read_statistics(store.local_path(old)), read_statistics(store.local_path(new))
    differ = [f"split {split} is only in the {'original' if split in a else 'rerun'}"
              for split in sorted(set(a) ^ set(b))]
    within = []
    for split in sorted(set(a) & set(b)):
        differing, within_bound = compare_runs(a[split], b[split])
        if differing:
            differ.append(f"split {split}: statistics of {', '.join(differing)} differ")
        if within_bound:
            within.append(f"split {split}: median and histograms of {', '.join(within_bound)} differ within the "
                          f"KLL sketch's bound (randomized above {K:,} values); exact statistics identical")
    comparison.status = DIFFERS if differ else SEMANTIC
    comparison.details = (differ or within) or [f"bytes differ in: {', '.join(changed_files)}"]


def _metric_deltas(old: Artifact, new: Artifact) -> list[str]:
    a = json.loads(old.properties.get("metrics") or "{}")
    b = json.loads(new.properties.get("metrics") or "{}")
    lines = []
    for slice_key in sorted(set(a) | set(b)):
        for metric in sorted(set(a.get(slice_key, {})) | set(b.get(slice_key, {}))):
            x, y = a.get(slice_key, {}).get(metric), b.get(slice_key, {}).get(metric)
            if x != y:
                delta = f"{y - x:+.6g}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) else "n/a"
                lines.append(f"{slice_key} {metric}: {x} -> {y} ({delta})")
    return lines


def _analyzer_differences(store: Store, old: Artifact, new: Artifact) -> list[str]:
    def analyzers(artifact: Artifact) -> dict:
        path = Path(store.local_path(artifact)) / "assets.extra" / "analyzers.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    a, b = analyzers(old), analyzers(new)
    return [f"analyzer output {key} differs" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
