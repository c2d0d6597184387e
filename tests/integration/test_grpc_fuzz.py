"""Fuzzed requests never crash or hang the server; each gets a clean status (fixed seed, bounded)."""

from __future__ import annotations

import json
import random
import string

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F

import mlstore
from mlstore.v1 import (artifact_service_pb2, data_service_pb2, gate_service_pb2, ingest_service_pb2,
                        lineage_service_pb2, model_service_pb2, store_service_pb2)
from tests.grpc_support import build_days, serve, wait_serving

TOKEN = "fuzz-token-0123456789"
MODULES = (artifact_service_pb2, gate_service_pb2, ingest_service_pb2, lineage_service_pb2, model_service_pb2,
           store_service_pb2, data_service_pb2)
# Statuses a well-formed request may get; UNKNOWN (an uncaught exception) or INTERNAL would be a bug.
CLEAN = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
         grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.PERMISSION_DENIED}


def _methods():
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield (f"/{service.full_name}/{method.name}", method.input_type._concrete_class,
                       method.output_type._concrete_class, method.server_streaming)


def _string(rng: random.Random) -> str:
    return rng.choice([
        lambda: "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(0, 40))),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))).decode("latin-1"),
        lambda: f"artifact:{rng.choice([0, 1, 3, 2**63 - 1, 10**30])}",
        lambda: f"execution:{rng.randrange(-5, 50)}",
        lambda: "sha256:" + "".join(rng.choice("0123456789abcdefg") for _ in range(rng.randrange(0, 80))),
        lambda: rng.choice(["", "Model", "ModelEvaluation", "daily", "latest", "best", "as_of", "Overall",
                            "COMPLETE", "version: 1\nmetrics: [{name: auc_roc}]", "{{{:", "\x00"]),
        lambda: "x" * rng.randrange(1000, 100_000),
    ])()


def _fill(message, rng: random.Random, depth: int = 0) -> None:
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.25:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for _ in range(rng.randrange(3)):
                key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
                k = _scalar(key, rng)
                if value.message_type is not None:
                    _fill(getattr(message, field.name)[k], rng, depth + 1)
                else:
                    getattr(message, field.name)[k] = _scalar(value, rng)
        elif field.label == F.LABEL_REPEATED:
            for _ in range(rng.randrange(4)):
                if field.message_type is not None:
                    _fill(getattr(message, field.name).add(), rng, depth + 1)
                else:
                    getattr(message, field.name).append(_scalar(field, rng))
        elif field.message_type is not None:
            if depth < 2:
                _fill(getattr(message, field.name), rng, depth + 1)
        else:
            setattr(message, field.name, _scalar(field, rng))


def _scalar(field, rng: random.Random):
    if field.type == F.TYPE_STRING:
        return _string(rng)
    if field.type == F.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == F.TYPE_ENUM:
        return rng.choice([0, 1, 2, 3, 99, -7, 2**31 - 1])
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e308, 0.5])
    if field.type == F.TYPE_INT32:
        return rng.choice([0, 1, 2, 5, -1, -(2**31), 2**31 - 1, rng.randrange(-1000, 1000)])
    return rng.choice([0, 1, 3, -1, -(2**63), 2**63 - 1, rng.randrange(-10**6, 10**6)])


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("fuzz") / "store")
    with mlstore.open(uri) as store:
        build_days(store, 3)
    env = {"MLSTORE_SERVER_TOKENS": json.dumps({TOKEN: {"scopes": ["write"]}})}
    with serve(uri, "--max-message-mb", "1", env=env) as (proc, address):
        yield address
        assert proc.poll() is None, "the server died during the fuzz run"


def _call(channel, path, request_bytes, streaming, metadata):
    method = channel.unary_stream if streaming else channel.unary_unary
    call = method(path)
    try:
        if streaming:
            for _ in call(request_bytes, metadata=metadata, timeout=20):
                pass
        else:
            call(request_bytes, metadata=metadata, timeout=20)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def test_fuzzed_fields_get_clean_statuses(target):
    rng = random.Random(20261126)
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    methods = list(_methods())
    seen = {}
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 8 << 20)]) as channel:
        for i in range(240):
            path, request_type, _, streaming = methods[i % len(methods)]
            request = request_type()
            _fill(request, rng)
            payload = request.SerializeToString()
            code, details = _call(channel, path, payload, streaming, metadata)
            expected = CLEAN | ({grpc.StatusCode.RESOURCE_EXHAUSTED} if len(payload) > 1 << 20 else set())
            assert code in expected, (path, code, details, request)
            seen[code] = seen.get(code, 0) + 1
    assert seen.get(grpc.StatusCode.INVALID_ARGUMENT) and seen.get(grpc.StatusCode.OK)
    wait_serving(target)


def test_garbage_bytes_tokens_and_oversized_messages(target):
    rng = random.Random(7)
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 8 << 20)]) as channel:
        for path, _, _, streaming in _methods():
            garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
            code, _ = _call(channel, path, garbage, streaming, metadata)
            # undecodable protobuf is refused by gRPC itself (INTERNAL "Exception deserializing")
            assert code in CLEAN | {grpc.StatusCode.INTERNAL}, (path, code)
            token = "".join(rng.choice(string.printable[:94]) for _ in range(rng.randrange(0, 300)))
            code, _ = _call(channel, path, b"", streaming, (("authorization", f"Bearer {token}"),))
            assert code == grpc.StatusCode.UNAUTHENTICATED, (path, token)
        big = lineage_service_pb2.GetLineageRequest(start=["artifact:1"] * 200_000).SerializeToString()
        code, details = _call(channel, "/mlstore.v1.LineageService/GetLineage", big, False, metadata)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    wait_serving(target)
