"""Typed errors. Each class carries the gRPC status it maps to and the CLI exit code.

Callers catch :class:`MlstoreError` (or a subclass); the gRPC server and the CLI map
errors mechanically from ``grpc_code`` and ``exit_code`` instead of parsing messages.
"""

from __future__ import annotations

import grpc


class MlstoreError(Exception):
    """Base class of every error mlstore raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    #: CLI exit code: 2 for usage/input errors, 1 for a failed check.
    exit_code: int = 2


class InvalidArgument(MlstoreError, ValueError):
    """The caller passed something malformed (bad id, URI, spec, handle, option)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(MlstoreError, LookupError):
    """A referenced artifact, execution, file, module or pipeline does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class AmbiguousReference(InvalidArgument):
    """A digest prefix or name matches more than one node."""


class AlreadyExists(MlstoreError):
    """Something immutable already exists with different content (e.g. a hub version)."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(MlstoreError):
    """The store is not in a state that allows the operation (e.g. missing evaluation)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class ModelNotBlessed(FailedPrecondition):
    """A push names a model no gate has blessed (``--force`` pushes it anyway, recorded as forced)."""


class IndexDamaged(FailedPrecondition):
    """The index (derived data) is unreadable or corrupt: ``mlstore reindex`` rebuilds it."""


class Unavailable(MlstoreError):
    """A backend (database server, gRPC server, object store) cannot be reached."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class RunnerUnavailable(Unavailable):
    """A Beam runner cannot start: its scheduler or job endpoint is unreachable, or it lacks a binary.

    The message names the pipeline option to fix (``--dask_client_address``, ``--job_endpoint``...).
    """


class Aborted(Unavailable):
    """A backend transaction was aborted by a concurrent one, and retrying did not help."""

    grpc_code = grpc.StatusCode.ABORTED


class IndexBehind(Aborted):
    """The write reached ML Metadata but its index write failed; the next open indexes it."""


class DeadlineExceeded(Unavailable):
    """A backend did not answer in time."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(Unavailable):
    """A backend ran out of something (connections, space, a quota)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Cancelled(Unavailable):
    """A backend cancelled the operation."""

    grpc_code = grpc.StatusCode.CANCELLED


class Unimplemented(FailedPrecondition):
    """The backend does not support the operation."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class BackendError(MlstoreError):
    """A backend failed in a way it did not explain (MLMD's INTERNAL or UNKNOWN status)."""

    grpc_code = grpc.StatusCode.INTERNAL


class PermissionDenied(MlstoreError):
    """The caller's token lacks the scope the operation needs."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(MlstoreError):
    """No valid credentials were presented."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class DataError(InvalidArgument):
    """Input data is malformed (bad rows, missing columns, wrong types)."""


class IntegrityError(MlstoreError):
    """Stored bytes do not match their recorded digest (corruption)."""

    grpc_code = grpc.StatusCode.DATA_LOSS
    exit_code = 1


class IndexInconsistent(MlstoreError):
    """The index could not take rows derived from MLMD (run ``mlstore reindex``; report it if it recurs)."""

    grpc_code = grpc.StatusCode.INTERNAL


class CheckFailed(MlstoreError):
    """A check ran and failed: gate failed, rerun differs, no warm-start candidate."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    exit_code = 1


__all__ = [
    "MlstoreError",
    "InvalidArgument",
    "NotFound",
    "AmbiguousReference",
    "AlreadyExists",
    "FailedPrecondition",
    "IndexDamaged",
    "ModelNotBlessed",
    "Unavailable",
    "Aborted",
    "IndexBehind",
    "DeadlineExceeded",
    "ResourceExhausted",
    "Cancelled",
    "Unimplemented",
    "BackendError",
    "PermissionDenied",
    "Unauthenticated",
    "DataError",
    "IntegrityError",
    "CheckFailed",
    "IndexInconsistent",
]
