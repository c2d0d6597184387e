from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatisticsRequest(_message.Message):
    __slots__ = ("ref", "split")
    REF_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    ref: str
    split: str
    def __init__(self, ref: _Optional[str] = ..., split: _Optional[str] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("artifact", "span", "splits")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    artifact: str
    span: int
    splits: _containers.RepeatedCompositeFieldContainer[SplitStatistics]
    def __init__(self, artifact: _Optional[str] = ..., span: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[SplitStatistics, _Mapping]]] = ...) -> None: ...

class SplitStatistics(_message.Message):
    __slots__ = ("split", "num_examples", "features")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    split: str
    num_examples: int
    features: _containers.RepeatedCompositeFieldContainer[FeatureStatistics]
    def __init__(self, split: _Optional[str] = ..., num_examples: _Optional[int] = ..., features: _Optional[_Iterable[_Union[FeatureStatistics, _Mapping]]] = ...) -> None: ...

class FeatureStatistics(_message.Message):
    __slots__ = ("name", "type", "count", "missing", "mean", "std_dev", "min", "median", "max", "zeros", "unique", "avg_length", "top_values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_DEV_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    ZEROS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_FIELD_NUMBER: _ClassVar[int]
    AVG_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TOP_VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    count: int
    missing: int
    mean: float
    std_dev: float
    min: float
    median: float
    max: float
    zeros: int
    unique: int
    avg_length: float
    top_values: _containers.RepeatedCompositeFieldContainer[TopValue]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., count: _Optional[int] = ..., missing: _Optional[int] = ..., mean: _Optional[float] = ..., std_dev: _Optional[float] = ..., min: _Optional[float] = ..., median: _Optional[float] = ..., max: _Optional[float] = ..., zeros: _Optional[int] = ..., unique: _Optional[int] = ..., avg_length: _Optional[float] = ..., top_values: _Optional[_Iterable[_Union[TopValue, _Mapping]]] = ...) -> None: ...

class TopValue(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class DiffStatisticsRequest(_message.Message):
    __slots__ = ("a", "b", "split", "threshold", "schema")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    a: str
    b: str
    split: str
    threshold: float
    schema: str
    def __init__(self, a: _Optional[str] = ..., b: _Optional[str] = ..., split: _Optional[str] = ..., threshold: _Optional[float] = ..., schema: _Optional[str] = ...) -> None: ...

class DiffStatisticsResponse(_message.Message):
    __slots__ = ("a", "b", "features", "over_threshold")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    OVER_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    a: str
    b: str
    features: _containers.RepeatedCompositeFieldContainer[DriftRow]
    over_threshold: int
    def __init__(self, a: _Optional[str] = ..., b: _Optional[str] = ..., features: _Optional[_Iterable[_Union[DriftRow, _Mapping]]] = ..., over_threshold: _Optional[int] = ...) -> None: ...

class DriftRow(_message.Message):
    __slots__ = ("split", "feature", "metric", "distance", "threshold", "over_threshold", "value_at")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OVER_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_FIELD_NUMBER: _ClassVar[int]
    split: str
    feature: str
    metric: str
    distance: float
    threshold: float
    over_threshold: bool
    value_at: str
    def __init__(self, split: _Optional[str] = ..., feature: _Optional[str] = ..., metric: _Optional[str] = ..., distance: _Optional[float] = ..., threshold: _Optional[float] = ..., over_threshold: bool = ..., value_at: _Optional[str] = ...) -> None: ...

class GetAnomaliesRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetAnomaliesResponse(_message.Message):
    __slots__ = ("artifact", "splits", "anomalous_features")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    ANOMALOUS_FEATURES_FIELD_NUMBER: _ClassVar[int]
    artifact: str
    splits: _containers.RepeatedCompositeFieldContainer[SplitAnomalies]
    anomalous_features: int
    def __init__(self, artifact: _Optional[str] = ..., splits: _Optional[_Iterable[_Union[SplitAnomalies, _Mapping]]] = ..., anomalous_features: _Optional[int] = ...) -> None: ...

class SplitAnomalies(_message.Message):
    __slots__ = ("split", "features")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    split: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureAnomaly]
    def __init__(self, split: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureAnomaly, _Mapping]]] = ...) -> None: ...

class FeatureAnomaly(_message.Message):
    __slots__ = ("feature", "short_description", "description", "types")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    SHORT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    feature: str
    short_description: str
    description: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature: _Optional[str] = ..., short_description: _Optional[str] = ..., description: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("artifact", "features")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    artifact: str
    features: _containers.RepeatedCompositeFieldContainer[SchemaFeature]
    def __init__(self, artifact: _Optional[str] = ..., features: _Optional[_Iterable[_Union[SchemaFeature, _Mapping]]] = ...) -> None: ...

class SchemaFeature(_message.Message):
    __slots__ = ("feature", "type", "min_fraction", "min_count", "shape", "value_count", "domain", "drift_threshold", "skew_threshold")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DRIFT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SKEW_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    feature: str
    type: str
    min_fraction: float
    min_count: int
    shape: Dims
    value_count: ValueCount
    domain: StringValues
    drift_threshold: float
    skew_threshold: float
    def __init__(self, feature: _Optional[str] = ..., type: _Optional[str] = ..., min_fraction: _Optional[float] = ..., min_count: _Optional[int] = ..., shape: _Optional[_Union[Dims, _Mapping]] = ..., value_count: _Optional[_Union[ValueCount, _Mapping]] = ..., domain: _Optional[_Union[StringValues, _Mapping]] = ..., drift_threshold: _Optional[float] = ..., skew_threshold: _Optional[float] = ...) -> None: ...

class Dims(_message.Message):
    __slots__ = ("sizes",)
    SIZES_FIELD_NUMBER: _ClassVar[int]
    sizes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sizes: _Optional[_Iterable[int]] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("min", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: int
    max: int
    def __init__(self, min: _Optional[int] = ..., max: _Optional[int] = ...) -> None: ...

class StringValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...
