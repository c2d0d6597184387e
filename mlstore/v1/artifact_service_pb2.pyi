from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetContentDigestRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetContentDigestResponse(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: str
    def __init__(self, digest: _Optional[str] = ...) -> None: ...

class ResolveNodeRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ResolveNodeResponse(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class GetArtifactRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetArtifactResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: _types_pb2.Artifact
    def __init__(self, artifact: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ...) -> None: ...

class ListArtifactsRequest(_message.Message):
    __slots__ = ("type", "pipeline", "state", "page_size", "page_token", "after_id", "order", "before_id", "since_create_time_ms")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_CREATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    type: str
    pipeline: str
    state: str
    page_size: int
    page_token: str
    after_id: int
    order: _types_pb2.Order
    before_id: int
    since_create_time_ms: int
    def __init__(self, type: _Optional[str] = ..., pipeline: _Optional[str] = ..., state: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., after_id: _Optional[int] = ..., order: _Optional[_Union[_types_pb2.Order, str]] = ..., before_id: _Optional[int] = ..., since_create_time_ms: _Optional[int] = ...) -> None: ...

class ListArtifactsResponse(_message.Message):
    __slots__ = ("artifacts", "next_page_token")
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    artifacts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Artifact]
    next_page_token: str
    def __init__(self, artifacts: _Optional[_Iterable[_Union[_types_pb2.Artifact, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class GetExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _types_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_types_pb2.Execution, _Mapping]] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("type", "pipeline", "state", "page_size", "page_token", "after_id", "order", "before_id", "since_create_time_ms")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_CREATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    type: str
    pipeline: str
    state: str
    page_size: int
    page_token: str
    after_id: int
    order: _types_pb2.Order
    before_id: int
    since_create_time_ms: int
    def __init__(self, type: _Optional[str] = ..., pipeline: _Optional[str] = ..., state: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., after_id: _Optional[int] = ..., order: _Optional[_Union[_types_pb2.Order, str]] = ..., before_id: _Optional[int] = ..., since_create_time_ms: _Optional[int] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[_types_pb2.Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class DiffRunsRequest(_message.Message):
    __slots__ = ("a", "b")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    a: str
    b: str
    def __init__(self, a: _Optional[str] = ..., b: _Optional[str] = ...) -> None: ...

class DiffRunsResponse(_message.Message):
    __slots__ = ("a", "b", "sections", "notes")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    a: RunSide
    b: RunSide
    sections: _containers.RepeatedCompositeFieldContainer[DiffSection]
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, a: _Optional[_Union[RunSide, _Mapping]] = ..., b: _Optional[_Union[RunSide, _Mapping]] = ..., sections: _Optional[_Iterable[_Union[DiffSection, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class RunSide(_message.Message):
    __slots__ = ("ref", "execution", "artifact")
    REF_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    ref: str
    execution: _types_pb2.Execution
    artifact: _types_pb2.Artifact
    def __init__(self, ref: _Optional[str] = ..., execution: _Optional[_Union[_types_pb2.Execution, _Mapping]] = ..., artifact: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ...) -> None: ...

class DiffSection(_message.Message):
    __slots__ = ("name", "changes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    changes: _containers.RepeatedCompositeFieldContainer[DiffChange]
    def __init__(self, name: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[DiffChange, _Mapping]]] = ...) -> None: ...

class DiffChange(_message.Message):
    __slots__ = ("key", "a_json", "b_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    A_JSON_FIELD_NUMBER: _ClassVar[int]
    B_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    a_json: str
    b_json: str
    def __init__(self, key: _Optional[str] = ..., a_json: _Optional[str] = ..., b_json: _Optional[str] = ...) -> None: ...
