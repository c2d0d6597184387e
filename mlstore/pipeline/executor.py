"""Running a recorded step: fetch verified inputs, reuse a cached result or compute, record.

A step is a plain function ``fn(inputs, params, workdir) -> [StepOutput]``. The executor
around it is what makes it reproducible:

* **inputs** are fetched by digest and verified before the step sees them;
* the **cache key** is sha256 over the step type, the code digest (the source of every
  mlstore module the step function reaches by imports, transitively, plus the versions of
  the libraries that compute results — TFX's key ignores both), the canonical params and
  the input digests by role. Beam options that only choose where a step runs (runner,
  parallelism, environment, endpoints; :data:`~mlstore.components.beam_options.EXECUTION_OPTIONS`),
  in param ``beam_options`` or in ``MLSTORE_BEAM_OPTIONS``, are recorded but not keyed:
  a step computed on the DirectRunner is a cache hit on Dask;
* a **cache hit** (an earlier COMPLETE execution with that key whose outputs still
  verify) is recorded as a CACHED execution that reuses those outputs;
* otherwise the function runs in a clean working directory and its outputs are logged
  with the SDK (one MLMD transaction), with the cache key, code digest, params and
  ``rerun_of`` recorded on the execution.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import mlstore
from mlstore import capture, errors
from mlstore.components.beam_options import env_options, result_options, step_options
from mlstore.store_api import StoreAPI
from mlstore.types import Artifact

#: Libraries whose versions change computed results; part of every cache key.
RESULT_LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "apache-beam", "numpy", "pandas", "pyarrow")


@dataclass(frozen=True)
class StepInput:
    """An input artifact, a local verified copy of its bytes (``path``) and ``uri``, where
    Beam workers read those bytes: the blob's object URI under the artifact root (a local
    path for a local root, ``<root URL>/objects/<hex>`` for an fsspec root), re-hashed
    against the digest just before the step runs; for another writer's bytes (no blob),
    the verified path itself. Objects are read-only once published.
    """

    artifact: Artifact
    path: Path
    uri: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            object.__setattr__(self, "uri", str(self.path))

    def file_uri(self, relative: str) -> str:
        """The URI of the file ``relative`` (posix) inside this input."""
        return f"{self.uri.rstrip('/')}/{relative}" if "://" in self.uri else str(Path(self.uri) / relative)


@dataclass(frozen=True)
class StepOutput:
    """What a step function produced: a file or directory to log as an artifact."""

    path: Path
    type: str
    role: str
    properties: Mapping[str, Any] = field(default_factory=dict)


StepFunction = Callable[[Mapping[str, StepInput], Mapping[str, Any], Path], Sequence[StepOutput]]


@dataclass(frozen=True)
class StepResult:
    execution_id: int
    outputs: dict[str, Artifact]  # by role
    cached: bool


@functools.lru_cache(maxsize=None)
def code_digest(fn: Callable | None = None) -> str:
    """sha256 over the source of ``fn``'s module and every mlstore module it imports,
    transitively, plus the versions of :data:`RESULT_LIBRARIES`.

    Only the code a step can reach counts, so editing the dashboard does not invalidate
    a trainer's cache, while editing a helper the trainer imports does. Without ``fn``,
    every source file of the package counts.
    """
    h = hashlib.sha256()
    for relative, path in code_files(fn).items():
        h.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    versions = capture.environment().packages
    h.update(json.dumps({k: versions.get(k) for k in RESULT_LIBRARIES}, sort_keys=True).encode())
    return "sha256:" + h.hexdigest()


@functools.lru_cache(maxsize=None)
def code_files(fn: Callable | None = None) -> dict[str, Path]:
    """``{path relative to the package: file}`` of the sources :func:`code_digest` covers, in its order."""
    package = Path(mlstore.__file__).resolve().parent
    files = sorted(_reachable_sources(fn)) if fn is not None else sorted(package.rglob("*.py"))
    return {path.relative_to(package).as_posix(): path for path in files}


_code_blobs: dict[tuple[str, Callable], str] = {}


def code_blob(store: StoreAPI, fn: Callable) -> str:
    """The digest of the blob holding :func:`code_files` of ``fn`` (stored once per process and store)."""
    key = (str(store.blobs.root), fn)
    if key not in _code_blobs or not store.blobs.exists(_code_blobs[key]):
        _code_blobs[key] = capture.publish_code(store.blobs, code_files(fn))
    return _code_blobs[key]


def _reachable_sources(fn: Callable) -> set[Path]:
    """``fn``'s own module file plus the mlstore modules its body imports, transitively.

    The module's top-level imports (the executor, the store) are plumbing that does not
    shape results, so they are not followed; the components a step imports are.
    """
    own = _module_file(fn.__module__)
    seen: set[Path] = set()
    queue = _imported_modules(inspect.getsource(fn), own)
    while queue:
        origin = _module_file(queue.pop())
        if origin is None or origin in seen:
            continue
        seen.add(origin)
        queue.extend(_imported_modules(origin.read_text(), origin))
    return seen | ({own} if own else set())


def _module_file(name: str) -> Path | None:
    """The source file of mlstore module ``name``, found on disk without importing it
    (importing would run heavy imports such as Apache Beam just to hash a file)."""
    # The package root's __init__ re-exports the public API (store, SDK): it does not
    # compute step results, and following it would make every step depend on everything.
    if name == "mlstore" or not name.startswith("mlstore."):
        return None
    base = Path(mlstore.__file__).resolve().parent.joinpath(*name.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # an attribute imported from a module, not a module


def _imported_modules(source: str, path: Path | None) -> list[str]:
    """Every mlstore module some source imports anywhere (including inside functions)."""
    names = []
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]  # submodules
        elif isinstance(node, ast.ImportFrom) and node.level and path is not None:
            package = ".".join(_dotted(path).split(".")[:-node.level])
            base = f"{package}.{node.module}" if node.module else package
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return [n for n in names if n.startswith("mlstore.")]


def _dotted(path: Path) -> str:
    package = Path(mlstore.__file__).resolve().parent
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts)


def seeds_in(params: Mapping[str, Any], prefix: str = "") -> dict[str, int]:
    """Integer params named ``seed`` or ``*_seed`` at any depth, by dotted key (``hyperparams.seed``)."""
    found: dict[str, int] = {}
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found.update(seeds_in(value, f"{dotted}."))
        elif (key == "seed" or str(key).endswith("_seed")) and isinstance(value, int) and not isinstance(value, bool):
            found[dotted] = value
    return found


def canonical_params(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def keyed_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as the cache key sees them: ``beam_options`` (with ``MLSTORE_BEAM_OPTIONS``)
    reduced to the options that can change results; absent when none can."""
    keyed = {k: v for k, v in params.items() if k != "beam_options"}
    if "beam_options" in params or env_options():
        kept = result_options(step_options(params))
        if kept:
            keyed["beam_options"] = kept
    return keyed


def cache_key(step: str, fn: Callable, params: Mapping[str, Any], inputs: Mapping[str, Artifact],
              digest_of: Callable[[Artifact], str | None] = lambda a: a.digest) -> str:
    """What makes a run of ``step`` repeatable: code, params and the inputs' content digests
    (``digest_of``: a store's :meth:`~mlstore.store_api.StoreAPI.content_digest` also knows the
    fingerprints of bytes another writer recorded)."""
    payload = {
        "step": step,
        "code": code_digest(fn),
        "params": canonical_params(keyed_params(params)),
        "inputs": sorted((role, digest_of(a)) for role, a in inputs.items()),
    }
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def fetch_inputs(store: StoreAPI, inputs: Mapping[str, Artifact]) -> dict[str, StepInput]:
    """The inputs' local paths and worker URIs (:class:`StepInput`), each verified against
    its digest (bytes another writer recorded, e.g. TFX's, against their fingerprint).

    Raises:
        IntegrityError: an input's bytes no longer match its digest.
        FailedPrecondition: an input has no stored bytes (e.g. collected).
        PermissionDenied: another writer's input lies outside the store's read roots.
    """
    fetched = {}
    for role, artifact in inputs.items():
        if artifact.state == "DELETED":
            raise errors.FailedPrecondition(f"input {role} ({artifact.node_id}) has no stored bytes")
        if artifact.digest:
            problems = store.blobs.verify(artifact.digest)
            if problems:
                raise errors.IntegrityError(
                    f"input {role} ({artifact.node_id}) is corrupt: {problems[0].path} {problems[0].problem}")
        try:
            path = Path(store.local_path(artifact))
            fetched[role] = StepInput(artifact, path, _object_uri(store, artifact, path))
        except errors.NotFound as e:
            raise errors.FailedPrecondition(f"input {role} ({artifact.node_id}) has no stored bytes: {e}") from e
    return fetched


def _object_uri(store: StoreAPI, artifact: Artifact, path: Path) -> str:
    """Where workers read an input: its object under the artifact root (verified by
    ``blobs.verify`` above; ``path`` is the driver's copy of the same files)."""
    blobs = store.blobs
    if blobs.is_local or not artifact.digest or not blobs.exists(artifact.digest):
        return str(path)  # a local root's object itself, or another writer's verified bytes
    base = Path(blobs.local_path(artifact.digest))
    member = path.relative_to(base).as_posix() if path.is_relative_to(base) else "."
    uri = blobs.object_uri(artifact.digest)
    return uri if member == "." else f"{uri}/{member}"


def find_cached(store: StoreAPI, key: str) -> tuple[int, dict[str, Artifact]] | None:
    """An earlier COMPLETE execution with ``key`` whose outputs are LIVE and verify."""
    for execution_id in store.cached_execution_ids(key):
        outputs = {ev.role: store.artifact(ev.artifact_id) for ev in store.events(f"execution:{execution_id}")
                   if ev.is_output}
        if outputs and all(a.state == "LIVE" and a.digest and not store.blobs.verify(a.digest)
                           for a in outputs.values()):
            return execution_id, outputs
    return None


def execute(store: StoreAPI, pipeline: str, step: str, fn: StepFunction, inputs: Mapping[str, Artifact],
            params: Mapping[str, Any], *, run_id: str | None = None, use_cache: bool = True,
            rerun_of: int | None = None, extra_properties: Mapping[str, Any] | None = None) -> StepResult:
    """Runs (or reuses) one step execution and records it. See the module docstring.

    Args:
        store: where inputs come from and the execution is recorded.
        pipeline: pipeline name.
        step: execution type ("Transform", "Trainer", ...).
        fn: the step function.
        inputs: input artifacts by role.
        params: JSON-able parameters; recorded, part of the cache key, passed to ``fn``.
        run_id: the pipeline run (a ``pipeline_run`` context).
        use_cache: reuse an earlier identical execution's outputs when possible.
        rerun_of: the execution this one reproduces (recorded; implies no cache).
        extra_properties: more execution properties (e.g. ``span``).
    """
    key = cache_key(step, fn, params, inputs, store.content_digest)
    properties = {"cache_key": key, "code_digest": code_digest(fn), "code_blob": code_blob(store, fn),
                  **(extra_properties or {})}
    if rerun_of is not None:
        properties["rerun_of"] = rerun_of
    if env_options():
        properties["beam_env_options"] = " ".join(env_options())  # recorded, as the params are
    if use_cache and rerun_of is None:
        hit = find_cached(store, key)
        if hit is not None:
            source_id, outputs = hit
            logged = store.log_execution(
                step, pipeline, inputs=[(a.id, role) for role, a in inputs.items()],
                reused_outputs=[(a.id, role) for role, a in outputs.items()],
                properties={**properties, "params": canonical_params(params), "cached_from": source_id},
                state="CACHED", run_id=run_id)
            return StepResult(logged.execution_id, outputs, cached=True)
    local = fetch_inputs(store, inputs)
    workdir = Path(tempfile.mkdtemp(prefix=f"mlstore-{step.lower()}-"))
    try:
        with mlstore.run(pipeline, step, params, store=store, run_id=run_id) as run:
            for role, artifact in inputs.items():
                run.use(artifact, role)
            run.properties.update(properties)
            run.seeds.update(seeds_in(params))  # the step seeds itself from these params
            produced = fn(local, params, workdir / "out")
            for output in produced:
                run.log_artifact(output.path, output.type, output.role, output.properties)
        outputs = {o.role: a for o, a in zip(produced, run.outputs)}
        return StepResult(run.execution_id, outputs, cached=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
