"""Validates OpenLineage events against the spec's JSON schemas and every facet against its own.

The spec's schemas are vendored in ``tests/fixtures/openlineage`` (see its SOURCE.md);
mlstore's facet schemas ship in ``mlstore/openlineage/schemas``. A facet is validated
against the schema its ``_schemaURL`` names, so an unknown ``_schemaURL`` fails too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from mlstore.openlineage.facets import SCHEMA_BASE, facet_schemas

SPEC_DIR = Path(__file__).resolve().parent / "fixtures" / "openlineage"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _registry() -> Registry:
    schemas = {}
    for path in sorted(SPEC_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        schemas[schema["$id"]] = schema
    schemas.update(facet_schemas())
    return Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in schemas.items())


REGISTRY = _registry()


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def facets_of(event: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(where, key, facet)`` of every facet in a RunEvent (run, job, datasets, input/output facets)."""
    for key, facet in event["run"].get("facets", {}).items():
        yield "run", key, facet
    for key, facet in event["job"].get("facets", {}).items():
        yield "job", key, facet
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for dataset in event.get(side, []):
            for group in ("facets", extra):
                for key, facet in dataset.get(group, {}).items():
                    yield f"{side}.{dataset['name']}.{group}", key, facet


def validate_event(event: dict[str, Any]) -> None:
    """Raises jsonschema's ValidationError (or AssertionError) when ``event`` breaks the spec."""
    _validator(RUN_EVENT).validate(event)
    assert event["schemaURL"] == RUN_EVENT, event["schemaURL"]
    moment = dt.datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))  # date-time, with a zone
    assert moment.tzinfo is not None
    for where, key, facet in facets_of(event):
        url = facet["_schemaURL"]
        custom = url.startswith(SCHEMA_BASE)
        assert custom == key.startswith("mlstore_"), (where, key, url)  # custom facets carry the prefix
        _validator(url).validate(facet)
