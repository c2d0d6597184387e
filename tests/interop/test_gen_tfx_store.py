"""benchmarks/gen_tfx_store.py writes records shaped exactly like real TFX's (the fixture).

A generated 3-day store (day 3 not blessed, like fixture run 3) and the fixture must have
the same structure: types with their properties, and per run the same executions (type,
custom property names and value kinds), artifacts (type, property and custom property
names and kinds, uri layout), events (type, path) and context memberships. Only ids,
uuids, timestamps and paths may differ.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.tfx_fixture import FIXTURE

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_tfx_store", ROOT / "benchmarks" / "gen_tfx_store.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_tfx_store", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _open(db: Path):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(db)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _kinds(props) -> dict[str, str]:
    return {k: v.WhichOneof("value") for k, v in props.items()}


def structure(db: Path, root: str) -> dict:
    s = _open(db)
    a_types = {t.id: t.name for t in s.get_artifact_types()}
    e_types = {t.id: t.name for t in s.get_execution_types()}
    c_types = {t.id: t.name for t in s.get_context_types()}
    out = {
        "artifact_types": sorted((t.name, sorted(t.properties.items()), t.base_type) for t in s.get_artifact_types()),
        "execution_types": sorted((t.name, sorted(t.properties.items())) for t in s.get_execution_types()),
        "context_types": sorted((t.name, sorted(t.properties.items())) for t in s.get_context_types()),
        "runs": [],
    }
    (pipeline,) = s.get_contexts_by_type("pipeline")
    out["pipeline"] = pipeline.name
    for ctx in sorted(s.get_contexts_by_type("pipeline_run"), key=lambda c: c.id):
        assert [p.id for p in s.get_parent_contexts_by_context(ctx.id)] == [pipeline.id]
        run = []
        executions = sorted(s.get_executions_by_context(ctx.id), key=lambda e: e.id)
        local = {}
        for e in executions:
            events = sorted(s.get_events_by_execution_ids([e.id]),
                            key=lambda ev: (ev.type, ev.path.steps[0].key))
            arts = {a.id: a for a in s.get_artifacts_by_id([ev.artifact_id for ev in events])}
            described = []
            for ev in events:
                a = arts[ev.artifact_id]
                if ev.type == pb.Event.OUTPUT:
                    local[a.id] = (len(run), ev.path.steps[0].key)
                rel = a.uri[len(root):]
                described.append((
                    pb.Event.Type.Name(ev.type), [st.WhichOneof("value") for st in ev.path.steps], ev.path.steps[0].key,
                    a_types[a.type_id], pb.Artifact.State.Name(a.state),
                    sorted(_kinds(a.properties).items()), sorted(_kinds(a.custom_properties).items()),
                    "/".join(rel.split("/")[:-1]),  # <root>/pipeline_root/<node>/<key>/<execution id>
                    local.get(a.id, "earlier run") if ev.type != pb.Event.OUTPUT else "output"))
            contexts = sorted(c_types[c.type_id] for c in s.get_contexts_by_execution(e.id))
            run.append((e_types[e.type_id], pb.Execution.State.Name(e.last_known_state),
                        sorted(_kinds(e.custom_properties).items()), contexts, described))
        attributed = len(s.get_artifacts_by_context(ctx.id))
        out["runs"].append((run, attributed))
    return out


def test_generated_store_has_the_fixtures_structure(tmp_path):
    gen = _generator()
    out = tmp_path / "gen"
    gen.generate(out, 3, files=True, unblessed_every=3)
    origin = (FIXTURE / "ORIGIN").read_text().strip()
    want = structure(FIXTURE / "metadata.sqlite", origin)
    got = structure(out / "metadata.sqlite", str(out))
    assert got == want


def test_generated_values_follow_the_days(tmp_path):
    gen = _generator()
    out = tmp_path / "gen"
    gen.generate(out, 15, files=True, unblessed_every=7)
    s = _open(out / "metadata.sqlite")
    examples = sorted((a for a in s.get_artifacts_by_type("Examples") if "/CsvExampleGen/" in a.uri),
                      key=lambda a: a.id)
    assert [a.custom_properties["span"].int_value for a in examples] == list(range(1, 16))
    models = sorted(s.get_artifacts_by_type("Model"), key=lambda a: a.id)
    blessings = sorted(s.get_artifacts_by_type("ModelBlessing"), key=lambda a: a.id)
    blessed = [b.custom_properties["blessed"].int_value for b in blessings]
    assert blessed == [0 if d in (7, 14) else 1 for d in range(1, 16)]
    assert [b.custom_properties["current_model_id"].int_value for b in blessings] == [m.id for m in models]
    # Baseline = the latest blessed model before the day (day 8's is day 6's model).
    baselines = [b.custom_properties["baseline_model_id"].int_value if "baseline_model_id" in b.custom_properties
                 else None for b in blessings]
    want, latest = [], None
    for d, m in enumerate(models, start=1):
        want.append(latest)
        if blessed[d - 1]:
            latest = m.id
    assert baselines == want
    for m in models:
        assert (Path(m.uri) / "Format-Serving" / "saved_model.pb").is_file()
    for a in s.get_artifacts():
        assert Path(a.uri).is_dir(), a.uri  # every uri resolves, empty ones (ModelRun) too
    ev = max(s.get_executions_by_type("tfx.components.example_gen.csv_example_gen.component.CsvExampleGen"),
             key=lambda e: e.id)
    assert json.loads(ev.custom_properties["range_config"].string_value)["static_range"]["start_span_number"] == 15
    pushed = sorted(s.get_artifacts_by_type("PushedModel"), key=lambda a: a.id)
    assert [p.custom_properties["pushed"].int_value for p in pushed] == blessed
