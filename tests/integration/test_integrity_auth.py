"""Issue 18, defect 4: auth fails closed, scopes are checked before any byte is written,
headers are parsed strictly, and a TLS handshake failure says what is wrong."""

from __future__ import annotations

import os
import subprocess

import grpc
import numpy as np
import pytest

import mlstore
from mlstore import errors, hub
from mlstore.client import RemoteStore
from mlstore.server.status import TLS_NOT_TRUSTED
from tests.grpc_support import MLSTORE, READ, WRITE, build_days, serve, serve_with_tokens

@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("auth18") / "store")
    with mlstore.open(uri) as store:
        build_days(store, 1)
    return uri


@pytest.fixture(scope="module")
def secured(store_uri, tmp_path_factory):
    with serve_with_tokens(store_uri, tmp_path_factory.mktemp("tokens18")) as target:
        yield target


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("content", [b"", b"   \n", b"tokens: {}\n", b"tokens:\n", b"{}\n", b"\xff\xfe\x00bad"])
def test_an_empty_or_unreadable_tokens_file_is_a_startup_error(store_uri, tmp_path, content):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_bytes(content)
    run = subprocess.run([MLSTORE, "serve", "--store", store_uri, "--port", "0", "--tokens", str(tokens)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout
    assert "listening" not in run.stdout
    assert run.stderr.count("\n") == 1 and ("no tokens" in run.stderr or "empty token table" in run.stderr
                                            or "cannot be read" in run.stderr), run.stderr


def test_an_empty_tokens_variable_is_a_startup_error(store_uri):
    run = subprocess.run([MLSTORE, "serve", "--store", store_uri, "--port", "0"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "MLSTORE_SERVER_TOKENS": ""})
    assert run.returncode == 2 and "empty token table" in run.stderr, run.stderr


def test_the_authorization_header_is_parsed_strictly(secured):
    with grpc.insecure_channel(secured) as channel:
        call = channel.unary_unary("/mlstore.v1.ModelService/ListPipelines")
        call(b"", metadata=(("authorization", f"Bearer {READ}"),), timeout=5)
        for header in (f"bearer {READ}", f"BEARER {READ}", f" Bearer {READ}", f"Bearer  {READ}", f"Bearer {READ} ",
                       f"Bearer {READ[:5]} {READ[5:]}", f"Bearer \"{READ}\""):  # (gRPC refuses tabs, newlines)
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", metadata=(("authorization", header),), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, repr(header)
        with pytest.raises(grpc.RpcError) as caught:  # two headers: which one counts is ambiguous
            call(b"", metadata=(("authorization", f"Bearer {READ}"), ("authorization", f"Bearer {WRITE}")), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_read_token_writes_no_byte_into_the_shared_root(secured, store_uri, tmp_path):
    blob_root = tmp_path.parent / "unused"
    with RemoteStore(secured, token=READ) as reader:
        blob_root = __import__("pathlib").Path(reader.info.artifact_root)
        before = _files(blob_root)
        data = tmp_path / "new.csv"
        data.write_text("never stored\n")
        with pytest.raises(errors.PermissionDenied, match="'write' scope"):
            reader.blobs.publish(data)
        with pytest.raises(errors.PermissionDenied):
            with mlstore.run("daily", "ExampleGen", store=reader) as run:
                run.log_artifact(data, "Examples")
        with pytest.raises(errors.PermissionDenied):
            reader.check_access("admin")
        reader.check_access("read")
    assert _files(blob_root) == before
    with RemoteStore(secured, token=WRITE) as writer:
        assert writer.blobs.publish(data).stored_new_bytes


def test_hub_publish_through_the_server_with_a_read_token_stores_nothing(secured, tmp_path):
    module = hub.export_embedding_module(["AA", "DL"], np.ones((2, 4)), tmp_path / "m")
    with RemoteStore(secured, token=READ) as reader:
        blob_root = __import__("pathlib").Path(reader.info.artifact_root)
    before = _files(blob_root)
    run = subprocess.run([MLSTORE, "hub", "publish", str(module), "--handle", "acme/emb", "--server", secured,
                          "--token", READ], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "'write' scope" in run.stderr, run.stderr
    assert _files(blob_root) == before


def test_a_tls_handshake_failure_names_the_fix(store_uri, tmp_path):
    def cert(name):
        c, k = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(k), "-out", str(c)],
                       check=True, capture_output=True)
        return c, k

    server_cert, server_key = cert("server")
    other_ca, _ = cert("other")
    with serve(store_uri, "--tls-cert", str(server_cert), "--tls-key", str(server_key), health=False) as (_, target):
        with RemoteStore(target, tls_ca=str(other_ca), timeout=5) as untrusted:
            with pytest.raises(errors.Unavailable) as caught:
                untrusted.pipelines()
        assert str(caught.value).startswith(TLS_NOT_TRUSTED)
        with RemoteStore(target, timeout=5) as plaintext, pytest.raises(errors.Unavailable, match="MLSTORE_TLS_CA"):
            plaintext.pipelines()
        with RemoteStore(target, tls_ca=str(server_cert)) as trusted:
            assert trusted.pipelines() == ["daily"]
