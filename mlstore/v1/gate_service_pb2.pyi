from mlstore.v1 import types_pb2 as _types_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvaluateGateRequest(_message.Message):
    __slots__ = ("spec_yaml", "candidate", "baseline", "no_baseline")
    SPEC_YAML_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    NO_BASELINE_FIELD_NUMBER: _ClassVar[int]
    spec_yaml: str
    candidate: str
    baseline: str
    no_baseline: bool
    def __init__(self, spec_yaml: _Optional[str] = ..., candidate: _Optional[str] = ..., baseline: _Optional[str] = ..., no_baseline: bool = ...) -> None: ...

class EvaluateGateResponse(_message.Message):
    __slots__ = ("report", "candidate_evaluation", "baseline_evaluation", "text")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    report: _types_pb2.GateReport
    candidate_evaluation: str
    baseline_evaluation: str
    text: str
    def __init__(self, report: _Optional[_Union[_types_pb2.GateReport, _Mapping]] = ..., candidate_evaluation: _Optional[str] = ..., baseline_evaluation: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...
