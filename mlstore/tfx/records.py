"""TFX 1.16's MLMD records: artifact types, execution types, events, custom properties.

Source: ``tfx/types/standard_artifacts.py`` and ``tfx/components/evaluator/constants.py``
of TFX 1.16.0, checked against the store a real TFX run wrote
(``tests/fixtures/tfx_flights``, see ``tests/tfx/RECORDS.md``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from ml_metadata.proto import metadata_store_pb2 as pb

#: The TFX release whose record formats mlstore writes. Written as the ``tfx_version``
#: custom property of Model artifacts: TFX's Pusher and Evaluator read a Model from
#: ``<uri>/Format-Serving`` only when that property says 0.29 or newer (else from the
#: pre-0.29 ``<uri>/serving_model_dir``).
TFX_VERSION = "1.16.0"
TFX_VERSION_PROPERTY = "tfx_version"

_SPAN_SPLITS = {"span": "INT", "split_names": "STRING"}

#: TFX's standard artifact types with exactly their type properties. TFX maps an MLMD
#: type to its own artifact class only when the name and the properties match, so a
#: type mlstore creates under one of these names carries exactly these properties and
#: everything else of mlstore's goes into custom properties.
STANDARD_ARTIFACT_TYPES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "Examples": {"span": "INT", "version": "INT", "split_names": "STRING"},
    "ExampleStatistics": _SPAN_SPLITS,
    "ExampleAnomalies": _SPAN_SPLITS,
    "ExampleValidationMetrics": _SPAN_SPLITS,
    **{name: {} for name in (
        "ExamplesDiff", "ExternalArtifact", "InferenceResult", "InfraBlessing", "Model", "ModelRun",
        "ModelBlessing", "ModelEvaluation", "PushedModel", "Schema", "TransformCache", "TransformGraph",
        "HyperParameters", "TunerResults", "DataView", "Config")},
})

#: Custom properties TFX's Evaluator writes on a ModelBlessing and its resolvers and
#: Pusher read (``model_utils.is_model_blessed``, ``LatestBlessedModelStrategy``).
BLESSED = "blessed"
CURRENT_MODEL_ID = "current_model_id"
CURRENT_MODEL_URI = "current_model"
BASELINE_MODEL_ID = "baseline_model_id"
BASELINE_MODEL_URI = "baseline_model"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"

#: Step kinds mlstore knows; an execution type given as a TFX class path
#: (``tfx.components.evaluator.component.Evaluator``) maps to one by its last segment.
STEP_KINDS = ("ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer", "Tuner",
              "Evaluator", "InfraValidator", "Pusher", "BulkInferrer", "Resolver", "Importer")

_KIND_ALIASES = {"CsvExampleGen": "ExampleGen", "ImportExampleGen": "ExampleGen",
                 "BigQueryExampleGen": "ExampleGen", "FileBasedExampleGen": "ExampleGen",
                 "ImportSchemaGen": "SchemaGen"}


def step_kind(type_name: str) -> str:
    """The step kind of an execution type: ``Evaluator`` for TFX's class path, the name itself otherwise.

    >>> step_kind("tfx.components.evaluator.component.Evaluator")
    'Evaluator'
    >>> step_kind("tfx.dsl.components.common.resolver.Resolver")
    'Resolver'
    """
    last = type_name.rsplit(".", 1)[-1]
    if "." not in type_name:
        return type_name
    return _KIND_ALIASES.get(last, last)


#: Event types that record an execution producing the artifact.
PRODUCED = frozenset({pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT})
#: Event types that record an execution reading the artifact. A Resolver's
#: ``INTERNAL_OUTPUT`` hands an existing artifact on (it does not produce it) and its
#: ``INTERNAL_INPUT`` reads one: both count as reads.
READ = frozenset({pb.Event.INPUT, pb.Event.DECLARED_INPUT, pb.Event.INTERNAL_INPUT, pb.Event.INTERNAL_OUTPUT})
#: ``PENDING_OUTPUT``: an output TFX declared when the execution started; it becomes an
#: OUTPUT event when the execution publishes. Not indexed (the bytes may not exist yet).
PENDING = frozenset({pb.Event.PENDING_OUTPUT})

#: Execution states after which TFX no longer changes an execution or its events.
FINAL_STATES = frozenset({pb.Execution.COMPLETE, pb.Execution.CACHED, pb.Execution.FAILED, pb.Execution.CANCELED})

#: TFX's context types: the pipeline, one pipeline run, one node of the pipeline.
PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
