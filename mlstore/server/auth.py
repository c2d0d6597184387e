"""Bearer-token auth for ``mlstore serve``: token table, scopes and the server interceptor.

Tokens come from a YAML file (``--tokens FILE``) or the ``MLSTORE_SERVER_TOKENS``
environment variable (same YAML, inline)::

    tokens:
      s3cr3t-ci-token:   {name: ci, scopes: [read]}
      s3cr3t-worker:     {name: pipelines, scopes: [write]}
      s3cr3t-ops:        {name: ops, scopes: [admin]}

Scopes nest: ``admin`` implies ``write``, ``write`` implies ``read``. Every mlstore
RPC needs ``read`` except IngestService/LogExecution and ModelService/PushModel (``write``). gRPC health checks
are open (load balancers probe them without credentials). Clients send
``authorization: Bearer <token>`` metadata, exactly: the scheme spelled ``Bearer``, one
space, and the token (RFC 6750 characters), nothing around it.

Auth fails closed: a tokens file (or ``$MLSTORE_SERVER_TOKENS``) that is empty,
unreadable or lists no token is a startup error, never an open server.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import grpc
import yaml

from mlstore import errors

SCOPES = ("read", "write", "admin")
_IMPLIED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}
ENV_VAR = "MLSTORE_SERVER_TOKENS"

#: Methods that need more than ``read``; the rest of mlstore.v1 needs ``read``.
METHOD_SCOPES = {"/mlstore.v1.IngestService/LogExecution": "write",
                 "/mlstore.v1.ModelService/PushModel": "write",
                 "/mlstore.v1.AdminService/CollectGarbage": "admin",
                 "/mlstore.v1.AdminService/PinArtifact": "admin",
                 "/mlstore.v1.AdminService/UnpinArtifact": "admin"}
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)

#: ``Bearer <b64token>`` (RFC 6750 section 2.1), nothing before or after.
_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)")


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to and what it may do."""

    name: str
    scopes: frozenset[str]


def _digest(token: str) -> str:
    # Tokens are kept only as hashes, so the table is looked up without comparing secrets.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenTable:
    """Bearer tokens and their principals."""

    def __init__(self, entries: Mapping[str, Principal]):
        self._by_digest = {_digest(token): p for token, p in entries.items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, token: str) -> Principal | None:
        return self._by_digest.get(_digest(token))


def parse_tokens(text: str, source: str) -> TokenTable:
    """Parses the YAML token table (see the module docstring).

    Raises:
        InvalidArgument: malformed YAML, unknown scope, empty token.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise errors.InvalidArgument(f"{source}: not valid YAML ({e.__class__.__name__})") from None
    if data is None:
        raise errors.InvalidArgument(f"{source}: empty token table; a server started with tokens needs at least "
                                     "one (to serve without auth on 127.0.0.1, pass no --tokens)")
    table = data.get("tokens", data) if isinstance(data, dict) else None
    if isinstance(data, dict) and table is None:
        table = {}  # "tokens:" with nothing under it: no tokens (refused below)
    if not isinstance(table, dict):
        raise errors.InvalidArgument(f"{source}: expected a mapping 'tokens: {{TOKEN: {{name, scopes}}}}'")
    entries = {}
    for token, spec in table.items():
        if not isinstance(token, str) or len(token) < 8:
            raise errors.InvalidArgument(f"{source}: every token must be a string of at least 8 characters")
        spec = spec or {}
        scopes = spec.get("scopes", ["read"]) if isinstance(spec, dict) else spec
        if isinstance(scopes, str):
            scopes = [scopes]
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise errors.InvalidArgument(f"{source}: unknown scope(s) {sorted(unknown)}; use {list(SCOPES)}")
        implied = frozenset().union(*(_IMPLIED[s] for s in scopes))
        name = spec.get("name", "token") if isinstance(spec, dict) else "token"
        entries[token] = Principal(str(name), implied)
    if not entries:
        raise errors.InvalidArgument(f"{source}: no tokens in the token table; a server started with tokens needs "
                                     "at least one (to serve without auth on 127.0.0.1, pass no --tokens)")
    return TokenTable(entries)


def load_tokens(path: str | None) -> TokenTable | None:
    """The token table from ``path``, else from ``$MLSTORE_SERVER_TOKENS``, else None.

    Raises:
        InvalidArgument / NotFound: unreadable or malformed table.
    """
    if path:
        file = Path(path)
        if not file.is_file():
            raise errors.NotFound(f"tokens file {path} does not exist")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise errors.InvalidArgument(f"tokens file {path} cannot be read: {e.__class__.__name__}") from None
        return parse_tokens(text, path)
    text = os.environ.get(ENV_VAR)
    return None if text is None else parse_tokens(text, ENV_VAR)


def required_scope(method: str) -> str | None:
    """The scope a full method name needs (None: open)."""
    if method.startswith(OPEN_PREFIXES):
        return None
    return METHOD_SCOPES.get(method, "read")


def bearer(metadata) -> str | None:
    """The token of the one ``authorization: Bearer <token>`` header (None when absent or malformed)."""
    values = [value for key, value in metadata or () if key == "authorization"]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    match = _BEARER.fullmatch(values[0])
    return match.group(1) if match else None


def principal_of(tokens: TokenTable | None, metadata) -> Principal:
    """Who is calling (everyone is everything on a server without tokens).

    Raises:
        Unauthenticated: no valid token.
    """
    if tokens is None:
        return Principal("", frozenset(SCOPES))
    token = bearer(metadata)
    principal = tokens.lookup(token) if token is not None else None
    if principal is None:
        raise errors.Unauthenticated("missing, malformed or unknown bearer token")
    return principal


def _denied(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that only aborts."""

    def abort(_request, context):
        context.abort(code, message)

    def abort_stream(_request, context):
        context.abort(code, message)
        yield  # pragma: no cover - abort raises

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort_stream)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(abort_stream)
    return grpc.unary_unary_rpc_method_handler(abort)


class AuthInterceptor(grpc.ServerInterceptor):
    """Checks the bearer token and its scope before a method runs.

    Denied calls never reach the service, and their requests are not even deserialized.
    """

    def __init__(self, tokens: TokenTable):
        self.tokens = tokens

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: gRPC answers UNIMPLEMENTED
        scope = required_scope(handler_call_details.method)
        if scope is None:
            return handler
        token = bearer(handler_call_details.invocation_metadata)
        if token is None:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED,
                           "missing bearer token: send 'authorization: Bearer <token>' (MLSTORE_TOKEN)")
        principal = self.tokens.lookup(token)
        if principal is None:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked token")
        if scope not in principal.scopes:
            return _denied(handler, grpc.StatusCode.PERMISSION_DENIED,
                           f"token {principal.name!r} lacks the {scope!r} scope needed by "
                           f"{handler_call_details.method}")
        return handler
