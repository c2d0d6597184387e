from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetLineageRequest(_message.Message):
    __slots__ = ("start", "direction", "depth", "types")
    START_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    start: _containers.RepeatedScalarFieldContainer[str]
    direction: _types_pb2.Direction
    depth: int
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, start: _Optional[_Iterable[str]] = ..., direction: _Optional[_Union[_types_pb2.Direction, str]] = ..., depth: _Optional[int] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class GetLineageResponse(_message.Message):
    __slots__ = ("start", "direction", "depth", "graph")
    START_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    start: _containers.RepeatedScalarFieldContainer[str]
    direction: _types_pb2.Direction
    depth: int
    graph: _types_pb2.LineageColumns
    def __init__(self, start: _Optional[_Iterable[str]] = ..., direction: _Optional[_Union[_types_pb2.Direction, str]] = ..., depth: _Optional[int] = ..., graph: _Optional[_Union[_types_pb2.LineageColumns, _Mapping]] = ...) -> None: ...

class StreamLineageRequest(_message.Message):
    __slots__ = ("start", "direction", "depth", "types", "page_size")
    START_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    start: _containers.RepeatedScalarFieldContainer[str]
    direction: _types_pb2.Direction
    depth: int
    types: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    def __init__(self, start: _Optional[_Iterable[str]] = ..., direction: _Optional[_Union[_types_pb2.Direction, str]] = ..., depth: _Optional[int] = ..., types: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ...) -> None: ...

class StreamLineageResponse(_message.Message):
    __slots__ = ("start", "page")
    START_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    start: _containers.RepeatedScalarFieldContainer[str]
    page: _types_pb2.LineageColumns
    def __init__(self, start: _Optional[_Iterable[str]] = ..., page: _Optional[_Union[_types_pb2.LineageColumns, _Mapping]] = ...) -> None: ...
