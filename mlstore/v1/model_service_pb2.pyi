from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetMetricSeriesRequest(_message.Message):
    __slots__ = ("pipeline", "metric", "slice")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    metric: str
    slice: str
    def __init__(self, pipeline: _Optional[str] = ..., metric: _Optional[str] = ..., slice: _Optional[str] = ...) -> None: ...

class GetMetricSeriesResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_types_pb2.MetricPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[_types_pb2.MetricPoint, _Mapping]]] = ...) -> None: ...

class GetEvaluationMetricsRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetEvaluationMetricsResponse(_message.Message):
    __slots__ = ("slices",)
    SLICES_FIELD_NUMBER: _ClassVar[int]
    slices: _containers.RepeatedCompositeFieldContainer[_types_pb2.SliceMetrics]
    def __init__(self, slices: _Optional[_Iterable[_Union[_types_pb2.SliceMetrics, _Mapping]]] = ...) -> None: ...

class GetLatestBlessedRequest(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    def __init__(self, pipeline: _Optional[str] = ...) -> None: ...

class GetLatestBlessedResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _types_pb2.Artifact
    def __init__(self, model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ...) -> None: ...

class ListBlessingsRequest(_message.Message):
    __slots__ = ("pipeline", "model")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    model: str
    def __init__(self, pipeline: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class ListBlessingsResponse(_message.Message):
    __slots__ = ("blessings",)
    BLESSINGS_FIELD_NUMBER: _ClassVar[int]
    blessings: _containers.RepeatedCompositeFieldContainer[_types_pb2.Blessing]
    def __init__(self, blessings: _Optional[_Iterable[_Union[_types_pb2.Blessing, _Mapping]]] = ...) -> None: ...

class ListPipelinesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPipelinesResponse(_message.Message):
    __slots__ = ("pipelines",)
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pipelines: _Optional[_Iterable[str]] = ...) -> None: ...

class SelectWarmStartRequest(_message.Message):
    __slots__ = ("pipeline", "policy", "metric", "slice", "higher_is_better", "as_of_span", "exclude", "require_compatible", "explain")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    HIGHER_IS_BETTER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_SPAN_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    policy: str
    metric: str
    slice: str
    higher_is_better: bool
    as_of_span: int
    exclude: _containers.RepeatedScalarFieldContainer[int]
    require_compatible: CompatibilityRequirement
    explain: str
    def __init__(self, pipeline: _Optional[str] = ..., policy: _Optional[str] = ..., metric: _Optional[str] = ..., slice: _Optional[str] = ..., higher_is_better: bool = ..., as_of_span: _Optional[int] = ..., exclude: _Optional[_Iterable[int]] = ..., require_compatible: _Optional[_Union[CompatibilityRequirement, _Mapping]] = ..., explain: _Optional[str] = ...) -> None: ...

class CompatibilityRequirement(_message.Message):
    __slots__ = ("reference_model", "spec_digest", "input_signature", "has_input_signature", "layers", "has_layers", "layer_patterns")
    class InputSignatureEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LayersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: LayerShapes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[LayerShapes, _Mapping]] = ...) -> None: ...
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SPEC_DIGEST_FIELD_NUMBER: _ClassVar[int]
    INPUT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    HAS_INPUT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    HAS_LAYERS_FIELD_NUMBER: _ClassVar[int]
    LAYER_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    reference_model: str
    spec_digest: str
    input_signature: _containers.ScalarMap[str, str]
    has_input_signature: bool
    layers: _containers.MessageMap[str, LayerShapes]
    has_layers: bool
    layer_patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reference_model: _Optional[str] = ..., spec_digest: _Optional[str] = ..., input_signature: _Optional[_Mapping[str, str]] = ..., has_input_signature: bool = ..., layers: _Optional[_Mapping[str, LayerShapes]] = ..., has_layers: bool = ..., layer_patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class LayerShapes(_message.Message):
    __slots__ = ("weights",)
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    weights: _containers.RepeatedCompositeFieldContainer[Shape]
    def __init__(self, weights: _Optional[_Iterable[_Union[Shape, _Mapping]]] = ...) -> None: ...

class Shape(_message.Message):
    __slots__ = ("dims",)
    DIMS_FIELD_NUMBER: _ClassVar[int]
    dims: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, dims: _Optional[_Iterable[int]] = ...) -> None: ...

class SelectWarmStartResponse(_message.Message):
    __slots__ = ("ok", "model", "explanation", "skipped", "policy", "chosen")
    OK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    model: _types_pb2.Artifact
    explanation: str
    skipped: _containers.RepeatedCompositeFieldContainer[_types_pb2.SkippedCandidate]
    policy: str
    chosen: WarmStartCandidate
    def __init__(self, ok: bool = ..., model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., explanation: _Optional[str] = ..., skipped: _Optional[_Iterable[_Union[_types_pb2.SkippedCandidate, _Mapping]]] = ..., policy: _Optional[str] = ..., chosen: _Optional[_Union[WarmStartCandidate, _Mapping]] = ...) -> None: ...

class WarmStartCandidate(_message.Message):
    __slots__ = ("model_id", "pipeline", "create_time_us", "span", "data_date", "blessed", "metrics", "raw_input_signature", "transform_spec_digest", "layer_shapes")
    class RawInputSignatureEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LayerShapesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: LayerShapes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[LayerShapes, _Mapping]] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_US_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    DATA_DATE_FIELD_NUMBER: _ClassVar[int]
    BLESSED_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    RAW_INPUT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_SPEC_DIGEST_FIELD_NUMBER: _ClassVar[int]
    LAYER_SHAPES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    pipeline: str
    create_time_us: int
    span: int
    data_date: str
    blessed: bool
    metrics: _containers.RepeatedCompositeFieldContainer[CandidateMetric]
    raw_input_signature: _containers.ScalarMap[str, str]
    transform_spec_digest: str
    layer_shapes: _containers.MessageMap[str, LayerShapes]
    def __init__(self, model_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., create_time_us: _Optional[int] = ..., span: _Optional[int] = ..., data_date: _Optional[str] = ..., blessed: bool = ..., metrics: _Optional[_Iterable[_Union[CandidateMetric, _Mapping]]] = ..., raw_input_signature: _Optional[_Mapping[str, str]] = ..., transform_spec_digest: _Optional[str] = ..., layer_shapes: _Optional[_Mapping[str, LayerShapes]] = ...) -> None: ...

class CandidateMetric(_message.Message):
    __slots__ = ("slice", "metric", "value")
    SLICE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    slice: str
    metric: str
    value: float
    def __init__(self, slice: _Optional[str] = ..., metric: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class ListMetricNamesRequest(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    def __init__(self, pipeline: _Optional[str] = ...) -> None: ...

class ListMetricNamesResponse(_message.Message):
    __slots__ = ("metric_names",)
    METRIC_NAMES_FIELD_NUMBER: _ClassVar[int]
    metric_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, metric_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSlicesRequest(_message.Message):
    __slots__ = ("pipeline", "metric")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    metric: str
    def __init__(self, pipeline: _Optional[str] = ..., metric: _Optional[str] = ...) -> None: ...

class ListSlicesResponse(_message.Message):
    __slots__ = ("slices",)
    SLICES_FIELD_NUMBER: _ClassVar[int]
    slices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, slices: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDailyModelsRequest(_message.Message):
    __slots__ = ("pipeline", "newest")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    newest: int
    def __init__(self, pipeline: _Optional[str] = ..., newest: _Optional[int] = ...) -> None: ...

class ListDailyModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[_types_pb2.Artifact]
    def __init__(self, models: _Optional[_Iterable[_Union[_types_pb2.Artifact, _Mapping]]] = ...) -> None: ...

class GetNewestDailyModelRequest(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    def __init__(self, pipeline: _Optional[str] = ...) -> None: ...

class GetNewestDailyModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _types_pb2.Artifact
    def __init__(self, model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ...) -> None: ...

class PushModelRequest(_message.Message):
    __slots__ = ("model", "base_dir", "model_name", "force", "pipeline")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_DIR_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    model: str
    base_dir: str
    model_name: str
    force: bool
    pipeline: str
    def __init__(self, model: _Optional[str] = ..., base_dir: _Optional[str] = ..., model_name: _Optional[str] = ..., force: bool = ..., pipeline: _Optional[str] = ...) -> None: ...

class PushModelResponse(_message.Message):
    __slots__ = ("model", "blessing", "pushed_model", "execution_id", "version", "destination", "forced")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BLESSING_FIELD_NUMBER: _ClassVar[int]
    PUSHED_MODEL_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    FORCED_FIELD_NUMBER: _ClassVar[int]
    model: _types_pb2.Artifact
    blessing: _types_pb2.Artifact
    pushed_model: _types_pb2.Artifact
    execution_id: int
    version: int
    destination: str
    forced: bool
    def __init__(self, model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., blessing: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., pushed_model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., execution_id: _Optional[int] = ..., version: _Optional[int] = ..., destination: _Optional[str] = ..., forced: bool = ...) -> None: ...
