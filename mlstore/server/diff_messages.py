"""RunDiff <-> DiffRunsResponse, for the server and :mod:`mlstore.client` (values travel as JSON)."""

from __future__ import annotations

import json

from mlstore.diff import SECTIONS, Change, RunDiff, RunSide
from mlstore.server import convert
from mlstore.v1 import artifact_service_pb2 as apb


def _side_to_pb(side: RunSide) -> apb.RunSide:
    return apb.RunSide(ref=side.ref, execution=convert.execution_to_pb(side.execution),
                       artifact=convert.artifact_to_pb(side.artifact) if side.artifact is not None else None)


def _side_from_pb(message: apb.RunSide) -> RunSide:
    artifact = convert.artifact_from_pb(message.artifact) if message.HasField("artifact") else None
    return RunSide(message.ref, convert.execution_from_pb(message.execution), artifact)


def _encode(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _decode(message: apb.DiffChange, field: str):
    return json.loads(getattr(message, field)) if message.HasField(field) else None


def run_diff_to_pb(result: RunDiff) -> apb.DiffRunsResponse:
    sections = [apb.DiffSection(name=name, changes=[
        apb.DiffChange(key=c.key, a_json=_encode(c.a), b_json=_encode(c.b)) for c in result.section(name)])
        for name in SECTIONS]
    return apb.DiffRunsResponse(a=_side_to_pb(result.a), b=_side_to_pb(result.b), sections=sections,
                                notes=list(result.notes))


def run_diff_from_pb(response: apb.DiffRunsResponse) -> RunDiff:
    sections = {s.name: tuple(Change(c.key, _decode(c, "a_json"), _decode(c, "b_json")) for c in s.changes)
                for s in response.sections}
    return RunDiff(_side_from_pb(response.a), _side_from_pb(response.b), sections, tuple(response.notes))
