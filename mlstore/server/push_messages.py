"""PushResult <-> PushModelResponse, for the server and :mod:`mlstore.client`."""

from __future__ import annotations

from mlstore.push import PushResult
from mlstore.server import convert
from mlstore.v1 import model_service_pb2 as mpb


def push_result_to_pb(result: PushResult) -> mpb.PushModelResponse:
    return mpb.PushModelResponse(
        model=convert.artifact_to_pb(result.model),
        blessing=convert.artifact_to_pb(result.blessing) if result.blessing is not None else None,
        pushed_model=convert.artifact_to_pb(result.pushed_model), execution_id=result.execution_id,
        version=result.version, destination=result.destination, forced=result.forced)


def push_result_from_pb(response: mpb.PushModelResponse) -> PushResult:
    return PushResult(
        convert.artifact_from_pb(response.model),
        convert.artifact_from_pb(response.blessing) if response.HasField("blessing") else None,
        convert.artifact_from_pb(response.pushed_model), response.execution_id, response.version,
        response.destination, response.forced)
