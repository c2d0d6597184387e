"""Typed errors <-> gRPC status codes, on both sides of the wire.

Server: :func:`rpc` wraps a servicer method so an :class:`~mlstore.errors.MlstoreError`
becomes its ``grpc_code`` with the error's message, and anything unexpected becomes
INTERNAL with a short message (logged with its traceback) — a request never crashes
the server. Client: :func:`raise_for` turns a status back into the same typed error.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Iterator

import grpc

from mlstore import errors

log = logging.getLogger("mlstore.server")

#: Client side: status code -> the error class raised for it.
_ERROR_BY_CODE: dict[grpc.StatusCode, type[errors.MlstoreError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DATA_LOSS: errors.IntegrityError,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.InvalidArgument,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.CANCELLED: errors.Cancelled,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
    grpc.StatusCode.INTERNAL: errors.BackendError,
}

#: What a failed TLS handshake says, client side (wrong or missing CA, plaintext to TLS).
TLS_NOT_TRUSTED = "TLS: certificate not trusted (set MLSTORE_TLS_CA)"
_TLS_SIGNS = ("ssl", "handshake", "certificate", "socket closed", "tls")

#: Server side: trailing-metadata key naming the exact error class (e.g. AmbiguousReference),
#: so the client can raise the subclass, not just the class of the status code.
ERROR_CLASS_KEY = "mlstore-error-class"

#: Strings never sent to clients, with what replaces them: the database password inside
#: store URIs in messages ("***"), the server's local store path ("the store").
_SECRETS: dict[str, str] = {}


def hide(secret: str, replacement: str = "***") -> None:
    """Registers a secret that error messages sent to clients must not contain."""
    if secret:
        _SECRETS[secret] = replacement


#: Status details are sent as a header; messages that echo huge inputs are cut to this.
MAX_DETAILS = 1000


def _scrub(message: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):  # the longest first: a path inside a URI
        message = message.replace(secret, _SECRETS[secret])
    return message if len(message) <= MAX_DETAILS else message[:MAX_DETAILS] + "... (truncated)"


def _abort(context: grpc.ServicerContext, error: BaseException, method: str) -> None:
    if isinstance(error, errors.MlstoreError):
        context.set_trailing_metadata(((ERROR_CLASS_KEY, type(error).__name__),))
        context.abort(error.grpc_code, _scrub(str(error) or type(error).__name__))
    log.exception("unexpected error in %s", method)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}: {type(error).__name__} "
                                            "(see the server log)")


def _already_aborted(context: grpc.ServicerContext) -> bool:
    # context.abort() raises a bare Exception after setting the code; let it through.
    return context.code() not in (None, grpc.StatusCode.OK)


class MalformedRequest:
    """What :func:`lenient` hands the servicer for bytes that are not the request message."""

    def __init__(self, message_type: str, error: BaseException):
        self.message_type = message_type
        self.error = error


def lenient(message_class) -> Callable[[bytes], object]:
    """A request deserializer that never raises: undecodable bytes become a
    :class:`MalformedRequest`, answered INVALID_ARGUMENT by :func:`rpc` with one log line
    (gRPC would otherwise answer INTERNAL and log a traceback)."""

    def parse(data: bytes):
        try:
            return message_class.FromString(data)
        except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError, sometimes others
            return MalformedRequest(message_class.DESCRIPTOR.full_name, e)

    return parse


def _reject_malformed(request, context: grpc.ServicerContext, method: str) -> None:
    if isinstance(request, MalformedRequest):
        log.warning("%s: rejected a malformed request: not a %s (%s)", method, request.message_type,
                    type(request.error).__name__)
        context.set_trailing_metadata(((ERROR_CLASS_KEY, "InvalidArgument"),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"malformed request: the bytes are not a serialized {request.message_type}")


def rpc(method: Callable) -> Callable:
    """Decorates a unary servicer method with the error mapping described above."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        _reject_malformed(request, context, method.__name__)
        try:
            return method(self, request, context)
        except Exception as e:  # noqa: BLE001 - mapped to a status, never a crash
            if _already_aborted(context):
                raise
            _abort(context, e, method.__name__)

    return wrapper


def stream_rpc(method: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """Like :func:`rpc`, for server-streaming methods (generators)."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        _reject_malformed(request, context, method.__name__)
        try:
            yield from method(self, request, context)
        except Exception as e:  # noqa: BLE001
            if _already_aborted(context):
                raise
            _abort(context, e, method.__name__)

    return wrapper


def check_deadline(context: grpc.ServicerContext, what: str) -> None:
    """Stops long work when the client's deadline has passed or it went away."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline exceeded while {what}")
    if not context.is_active():
        context.abort(grpc.StatusCode.CANCELLED, f"client cancelled while {what}")


def raise_for(error: grpc.RpcError, target: str, tls: bool = False) -> None:
    """Raises the typed mlstore error for a failed call (client side).

    A connection refused in the TLS handshake says so (:data:`TLS_NOT_TRUSTED`) instead of
    gRPC's "Socket closed"; without TLS configured, the hint is appended.

    Raises:
        MlstoreError: always; the subclass named by the server when it sent one.
    """
    code = error.code()
    message = error.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE and any(sign in message.lower() for sign in _TLS_SIGNS):
        if tls:
            raise errors.Unavailable(f"{TLS_NOT_TRUSTED}: mlstore server at {target}: {message}") from None
        message = f"{message} (if the server uses TLS: {TLS_NOT_TRUSTED})"
    named = dict(error.trailing_metadata() or ()).get(ERROR_CLASS_KEY)
    error_class = getattr(errors, named, None) if named in errors.__all__ else None
    if error_class is None:
        error_class = _ERROR_BY_CODE.get(code, errors.MlstoreError)
    if code == grpc.StatusCode.UNAVAILABLE and named is None:
        message = f"mlstore server at {target} is unavailable: {message}"
    raise error_class(message) from None
