"""Every MLMD type mlstore writes, in one place.

Names follow TFX (``Examples``, ``TransformGraph``, ``Model``, ``ModelEvaluation``,
``ModelBlessing``, ``PushedModel``; context types ``pipeline`` and ``pipeline_run``).
The definitions here say which fields mlstore writes and validates; how they land in
MLMD is decided per database: a field the stored type declares is a type property,
any other a custom property. A new type with a TFX name gets exactly TFX's type
properties (:mod:`mlstore.tfx.records`), so TFX reads mlstore's records as its own; an
existing type is never changed (see ``Metadata.artifact_type``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from mlstore.errors import InvalidArgument

INT = "INT"
DOUBLE = "DOUBLE"
STRING = "STRING"

#: Properties every artifact carries. ``digest`` is the content digest of its blob
#: (``sha256:<hex>``), ``size`` its total bytes, ``span`` the data day it derives from.
COMMON_ARTIFACT_PROPERTIES: Mapping[str, str] = MappingProxyType(
    # size is DOUBLE: MLMD's MySQL schema stores int_value as a 32-bit INT, and blobs
    # pass 2 GiB. Doubles hold integers exactly up to 2**53.
    {"digest": STRING, "size": DOUBLE, "span": INT, "pipeline": STRING}
)

#: Properties every execution carries (what the SDK captures).
COMMON_EXECUTION_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "pipeline": STRING,
        "run_id": STRING,
        "params": STRING,  # canonical JSON
        "error": STRING,
        "start_time_ms": DOUBLE,  # epoch ms; DOUBLE because MLMD's MySQL int_value is 32-bit
        "end_time_ms": DOUBLE,
        "git_commit": STRING,
        "git_dirty": INT,
        "git_diff_digest": STRING,
        "command": STRING,
        "python_version": STRING,
        "packages": STRING,  # JSON {name: version} of key packages
        "host": STRING,
        "seeds": STRING,  # JSON
        "cache_key": STRING,
        "rerun_of": INT,
        "environment_digest": STRING,
        "code_digest": STRING,
    }
)


@dataclass(frozen=True)
class ArtifactTypeDef:
    """An MLMD artifact type: its name and its own (type-specific) properties."""

    name: str
    properties: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def all_properties(self) -> dict[str, str]:
        return {**COMMON_ARTIFACT_PROPERTIES, **self.properties}


ARTIFACT_TYPES: Mapping[str, ArtifactTypeDef] = MappingProxyType(
    {
        t.name: t
        for t in [
            ArtifactTypeDef(
                "Examples",
                {"version": INT, "split_names": STRING, "row_count": INT},
                "A span of training/evaluation data (CSV or Parquet files).",
            ),
            ArtifactTypeDef(
                "TransformGraph",
                {"spec_digest": STRING},
                "A SavedModel with the transform_features signature and analyzer results.",
            ),
            ArtifactTypeDef(
                "Model",
                {
                    "semantic_digest": STRING,  # variables + signatures + assets, not bytes
                    "spec_digest": STRING,  # digest of the transform spec it was trained with
                    "input_signature": STRING,  # JSON {raw feature: dtype}
                    "layers": STRING,  # JSON {layer name: [weight shapes]} for warm start
                    "seed": INT,
                    "tfx_version": STRING,
                    "serving_digest": STRING,  # digest of Format-Serving/ alone (a SavedModel logged by log_model)  # the TFX artifact layout: Format-Serving/ (see mlstore.tfx)
                },
                "A model; its serving SavedModel is in Format-Serving/ as in TFX.",
            ),
            ArtifactTypeDef(
                "ModelEvaluation",
                {"metrics": STRING, "format_version": INT},
                "Metrics per slice and plot data; `metrics` holds the slice metrics as JSON.",
            ),
            ArtifactTypeDef(
                "ModelBlessing",
                {
                    "blessed": INT,
                    "current_model_id": INT,
                    "current_model": STRING,  # uri, as TFX's Evaluator records it
                    "baseline_model_id": INT,
                    "baseline_model": STRING,
                    "evaluation_id": INT,
                    "gate_spec_digest": STRING,
                },
                "A gate decision on a candidate model.",
            ),
            ArtifactTypeDef(
                "PushedModel",
                {"pushed": INT, "pushed_destination": STRING, "pushed_version": STRING},
                "A model copied to a serving location.",
            ),
            ArtifactTypeDef(
                "HubModule",
                {"publisher": STRING, "name": STRING, "version": INT, "description": STRING, "tags": STRING,
                 # signatures: JSON {signature: {inputs/outputs: {key: {dtype, shape}}}}
                 "license": STRING, "signatures": STRING, "trainable": INT},
                "An immutable, versioned reusable model part.",
            ),
            ArtifactTypeDef(
                "ExampleStatistics",
                {"split_names": STRING},
                "TFDV statistics per split: Split-<name>/FeatureStats.pb, as TFX's StatisticsGen writes them.",
            ),
            ArtifactTypeDef("Schema", {}, "A TFDV schema: schema.pbtxt, as TFX's SchemaGen writes it."),
            ArtifactTypeDef(
                "ExampleAnomalies",
                {"split_names": STRING,
                 "anomalous_features": STRING},  # JSON {split: [feature, ...]}; a custom property
                "TFDV anomalies per split: Split-<name>/SchemaDiff.pb, as TFX's ExampleValidator writes them.",
            ),
            ArtifactTypeDef("File", {}, "Any other file or directory (configs, reports, snapshots)."),
        ]
    }
)

#: Execution types of the built-in components. Other step names are accepted too
#: (a user's own step) and registered on first use with the common properties.
EXECUTION_TYPES = ("ExampleGen", "Transform", "Trainer", "Evaluator", "Gate", "Pusher", "HubPublish")

PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
CONTEXT_TYPES = (PIPELINE_CONTEXT, RUN_CONTEXT)

#: Event roles (MLMD event path step keys) used by the built-in components.
ROLES = (
    "examples",
    "transform_graph",
    "base_model",
    "module",
    "model",
    "baseline_model",
    "evaluation",
    "blessing",
    "pushed_model",
)


def artifact_type(name: str) -> ArtifactTypeDef:
    """Returns the definition of artifact type ``name``.

    Raises:
        InvalidArgument: ``name`` is not an mlstore artifact type.
    """
    try:
        return ARTIFACT_TYPES[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown artifact type {name!r}; known types: {', '.join(ARTIFACT_TYPES)}"
        ) from None


def check_artifact_properties(type_name: str, properties: Mapping[str, object]) -> None:
    """Raises InvalidArgument for a property the type does not define or a wrong value type."""
    allowed = artifact_type(type_name).all_properties()
    for key, value in properties.items():
        if key not in allowed:
            raise InvalidArgument(
                f"unknown property {key!r} for artifact type {type_name}; "
                f"known: {', '.join(sorted(allowed))}"
            )
        check_value(f"{type_name}.{key}", allowed[key], value)


def check_value(where: str, kind: str, value: object) -> None:
    """Raises InvalidArgument when ``value`` does not fit property kind ``kind``."""
    ok = {
        INT: isinstance(value, int) and not isinstance(value, float),
        DOUBLE: isinstance(value, (int, float)) and not isinstance(value, bool),
        STRING: isinstance(value, str),
    }[kind]
    if not ok:
        raise InvalidArgument(f"property {where} must be {kind}, got {type(value).__name__} {value!r}")
