from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_UP: _ClassVar[Direction]
    DIRECTION_DOWN: _ClassVar[Direction]
    DIRECTION_BOTH: _ClassVar[Direction]

class Order(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_UNSPECIFIED: _ClassVar[Order]
    ORDER_ASC: _ClassVar[Order]
    ORDER_DESC: _ClassVar[Order]

class NodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_KIND_ARTIFACT: _ClassVar[NodeKind]
    NODE_KIND_EXECUTION: _ClassVar[NodeKind]
DIRECTION_UNSPECIFIED: Direction
DIRECTION_UP: Direction
DIRECTION_DOWN: Direction
DIRECTION_BOTH: Direction
ORDER_UNSPECIFIED: Order
ORDER_ASC: Order
ORDER_DESC: Order
NODE_KIND_ARTIFACT: NodeKind
NODE_KIND_EXECUTION: NodeKind

class PropertyValue(_message.Message):
    __slots__ = ("int_value", "double_value", "string_value", "bool_value")
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    int_value: int
    double_value: float
    string_value: str
    bool_value: bool
    def __init__(self, int_value: _Optional[int] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bool_value: bool = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("id", "type", "uri", "digest", "size", "state", "pipeline", "span", "create_time_ms", "name", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: PropertyValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[PropertyValue, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: int
    type: str
    uri: str
    digest: str
    size: int
    state: str
    pipeline: str
    span: int
    create_time_ms: int
    name: str
    properties: _containers.MessageMap[str, PropertyValue]
    def __init__(self, id: _Optional[int] = ..., type: _Optional[str] = ..., uri: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ..., state: _Optional[str] = ..., pipeline: _Optional[str] = ..., span: _Optional[int] = ..., create_time_ms: _Optional[int] = ..., name: _Optional[str] = ..., properties: _Optional[_Mapping[str, PropertyValue]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("id", "type", "state", "pipeline", "create_time_ms", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: PropertyValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[PropertyValue, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: int
    type: str
    state: str
    pipeline: str
    create_time_ms: int
    properties: _containers.MessageMap[str, PropertyValue]
    def __init__(self, id: _Optional[int] = ..., type: _Optional[str] = ..., state: _Optional[str] = ..., pipeline: _Optional[str] = ..., create_time_ms: _Optional[int] = ..., properties: _Optional[_Mapping[str, PropertyValue]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("execution_id", "artifact_id", "is_output", "role")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    IS_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    artifact_id: int
    is_output: bool
    role: str
    def __init__(self, execution_id: _Optional[int] = ..., artifact_id: _Optional[int] = ..., is_output: bool = ..., role: _Optional[str] = ...) -> None: ...

class LineageColumns(_message.Message):
    __slots__ = ("node_ids", "node_kinds", "node_type_codes", "node_type_names", "node_names", "node_state_codes", "node_state_names", "node_depths", "edge_artifact_ids", "edge_execution_ids", "edge_is_output", "edge_role_codes", "edge_role_names")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    NODE_KINDS_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_CODES_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_NAMES_FIELD_NUMBER: _ClassVar[int]
    NODE_NAMES_FIELD_NUMBER: _ClassVar[int]
    NODE_STATE_CODES_FIELD_NUMBER: _ClassVar[int]
    NODE_STATE_NAMES_FIELD_NUMBER: _ClassVar[int]
    NODE_DEPTHS_FIELD_NUMBER: _ClassVar[int]
    EDGE_ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    EDGE_EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    EDGE_IS_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EDGE_ROLE_CODES_FIELD_NUMBER: _ClassVar[int]
    EDGE_ROLE_NAMES_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    node_kinds: bytes
    node_type_codes: _containers.RepeatedScalarFieldContainer[int]
    node_type_names: _containers.RepeatedScalarFieldContainer[str]
    node_names: _containers.RepeatedScalarFieldContainer[str]
    node_state_codes: _containers.RepeatedScalarFieldContainer[int]
    node_state_names: _containers.RepeatedScalarFieldContainer[str]
    node_depths: _containers.RepeatedScalarFieldContainer[int]
    edge_artifact_ids: _containers.RepeatedScalarFieldContainer[int]
    edge_execution_ids: _containers.RepeatedScalarFieldContainer[int]
    edge_is_output: bytes
    edge_role_codes: _containers.RepeatedScalarFieldContainer[int]
    edge_role_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_ids: _Optional[_Iterable[int]] = ..., node_kinds: _Optional[bytes] = ..., node_type_codes: _Optional[_Iterable[int]] = ..., node_type_names: _Optional[_Iterable[str]] = ..., node_names: _Optional[_Iterable[str]] = ..., node_state_codes: _Optional[_Iterable[int]] = ..., node_state_names: _Optional[_Iterable[str]] = ..., node_depths: _Optional[_Iterable[int]] = ..., edge_artifact_ids: _Optional[_Iterable[int]] = ..., edge_execution_ids: _Optional[_Iterable[int]] = ..., edge_is_output: _Optional[bytes] = ..., edge_role_codes: _Optional[_Iterable[int]] = ..., edge_role_names: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("model_id", "evaluation_id", "span", "value")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    model_id: int
    evaluation_id: int
    span: int
    value: float
    def __init__(self, model_id: _Optional[int] = ..., evaluation_id: _Optional[int] = ..., span: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class SliceMetrics(_message.Message):
    __slots__ = ("slice", "metrics", "metric_order")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SLICE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    METRIC_ORDER_FIELD_NUMBER: _ClassVar[int]
    slice: str
    metrics: _containers.ScalarMap[str, float]
    metric_order: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, slice: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., metric_order: _Optional[_Iterable[str]] = ...) -> None: ...

class Blessing(_message.Message):
    __slots__ = ("id", "model_id", "baseline_id", "evaluation_id", "pipeline", "blessed", "span", "create_time_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    BLESSED_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_id: int
    baseline_id: int
    evaluation_id: int
    pipeline: str
    blessed: bool
    span: int
    create_time_ms: int
    def __init__(self, id: _Optional[int] = ..., model_id: _Optional[int] = ..., baseline_id: _Optional[int] = ..., evaluation_id: _Optional[int] = ..., pipeline: _Optional[str] = ..., blessed: bool = ..., span: _Optional[int] = ..., create_time_ms: _Optional[int] = ...) -> None: ...

class GateCheck(_message.Message):
    __slots__ = ("metric", "slice", "kind", "status", "threshold", "candidate", "baseline", "delta", "reason")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    metric: str
    slice: str
    kind: str
    status: str
    threshold: float
    candidate: float
    baseline: float
    delta: float
    reason: str
    def __init__(self, metric: _Optional[str] = ..., slice: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., threshold: _Optional[float] = ..., candidate: _Optional[float] = ..., baseline: _Optional[float] = ..., delta: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class GateReport(_message.Message):
    __slots__ = ("passed", "spec_digest", "has_baseline", "notes", "checks", "skipped_slices")
    class SkippedSlicesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PASSED_FIELD_NUMBER: _ClassVar[int]
    SPEC_DIGEST_FIELD_NUMBER: _ClassVar[int]
    HAS_BASELINE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_SLICES_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    spec_digest: str
    has_baseline: bool
    notes: _containers.RepeatedScalarFieldContainer[str]
    checks: _containers.RepeatedCompositeFieldContainer[GateCheck]
    skipped_slices: _containers.ScalarMap[str, int]
    def __init__(self, passed: bool = ..., spec_digest: _Optional[str] = ..., has_baseline: bool = ..., notes: _Optional[_Iterable[str]] = ..., checks: _Optional[_Iterable[_Union[GateCheck, _Mapping]]] = ..., skipped_slices: _Optional[_Mapping[str, int]] = ...) -> None: ...

class SkippedCandidate(_message.Message):
    __slots__ = ("model_id", "reason")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    reason: str
    def __init__(self, model_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
