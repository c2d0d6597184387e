"""Auth, TLS, exposure rules, health/reflection and graceful shutdown of `mlstore serve`."""

from __future__ import annotations

import signal
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import mlstore
from mlstore import errors
from mlstore.client import RemoteStore
from tests.grpc_support import MLSTORE, READ, WRITE, build_days, serve, serve_with_tokens

@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("auth") / "store")
    with mlstore.open(uri) as store:
        build_days(store, 2)
    return uri


@pytest.fixture(scope="module")
def secured(store_uri, tmp_path_factory):
    with serve_with_tokens(store_uri, tmp_path_factory.mktemp("tokens")) as target:
        yield target


def _log(store) -> int:
    model = store.artifacts(type="Model")[-1]
    return store.log_execution("Pusher", "daily", inputs=[(model.id, "model")]).execution_id


def test_tokens_and_scopes(secured):
    with RemoteStore(secured, token="") as anonymous, pytest.raises(errors.Unauthenticated, match="bearer token"):
        anonymous.pipelines()
    with RemoteStore(secured, token="not-a-known-token") as wrong, pytest.raises(errors.Unauthenticated):
        wrong.pipelines()
    with RemoteStore(secured, token=READ) as reader:
        assert reader.pipelines() == ["daily"]
        with pytest.raises(errors.PermissionDenied, match="'write' scope"):
            _log(reader)
    with RemoteStore(secured, token=WRITE) as writer:
        assert writer.execution(_log(writer)).type == "Pusher"  # write implies read


def test_malformed_authorization_headers(secured):
    with grpc.insecure_channel(secured) as channel:
        call = channel.unary_unary("/mlstore.v1.ModelService/ListPipelines")
        for header in ("Bearer", "Basic abc", f"bearer  {READ}x", "Bearer " + "A" * 5000, READ):
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", metadata=(("authorization", header),), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, header


def test_health_is_open_and_reflection_lists_services(secured):
    with grpc.insecure_channel(secured) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "mlstore.v1.LineageService", "mlstore.v1.IngestService"):
            assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == \
                health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(stub.ServerReflectionInfo(iter([request]), metadata=(("authorization", f"Bearer {READ}"),)))
        names = {s.name for s in answer.list_services_response.service}
    assert {"mlstore.v1.LineageService", "mlstore.v1.GateService", "grpc.health.v1.Health"} <= names


def test_tls(store_uri, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with serve(store_uri, "--tls-cert", str(cert), "--tls-key", str(key), health=False) as (_, target):
        with RemoteStore(target, tls_ca=str(cert)) as store:
            assert store.pipelines() == ["daily"]
        with RemoteStore(target, timeout=3) as plaintext, pytest.raises(errors.Unavailable):
            plaintext.pipelines()


def test_refuses_open_non_loopback_and_bad_token_files(store_uri, tmp_path):
    run = subprocess.run([MLSTORE, "serve", "--store", store_uri, "--host", "0.0.0.0", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "without tokens" in run.stderr and run.stderr.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokens:\n  short: {scopes: [read]}\n")
    run = subprocess.run([MLSTORE, "serve", "--store", store_uri, "--tokens", str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "at least 8 characters" in run.stderr


def test_sigterm_keeps_in_flight_calls_and_exits_cleanly(store_uri):
    with serve(store_uri, "--grace", "5") as (proc, target):
        with grpc.insecure_channel(target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            calls = [channel.unary_unary("/mlstore.v1.ModelService/ListPipelines").future(b"", timeout=20)
                     for _ in range(20)]
            proc.send_signal(signal.SIGTERM)
            # The open stream outlives the signal: it is told NOT_SERVING before the server goes.
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            for call in calls:  # each call is answered, or refused cleanly if it arrived after the signal
                assert call.exception() is None or call.code() in (grpc.StatusCode.CANCELLED,
                                                                   grpc.StatusCode.UNAVAILABLE), call.exception()
        assert proc.wait(30) == 0


def _mlstore_methods():
    from mlstore.server.app import _SERVICES  # noqa: PLC0415 - every service the server registers

    for module, name in _SERVICES:
        service = module.DESCRIPTOR.services_by_name[name]
        for method in service.methods:
            yield f"/{service.full_name}/{method.name}", method.server_streaming


def test_every_rpc_against_every_scope(secured, store_uri):
    """Per RPC and token (none, read, write, admin): no token is UNAUTHENTICATED, a token
    without the RPC's scope PERMISSION_DENIED before any work, one with it gets past auth
    (empty requests then fail on their content, e.g. a gc without keep_days, or succeed)."""
    from mlstore.server.auth import METHOD_SCOPES, required_scope  # noqa: PLC0415
    from tests.grpc_support import ADMIN  # noqa: PLC0415

    tokens = {"read": READ, "write": WRITE, "admin": ADMIN}
    implied = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}
    methods = list(_mlstore_methods())
    assert set(METHOD_SCOPES) <= {path for path, _ in methods}, "a scoped method the server does not serve"
    assert {required_scope(p) for p, _ in methods} == {"read", "write", "admin"}
    seen = 0
    with grpc.insecure_channel(secured) as channel:
        for path, streaming in methods:
            call = channel.unary_stream(path) if streaming else channel.unary_unary(path)
            needed = required_scope(path)
            for holder, token in [(None, None), *tokens.items()]:
                metadata = (("authorization", f"Bearer {token}"),) if token else ()
                try:
                    answer = call(b"", metadata=metadata, timeout=20)
                    if streaming:
                        list(answer)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    code = e.code()
                if holder is None:
                    assert code == grpc.StatusCode.UNAUTHENTICATED, path
                elif needed in implied[holder]:
                    assert code not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                                        grpc.StatusCode.INTERNAL, grpc.StatusCode.UNIMPLEMENTED), (path, holder, code)
                else:
                    assert code == grpc.StatusCode.PERMISSION_DENIED, (path, holder, code)
                seen += 1
    assert seen == 4 * len(methods) >= 4 * 34
    with mlstore.open(store_uri) as store:  # the admin calls' empty requests changed nothing
        assert store.artifacts() and all(a.state == "LIVE" for a in store.artifacts()) and not store.pins()
