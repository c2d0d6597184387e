"""Generates a TFX-shaped MLMD store of N daily runs, records exactly as TFX 1.16 writes them.

    .venv/bin/python benchmarks/gen_tfx_store.py --out /tmp/tfx10k --days 10000

Writes ``OUT/metadata.sqlite`` directly through ml_metadata (mlstore's venv; no TFX
needed). Everything is copied from the real-TFX fixture ``tests/fixtures/tfx_flights``
(three LocalDagRunner runs; ``tests/tfx/RECORDS.md``): the artifact, execution and
context types with their exact properties and base types; per run the same 8 executions
(class-path types, exec properties as custom properties), 16 artifacts (uris
``OUT/pipeline_root/<node>/<output key>/<execution id>``, TFX's custom properties: span,
``sample_rate_by_split`` struct, ``tfx_version``, blessing and push fields), the events
(INPUT/OUTPUT with ``[key, 0]`` paths; the latest-blessed Resolver's INTERNAL_OUTPUTs
pointing at the previous blessed model and blessing, which are also the Evaluator's
``baseline_model``), and the contexts (``pipeline``; one ``pipeline_run`` per run with the
pipeline as parent; one ``node`` context per node; one ``execution_cache`` context per
non-Resolver execution), with TFX's associations and attributions.

Day 1 copies fixture run 1 (no baseline, blessed); later days copy run 2 (blessed against
the baseline) or, every ``--unblessed-every`` days, run 3 (NOT blessed). The latest
blessed model is therefore always the newest blessed one, as TFX's Resolver would find.

Artifact bytes: with ``--files`` (default) each artifact uri is a symlink to the matching
directory of the fixture copied to ``OUT/template/`` (every ModelEvaluation of a kind
shares one set of TFMA files; ``--no-files`` writes records only). Ids are predicted
(a fresh database assigns them in order) and checked after every write; records are
written 100 days per MLMD transaction.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import random
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "tfx_flights"
PIPELINE = "flights_tfx"
RESOLVER = "tfx.dsl.components.common.resolver.Resolver"
EXAMPLE_GEN = "tfx.components.example_gen.csv_example_gen.component.CsvExampleGen"
START = datetime.datetime(2000, 1, 1, 6, 0, 0, 123456)
DAY_MS = 86_400_000


# --------------------------------------------------------------------------- templates


@dataclass
class ExecTemplate:
    """One execution of a fixture run: what it reads, what it writes, what it records."""

    type_name: str
    node: str  # node id, e.g. "Trainer"
    fixture_id: int
    custom_properties: dict[str, pb.Value]
    inputs: list[tuple[str, tuple]] = field(default_factory=list)  # (key, source)
    outputs: list[tuple[str, pb.Artifact]] = field(default_factory=list)  # (key, template artifact)
    internal_outputs: list[tuple[str, str]] = field(default_factory=list)  # (key, "model" | "blessing")


@dataclass
class Templates:
    artifact_types: list[pb.ArtifactType]
    execution_types: list[pb.ExecutionType]
    context_types: list[pb.ContextType]
    type_names: dict[int, str]  # fixture artifact type id -> name
    runs: dict[int, list[ExecTemplate]]  # fixture run number (1, 2, 3) -> executions in order
    origin: str


def _open(path: Path, readonly: bool) -> metadata_store.MetadataStore:
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = (pb.SqliteMetadataSourceConfig.READONLY if readonly
                                     else pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
    return metadata_store.MetadataStore(config)


def load_templates(fixture: Path = FIXTURE) -> Templates:
    """Reads the fixture's types and its three runs as templates."""
    src = _open(fixture / "metadata.sqlite", readonly=True)
    type_names = {t.id: t.name for t in src.get_artifact_types()}
    exec_type_names = {t.id: t.name for t in src.get_execution_types()}
    node_of = {}
    for ctx in src.get_contexts_by_type("node"):
        for e in src.get_executions_by_context(ctx.id):
            node_of[e.id] = ctx.name.split(".", 1)[1]
    runs: dict[int, list[ExecTemplate]] = {}
    contexts = sorted(src.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
    for number, ctx in enumerate(contexts, start=1):
        executions = sorted(src.get_executions_by_context(ctx.id), key=lambda e: e.id)
        events = src.get_events_by_execution_ids([e.id for e in executions])
        produced = {ev.artifact_id: (ev.execution_id, ev.path.steps[0].key)
                    for ev in events if ev.type == pb.Event.OUTPUT}
        artifacts = {a.id: a for a in src.get_artifacts_by_id(list({ev.artifact_id for ev in events}))}
        index = {e.id: i for i, e in enumerate(executions)}
        templates = []
        for e in executions:
            t = ExecTemplate(exec_type_names[e.type_id], node_of[e.id], e.id, dict(e.custom_properties))
            for ev in sorted((ev for ev in events if ev.execution_id == e.id), key=lambda ev: ev.artifact_id):
                key = ev.path.steps[0].key
                kind = type_names[artifacts[ev.artifact_id].type_id]
                if ev.type == pb.Event.OUTPUT:
                    t.outputs.append((key, artifacts[ev.artifact_id]))
                elif ev.type == pb.Event.INTERNAL_OUTPUT:
                    t.internal_outputs.append((key, "model" if kind == "Model" else "blessing"))
                elif ev.artifact_id in produced:
                    producer, out_key = produced[ev.artifact_id]
                    t.inputs.append((key, ("run", index[producer], out_key)))
                else:  # produced by an earlier run: the baseline the Resolver found
                    t.inputs.append((key, ("baseline", "model" if kind == "Model" else "blessing")))
            templates.append(t)
        runs[number] = templates
    if sorted(runs) != [1, 2, 3]:
        raise SystemExit(f"error: {fixture} must hold exactly three runs, found {len(runs)}")
    return Templates(src.get_artifact_types(), src.get_execution_types(), src.get_context_types(),
                     type_names, runs, (fixture / "ORIGIN").read_text().strip())


# --------------------------------------------------------------------------- generation


class Generator:
    """Writes day after day into a fresh MLMD file, predicting and checking ids."""

    def __init__(self, out: Path, templates: Templates, files: bool, unblessed_every: int, seed: int):
        self.out, self.t, self.files, self.unblessed_every = out, templates, files, unblessed_every
        self.rng = random.Random(seed)
        self.store = _open(out / "metadata.sqlite", readonly=False)
        self.artifact_type_ids = {t.name: self.store.put_artifact_type(_clean(t)) for t in templates.artifact_types}
        self.execution_type_ids = {t.name: self.store.put_execution_type(_clean(t)) for t in templates.execution_types}
        self.context_type_ids = {t.name: self.store.put_context_type(_clean(t)) for t in templates.context_types}
        (self.pipeline_ctx,) = self.store.put_contexts([self._context("pipeline", PIPELINE)])
        nodes = [e.node for e in templates.runs[2]]
        self.node_ctx = dict(zip(nodes, self.store.put_contexts(
            [self._context("node", f"{PIPELINE}.{n}") for n in nodes])))
        self.next_execution = 1
        self.next_artifact = 1
        self.next_context = max(self.node_ctx.values()) + 1
        self.made_targets: set[Path] = set()
        self.pending: dict[str, list] = {k: [] for k in (
            "executions", "artifacts", "events", "contexts", "parents", "attributions", "associations")}
        self.pending_ids = {"executions": [], "artifacts": [], "contexts": []}
        self.baseline: tuple[int, int, str] | None = None  # (model id, blessing id, model uri)

    def _context(self, type_name: str, name: str) -> pb.Context:
        return pb.Context(type_id=self.context_type_ids[type_name], name=name)

    def _path(self, text: str) -> str:
        return text.replace(self.t.origin + "/", str(self.out) + "/")

    def day(self, d: int) -> None:
        blessed = 1 if self.baseline is None or d % self.unblessed_every else 0
        template = self.t.runs[1 if self.baseline is None else (2 if blessed else 3)]
        when_ms = int((START - datetime.datetime(1970, 1, 1)).total_seconds() * 1000) + (d - 1) * DAY_MS
        exec_ids = [self.next_execution + i for i in range(len(template))]
        executions, artifacts, events = [], [], []
        out_ids: dict[tuple[int, str], int] = {}
        links: list[tuple[Path, Path]] = []
        model_uri = ""
        for i, et in enumerate(template):
            e = pb.Execution(type_id=self.execution_type_ids[et.type_name], name=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                             last_known_state=pb.Execution.COMPLETE)
            for k, v in et.custom_properties.items():
                e.custom_properties[k].CopyFrom(v)
            if et.type_name == EXAMPLE_GEN:
                _example_gen_properties(e, d)
            for k, v in e.custom_properties.items():
                if v.WhichOneof("value") == "string_value":
                    v.string_value = self._path(v.string_value)
            executions.append(e)
            for key, src in et.inputs:
                target = out_ids[src[1:]] if src[0] == "run" else (self.baseline[0] if src[1] == "model" else self.baseline[1])
                events.append(_event(target, exec_ids[i], pb.Event.INPUT, key, when_ms + i))
            for key, kind in et.internal_outputs:
                events.append(_event(self.baseline[0] if kind == "model" else self.baseline[1], exec_ids[i],
                                     pb.Event.INTERNAL_OUTPUT, key, when_ms + i))
            for key, ta in et.outputs:
                artifact_id = self.next_artifact + len(artifacts)
                out_ids[(i, key)] = artifact_id
                type_name = self.t.type_names[ta.type_id]
                uri = str(self.out / "pipeline_root" / et.node / key / str(exec_ids[i]))
                a = pb.Artifact(type_id=self.artifact_type_ids[type_name], uri=uri, state=pb.Artifact.LIVE)
                a.properties.MergeFrom(ta.properties)
                for k, v in ta.custom_properties.items():
                    a.custom_properties[k].CopyFrom(v)
                self._patch_artifact(a, type_name, d, model_uri)
                if type_name == "Model":
                    model_uri = uri
                artifacts.append(a)
                events.append(_event(artifact_id, exec_ids[i], pb.Event.OUTPUT, key, when_ms + i))
                links.append((Path(uri), Path(self._path(ta.uri)).relative_to(self.out)))
        # Blessing fields that depend on ids known only now.
        model_id = next(out_ids[k] for k in out_ids if k[1] == "model" and template[k[0]].node == "Trainer")
        blessing_index = next(n for n, (k, a) in enumerate(_outputs(template)) if k == "blessing")
        blessing = artifacts[blessing_index]
        blessing.custom_properties["current_model"].string_value = model_uri
        blessing.custom_properties["current_model_id"].int_value = model_id
        blessing.custom_properties["blessed"].int_value = blessed
        if self.baseline is not None:
            blessing.custom_properties["baseline_model_id"].int_value = self.baseline[0]
            blessing.custom_properties["baseline_model"].string_value = self.baseline[2]
        pushed = artifacts[next(n for n, (k, a) in enumerate(_outputs(template)) if k == "pushed_model")]
        if blessed:
            version = str(when_ms // 1000 + 3600)
            pushed.custom_properties["pushed_version"].string_value = version
            pushed.custom_properties["pushed_destination"].string_value = str(self.out / "serving" / version)

        run_name = (START + datetime.timedelta(days=d - 1)).isoformat()
        cache_nodes = [i for i, et in enumerate(template) if et.type_name != RESOLVER]
        contexts = ([self._context("pipeline_run", run_name)]
                    + [self._context("execution_cache", hashlib.sha256(f"{d}:{template[i].node}".encode()).hexdigest())
                       for i in cache_nodes])
        ctx_ids = list(range(self.next_context, self.next_context + len(contexts)))
        self.next_context += len(contexts)
        run_ctx, cache_ctx = ctx_ids[0], dict(zip(cache_nodes, ctx_ids[1:]))
        attributions, associations = [], []
        touched: dict[int, set[int]] = {}
        for ev in events:
            touched.setdefault(ev.execution_id, set()).add(ev.artifact_id)
        for i, et in enumerate(template):
            eid = exec_ids[i]
            for c in (self.pipeline_ctx, run_ctx, self.node_ctx[et.node]):
                associations.append(pb.Association(execution_id=eid, context_id=c))
                attributions += [pb.Attribution(artifact_id=a, context_id=c) for a in sorted(touched.get(eid, ()))]
            if i in cache_ctx:
                associations.append(pb.Association(execution_id=eid, context_id=cache_ctx[i]))
                attributions += [pb.Attribution(artifact_id=out_ids[(i, k)], context_id=cache_ctx[i])
                                 for k, _ in et.outputs]
        p = self.pending
        p["executions"] += executions
        p["artifacts"] += artifacts
        p["events"] += events
        p["contexts"] += contexts
        p["parents"].append(pb.ParentContext(child_id=run_ctx, parent_id=self.pipeline_ctx))
        p["attributions"] += attributions
        p["associations"] += associations
        self.pending_ids["executions"] += exec_ids
        self.pending_ids["artifacts"] += list(range(self.next_artifact, self.next_artifact + len(artifacts)))
        self.pending_ids["contexts"] += ctx_ids

        if self.files:
            for link, target in links:
                if target not in self.made_targets:  # git keeps no empty dirs (ModelRun)
                    (self.out / "template" / target).mkdir(parents=True, exist_ok=True)
                    self.made_targets.add(target)
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.path.relpath(self.out / "template" / target, link.parent), link)
        if blessed:
            self.baseline = (model_id, self.next_artifact + blessing_index, model_uri)
        self.next_execution += len(executions)
        self.next_artifact += len(artifacts)

    def flush(self) -> None:
        """Writes the pending days: one MLMD transaction per record kind, ids checked."""
        p, ids = self.pending, self.pending_ids
        if not p["executions"]:
            return
        _check("execution", self.store.put_executions(p["executions"]), ids["executions"])
        _check("artifact", self.store.put_artifacts(p["artifacts"]), ids["artifacts"])
        self.store.put_events(p["events"])
        _check("context", self.store.put_contexts(p["contexts"]), ids["contexts"])
        self.store.put_parent_contexts(p["parents"])
        self.store.put_attributions_and_associations(p["attributions"], p["associations"])
        for v in (*p.values(), *ids.values()):
            v.clear()

    def _patch_artifact(self, a: pb.Artifact, type_name: str, d: int, model_uri: str) -> None:
        if type_name == "Examples" and "span" in a.custom_properties:
            a.custom_properties["span"].int_value = d
        for key in ("baseline_model", "baseline_model_id", "pushed_destination", "pushed_version"):
            if key in a.custom_properties:
                del a.custom_properties[key]
        for v in a.custom_properties.values():
            if v.WhichOneof("value") == "string_value":
                v.string_value = self._path(v.string_value)


def _outputs(template: list[ExecTemplate]) -> list[tuple[str, pb.Artifact]]:
    return [o for et in template for o in et.outputs]


def _example_gen_properties(e: pb.Execution, d: int) -> None:
    props = e.custom_properties
    props["span"].int_value = d
    config = json.loads(props["input_config"].string_value)
    for split in config["splits"]:
        split["pattern"] = f"span-{d}/*"
    props["input_config"].string_value = json.dumps(config, indent=2, sort_keys=True)
    props["range_config"].string_value = json.dumps(
        {"static_range": {"end_span_number": d, "start_span_number": d}}, indent=2, sort_keys=True)


def _event(artifact_id: int, execution_id: int, kind: int, key: str, ms: int) -> pb.Event:
    ev = pb.Event(artifact_id=artifact_id, execution_id=execution_id, type=kind, milliseconds_since_epoch=ms)
    ev.path.steps.add().key = key
    ev.path.steps.add().index = 0
    return ev


def _clean(t):
    out = type(t)()
    out.CopyFrom(t)
    out.ClearField("id")
    return out


def _check(kind: str, got, want) -> None:
    if list(got) != list(want):
        raise SystemExit(f"error: MLMD assigned {kind} ids {list(got)[:3]}..., expected {want[:3]}...: "
                         "the output database must be new")


def generate(out: Path, days: int, files: bool = True, unblessed_every: int = 7, seed: int = 13,
             fixture: Path = FIXTURE, progress: bool = False, batch_days: int = 100) -> float:
    """Generates ``days`` runs into ``out`` (which must not hold a metadata.sqlite); returns seconds."""
    out = out.resolve()
    if (out / "metadata.sqlite").exists():
        raise SystemExit(f"error: {out / 'metadata.sqlite'} exists; give a new directory")
    out.mkdir(parents=True, exist_ok=True)
    templates = load_templates(fixture)
    if files:
        shutil.copytree(fixture / "pipeline_root", out / "template" / "pipeline_root", symlinks=True,
                        dirs_exist_ok=True)
    started = time.perf_counter()
    gen = Generator(out, templates, files, unblessed_every, seed)
    for d in range(1, days + 1):
        gen.day(d)
        if d % batch_days == 0:
            gen.flush()
        if progress and d % 1000 == 0:
            print(f"  {d} days, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    gen.flush()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a new directory")
    parser.add_argument("--days", type=int, default=10_000)
    parser.add_argument("--files", action=argparse.BooleanOptionalAction, default=True,
                        help="symlink every artifact uri to the fixture's bytes (default: yes)")
    parser.add_argument("--unblessed-every", type=int, default=7, help="every N-th day is not blessed")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.days < 1 or args.unblessed_every < 2:
        parser.error("--days must be >= 1 and --unblessed-every >= 2")
    seconds = generate(args.out, args.days, args.files, args.unblessed_every, args.seed, progress=True)
    print(json.dumps({"days": args.days, "executions": 8 * args.days, "artifacts": 16 * args.days,
                      "seconds": round(seconds, 1), "metadata": str(args.out.resolve() / "metadata.sqlite")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
