"""mlstore's own OpenLineage facets: what ML lineage needs and the standard facets lack.

OpenLineage defines no ML facets (OpenLineage#4035). These follow its rules for custom
facets: class names ``Mlstore{Name}{Entity}Facet``, keys ``mlstore_{name}``, and a
``_schemaURL`` naming the facet's JSON schema, shipped next to this module in
``schemas/`` (each file's ``$id`` is that URL without its ``#/$defs/...`` pointer).

| key | on | holds |
| --- | --- | --- |
| ``mlstore_artifact`` | every dataset | artifact id, type, uri, content digest, size, state, span |
| ``mlstore_model`` | Model datasets | format, serving / semantic / transform-spec digests, input signature |
| ``mlstore_evaluation`` | ModelEvaluation datasets | metric values per slice, as the store holds them |
| ``mlstore_blessing`` | ModelBlessing datasets | the gate decision: blessed, model, baseline, evaluation, gate spec digest |
| ``mlstore_role`` | input / output datasets | the event's role (``examples``, ``base_model``, ...) |
| ``mlstore_execution`` | runs | execution id, step, state, pipeline run, span, seeds, code version |
| ``mlstore_warmStart`` | runs | the base model a Trainer warm-started from |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attr
from openlineage.client.generated.base import DatasetFacet, InputDatasetFacet, OutputDatasetFacet, RunFacet

# Where the facet schemas are published; each file in schemas/ carries its URL as $id.
SCHEMA_BASE = "https://mlstore.dev/spec/openlineage/facets/1-0-0/"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def schema_url(name: str) -> str:
    """The ``_schemaURL`` of facet class ``name``: its schema file's ``$id`` + ``#/$defs/<name>``."""
    return f"{SCHEMA_BASE}{name}.json#/$defs/{name}"


def facet_schemas() -> dict[str, dict[str, Any]]:
    """``{$id: schema}`` of every mlstore facet schema shipped in ``schemas/``."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        schemas[schema["$id"]] = schema
    return schemas


@attr.define
class MlstoreArtifactDatasetFacet(DatasetFacet):
    """The artifact behind a dataset: identity, bytes and state."""

    artifact: str  # artifact:N
    type: str  # noqa: A003 - the MLMD artifact type, e.g. Model
    uri: str
    state: str
    digest: str | None = attr.field(default=None)  # content digest (mlstore's, or its fingerprint of TFX's bytes)
    size: int | None = attr.field(default=None)
    span: int | None = attr.field(default=None)
    pipeline: str | None = attr.field(default=None)
    createTime: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreArtifactDatasetFacet")


@attr.define
class MlstoreModelDatasetFacet(DatasetFacet):
    """A Model: its format and the digests that identify what it computes."""

    format: str  # noqa: A003 - "SavedModel"
    digest: str | None = attr.field(default=None)
    servingDigest: str | None = attr.field(default=None)  # noqa: N815
    semanticDigest: str | None = attr.field(default=None)  # noqa: N815
    transformSpecDigest: str | None = attr.field(default=None)  # noqa: N815
    inputSignature: dict[str, str] | None = attr.field(default=None)  # noqa: N815
    tfxVersion: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreModelDatasetFacet")


@attr.define
class MlstoreEvaluationDatasetFacet(DatasetFacet):
    """A ModelEvaluation's metric values: ``{slice: {metric: value}}``."""

    metrics: dict[str, dict[str, float]]

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreEvaluationDatasetFacet")


@attr.define
class MlstoreBlessingDatasetFacet(DatasetFacet):
    """A gate decision (ModelBlessing): blessed or not, on which model, against which baseline."""

    blessed: bool
    model: str | None = attr.field(default=None)  # artifact:N
    baselineModel: str | None = attr.field(default=None)  # noqa: N815
    evaluation: str | None = attr.field(default=None)
    gateSpecDigest: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreBlessingDatasetFacet")


@attr.define
class MlstoreRoleInputDatasetFacet(InputDatasetFacet):
    """The role the run read this dataset in (``examples``, ``base_model``, ...)."""

    role: str

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreRoleInputDatasetFacet")


@attr.define
class MlstoreRoleOutputDatasetFacet(OutputDatasetFacet):
    """The role the run wrote this dataset in (``model``, ``evaluation``, ...)."""

    role: str

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreRoleOutputDatasetFacet")


@attr.define
class MlstoreExecutionRunFacet(RunFacet):
    """The MLMD execution behind a run, with what mlstore captured about it."""

    execution: str  # execution:N
    step: str
    state: str  # mlstore's state: COMPLETE, CACHED, FAILED, ...
    pipeline: str | None = attr.field(default=None)
    pipelineRun: str | None = attr.field(default=None)  # noqa: N815
    node: str | None = attr.field(default=None)  # TFX's node id
    mlmdType: str | None = attr.field(default=None)  # noqa: N815
    span: int | None = attr.field(default=None)
    seeds: dict[str, Any] | None = attr.field(default=None)
    gitCommit: str | None = attr.field(default=None)  # noqa: N815
    gitDirty: bool | None = attr.field(default=None)  # noqa: N815
    codeDigest: str | None = attr.field(default=None)  # noqa: N815 - digest of a built-in step's sources
    environmentDigest: str | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreExecutionRunFacet")


@attr.define
class WarmStartBase:
    """The model a run warm-started from, named as its dataset is."""

    artifact: str
    namespace: str
    name: str
    digest: str | None = attr.field(default=None)


@attr.define
class MlstoreWarmStartRunFacet(RunFacet):
    """The base model a Trainer run warm-started from (its ``base_model`` input)."""

    baseModel: WarmStartBase  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return schema_url("MlstoreWarmStartRunFacet")
