"""Curated schemas: a user's edited ``schema.pbtxt`` logged as a new Schema version, with lineage.

The edited text is checked to parse as a TFDV ``Schema`` first (nothing is recorded
otherwise) and stored exactly as written (comments kept). The execution
(``ImportSchemaGen``, TFX's name for importing a schema) reads the schema it was edited
from (input role ``base_schema``), so ``mlstore lineage`` shows which inferred schema a
curated one came from. :func:`newest_schema` is the one later days validate against.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlstore
from mlstore import errors
from mlstore.components.statistics.layout import SCHEMA_FILE, parse_schema_text
from mlstore.types import Artifact

SCHEMA_TYPE = "Schema"
CURATE_STEP = "ImportSchemaGen"


def log_curated_schema(store, text: str, base, *, source: str = SCHEMA_FILE,
                       pipeline: str | None = None) -> tuple[Artifact, int]:
    """Logs ``text`` as a Schema edited from ``base``; returns (the new Schema, the execution id).

    Args:
        store: the store.
        text: the edited text-format schema.
        base: the Schema artifact it was edited from (a ref).
        source: where the text came from (recorded as a param).
        pipeline: the pipeline to record in (default: the base schema's).

    Raises:
        DataError: ``text`` is not a text-format Schema. NotFound / InvalidArgument: ``base``
            is not a Schema artifact.
    """
    parse_schema_text(text, source)
    base_artifact = store.artifact(base)
    if base_artifact.type != SCHEMA_TYPE:
        raise errors.InvalidArgument(f"{base_artifact.node_id} is of type {base_artifact.type}, not {SCHEMA_TYPE}")
    props = {"span": base_artifact.span} if base_artifact.span is not None else {}
    with tempfile.TemporaryDirectory(prefix="mlstore-schema-") as tmp:
        (Path(tmp) / SCHEMA_FILE).write_text(text, encoding="utf-8")
        with mlstore.run(pipeline or base_artifact.pipeline or "default", CURATE_STEP, {"source": source},
                         store=store) as run:
            run.use(base_artifact, "base_schema")
            run.log_artifact(tmp, SCHEMA_TYPE, "schema", props)
    return run.outputs[0], run.execution_id


def newest_schema(store, pipeline: str) -> Artifact | None:
    """The newest live Schema of ``pipeline`` (a curated one once a user logged one), or None."""
    live = store.artifacts(type=SCHEMA_TYPE, pipeline=pipeline, state="LIVE", order="desc", limit=1)
    return live[0] if live else None
