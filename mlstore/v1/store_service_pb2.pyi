from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetStoreInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStoreInfoResponse(_message.Message):
    __slots__ = ("artifact_root", "server_version", "api_version", "index_revision", "backend", "max_message_bytes", "read_roots", "openlineage_namespace")
    ARTIFACT_ROOT_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    INDEX_REVISION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    READ_ROOTS_FIELD_NUMBER: _ClassVar[int]
    OPENLINEAGE_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    artifact_root: str
    server_version: str
    api_version: str
    index_revision: str
    backend: str
    max_message_bytes: int
    read_roots: _containers.RepeatedScalarFieldContainer[str]
    openlineage_namespace: str
    def __init__(self, artifact_root: _Optional[str] = ..., server_version: _Optional[str] = ..., api_version: _Optional[str] = ..., index_revision: _Optional[str] = ..., backend: _Optional[str] = ..., max_message_bytes: _Optional[int] = ..., read_roots: _Optional[_Iterable[str]] = ..., openlineage_namespace: _Optional[str] = ...) -> None: ...

class GetNewestExecutionIdRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNewestExecutionIdResponse(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: int
    def __init__(self, execution_id: _Optional[int] = ...) -> None: ...

class CheckAccessRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class CheckAccessResponse(_message.Message):
    __slots__ = ("principal", "scopes")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    principal: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...
