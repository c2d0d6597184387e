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
    __slots__ = ("pipeline", "policy", "metric", "slice", "higher_is_better", "as_of_span")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    HIGHER_IS_BETTER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_SPAN_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    policy: str
    metric: str
    slice: str
    higher_is_better: bool
    as_of_span: int
    def __init__(self, pipeline: _Optional[str] = ..., policy: _Optional[str] = ..., metric: _Optional[str] = ..., slice: _Optional[str] = ..., higher_is_better: bool = ..., as_of_span: _Optional[int] = ...) -> None: ...

class SelectWarmStartResponse(_message.Message):
    __slots__ = ("ok", "model", "explanation", "skipped")
    OK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    model: _types_pb2.Artifact
    explanation: str
    skipped: _containers.RepeatedCompositeFieldContainer[_types_pb2.SkippedCandidate]
    def __init__(self, ok: bool = ..., model: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., explanation: _Optional[str] = ..., skipped: _Optional[_Iterable[_Union[_types_pb2.SkippedCandidate, _Mapping]]] = ...) -> None: ...
