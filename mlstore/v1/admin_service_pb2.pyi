from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RetentionPolicy(_message.Message):
    __slots__ = ("keep_days", "keep_last", "keep_blessed", "keep_pushed", "keep_modules", "lineage_may_outlive_bytes", "grace_minutes")
    KEEP_DAYS_FIELD_NUMBER: _ClassVar[int]
    KEEP_LAST_FIELD_NUMBER: _ClassVar[int]
    KEEP_BLESSED_FIELD_NUMBER: _ClassVar[int]
    KEEP_PUSHED_FIELD_NUMBER: _ClassVar[int]
    KEEP_MODULES_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_MAY_OUTLIVE_BYTES_FIELD_NUMBER: _ClassVar[int]
    GRACE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    keep_days: int
    keep_last: int
    keep_blessed: bool
    keep_pushed: bool
    keep_modules: bool
    lineage_may_outlive_bytes: bool
    grace_minutes: float
    def __init__(self, keep_days: _Optional[int] = ..., keep_last: _Optional[int] = ..., keep_blessed: bool = ..., keep_pushed: bool = ..., keep_modules: bool = ..., lineage_may_outlive_bytes: bool = ..., grace_minutes: _Optional[float] = ...) -> None: ...

class CollectGarbageRequest(_message.Message):
    __slots__ = ("policy", "dry_run")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    dry_run: bool
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ..., dry_run: bool = ...) -> None: ...

class BlobSweep(_message.Message):
    __slots__ = ("digest", "size", "type", "why")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    digest: str
    size: int
    type: str
    why: str
    def __init__(self, digest: _Optional[str] = ..., size: _Optional[int] = ..., type: _Optional[str] = ..., why: _Optional[str] = ...) -> None: ...

class CollectGarbageResponse(_message.Message):
    __slots__ = ("policy", "dry_run", "kept", "reclaimed", "blobs", "deferred", "kept_without_bytes", "created_ms", "recovered", "marked", "swept", "spared")
    class KeptEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: str
        def __init__(self, key: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...
    POLICY_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_FIELD_NUMBER: _ClassVar[int]
    KEPT_WITHOUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    MARKED_FIELD_NUMBER: _ClassVar[int]
    SWEPT_FIELD_NUMBER: _ClassVar[int]
    SPARED_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    dry_run: bool
    kept: _containers.ScalarMap[int, str]
    reclaimed: _containers.RepeatedCompositeFieldContainer[_types_pb2.Artifact]
    blobs: _containers.RepeatedCompositeFieldContainer[BlobSweep]
    deferred: _containers.RepeatedCompositeFieldContainer[BlobSweep]
    kept_without_bytes: _containers.RepeatedScalarFieldContainer[int]
    created_ms: int
    recovered: int
    marked: int
    swept: _containers.RepeatedCompositeFieldContainer[BlobSweep]
    spared: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ..., dry_run: bool = ..., kept: _Optional[_Mapping[int, str]] = ..., reclaimed: _Optional[_Iterable[_Union[_types_pb2.Artifact, _Mapping]]] = ..., blobs: _Optional[_Iterable[_Union[BlobSweep, _Mapping]]] = ..., deferred: _Optional[_Iterable[_Union[BlobSweep, _Mapping]]] = ..., kept_without_bytes: _Optional[_Iterable[int]] = ..., created_ms: _Optional[int] = ..., recovered: _Optional[int] = ..., marked: _Optional[int] = ..., swept: _Optional[_Iterable[_Union[BlobSweep, _Mapping]]] = ..., spared: _Optional[_Iterable[str]] = ...) -> None: ...

class PinArtifactRequest(_message.Message):
    __slots__ = ("ref", "reason")
    REF_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ref: str
    reason: str
    def __init__(self, ref: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Pin(_message.Message):
    __slots__ = ("artifact", "type", "reason")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    artifact: str
    type: str
    reason: str
    def __init__(self, artifact: _Optional[str] = ..., type: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PinArtifactResponse(_message.Message):
    __slots__ = ("pin",)
    PIN_FIELD_NUMBER: _ClassVar[int]
    pin: Pin
    def __init__(self, pin: _Optional[_Union[Pin, _Mapping]] = ...) -> None: ...

class UnpinArtifactRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class UnpinArtifactResponse(_message.Message):
    __slots__ = ("unpinned",)
    UNPINNED_FIELD_NUMBER: _ClassVar[int]
    unpinned: bool
    def __init__(self, unpinned: bool = ...) -> None: ...

class ListPinsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPinsResponse(_message.Message):
    __slots__ = ("pins",)
    PINS_FIELD_NUMBER: _ClassVar[int]
    pins: _containers.RepeatedCompositeFieldContainer[Pin]
    def __init__(self, pins: _Optional[_Iterable[_Union[Pin, _Mapping]]] = ...) -> None: ...
