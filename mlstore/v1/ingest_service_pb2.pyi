from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InputArtifact(_message.Message):
    __slots__ = ("artifact_id", "role")
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    artifact_id: int
    role: str
    def __init__(self, artifact_id: _Optional[int] = ..., role: _Optional[str] = ...) -> None: ...

class OutputArtifact(_message.Message):
    __slots__ = ("type", "uri", "digest", "size", "role", "properties", "name")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.PropertyValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.PropertyValue, _Mapping]] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    type: str
    uri: str
    digest: str
    size: int
    role: str
    properties: _containers.MessageMap[str, _types_pb2.PropertyValue]
    name: str
    def __init__(self, type: _Optional[str] = ..., uri: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ..., role: _Optional[str] = ..., properties: _Optional[_Mapping[str, _types_pb2.PropertyValue]] = ..., name: _Optional[str] = ...) -> None: ...

class LogExecutionRequest(_message.Message):
    __slots__ = ("step", "pipeline", "inputs", "outputs", "properties", "state", "run_id")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.PropertyValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.PropertyValue, _Mapping]] = ...) -> None: ...
    STEP_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    step: str
    pipeline: str
    inputs: _containers.RepeatedCompositeFieldContainer[InputArtifact]
    outputs: _containers.RepeatedCompositeFieldContainer[OutputArtifact]
    properties: _containers.MessageMap[str, _types_pb2.PropertyValue]
    state: str
    run_id: str
    def __init__(self, step: _Optional[str] = ..., pipeline: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[InputArtifact, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[OutputArtifact, _Mapping]]] = ..., properties: _Optional[_Mapping[str, _types_pb2.PropertyValue]] = ..., state: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class LogExecutionResponse(_message.Message):
    __slots__ = ("execution_id", "output_ids")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_IDS_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    output_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, execution_id: _Optional[int] = ..., output_ids: _Optional[_Iterable[int]] = ...) -> None: ...
