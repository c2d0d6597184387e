"""Warm-start selection on the wire: requirements and selections <-> ModelService messages.

The server answers SelectWarmStart with :func:`mlstore.warmstart.from_store.select_warm_start`
itself; these conversions carry its arguments and its whole :class:`Selection`
(chosen candidate, explanation, skipped models) so a client rebuilds the same record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlstore import errors
from mlstore.v1 import model_service_pb2 as mpb
from mlstore.v1 import types_pb2 as tpb
from mlstore.warmstart.from_store import CompatibilityRequirement, requirement_of_model
from mlstore.warmstart.policies import Candidate, Selection, Skipped


@dataclass(frozen=True)
class ModelRequirement:
    """"Compatible with model ``ref``": the server reads that model's spec digest, raw
    inputs and layer shapes (see :func:`~mlstore.warmstart.from_store.requirement_of_model`)."""

    ref: str
    layer_patterns: tuple[str, ...] | None = None


def _shapes_to_pb(target, layers) -> None:
    for name, shapes in layers.items():
        target[name].weights.extend(mpb.Shape(dims=list(shape)) for shape in shapes)


def _shapes_from_pb(source) -> dict[str, tuple[tuple[int, ...], ...]]:
    return {name: tuple(tuple(s.dims) for s in value.weights) for name, value in source.items()}


def requirement_to_pb(requirement: CompatibilityRequirement | ModelRequirement) -> mpb.CompatibilityRequirement:
    """A requirement (explicit or by reference model) as its message."""
    if isinstance(requirement, ModelRequirement):
        return mpb.CompatibilityRequirement(reference_model=requirement.ref,
                                            layer_patterns=list(requirement.layer_patterns or ()))
    message = mpb.CompatibilityRequirement(spec_digest=requirement.spec_digest,
                                           layer_patterns=list(requirement.layer_patterns or ()))
    if requirement.input_signature is not None:
        message.has_input_signature = True
        message.input_signature.update({k: str(v) for k, v in requirement.input_signature.items()})
    if requirement.layers is not None:
        message.has_layers = True
        _shapes_to_pb(message.layers, requirement.layers)
    return message


def requirement_from_pb(store, message: mpb.CompatibilityRequirement) -> CompatibilityRequirement:
    """The requirement a message describes (a reference model is read from ``store``).

    Raises:
        InvalidArgument: a reference model together with explicit fields, or not a Model.
        NotFound: no such reference model.
    """
    patterns = tuple(message.layer_patterns) or None
    if message.HasField("reference_model"):
        if message.HasField("spec_digest") or message.has_input_signature or message.has_layers:
            raise errors.InvalidArgument("require_compatible: give reference_model or explicit fields, not both")
        return requirement_of_model(store, message.reference_model, layer_patterns=patterns)
    return CompatibilityRequirement(
        spec_digest=message.spec_digest if message.HasField("spec_digest") else None,
        input_signature=dict(message.input_signature) if message.has_input_signature else None,
        layers=_shapes_from_pb(message.layers) if message.has_layers else None, layer_patterns=patterns)


def _candidate_to_pb(c: Candidate) -> mpb.WarmStartCandidate:
    message = mpb.WarmStartCandidate(
        model_id=c.model_id, pipeline=c.pipeline, create_time_us=_micros(c.create_time), span=c.span,
        data_date=c.data_date.isoformat() if c.data_date else None, blessed=c.blessed,
        metrics=[mpb.CandidateMetric(slice=s, metric=m, value=v) for (s, m), v in c.metrics.items()],
        raw_input_signature=dict(c.raw_input_signature), transform_spec_digest=c.transform_spec_digest)
    _shapes_to_pb(message.layer_shapes, c.layer_shapes)
    return message


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def _micros(when: dt.datetime) -> int:
    """Exact UTC epoch microseconds (a naive datetime counts as UTC)."""
    aware = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return (aware - _EPOCH) // _MICROSECOND


def _candidate_from_pb(m: mpb.WarmStartCandidate) -> Candidate:
    return Candidate(
        model_id=m.model_id, pipeline=m.pipeline,
        create_time=_EPOCH + m.create_time_us * _MICROSECOND,
        span=m.span if m.HasField("span") else None,
        data_date=dt.date.fromisoformat(m.data_date) if m.HasField("data_date") else None,
        blessed=m.blessed, metrics={(x.slice, x.metric): x.value for x in m.metrics},
        raw_input_signature=dict(m.raw_input_signature),
        transform_spec_digest=m.transform_spec_digest if m.HasField("transform_spec_digest") else None,
        layer_shapes=_shapes_from_pb(m.layer_shapes))


def selection_to_pb(selection: Selection, model: tpb.Artifact | None) -> mpb.SelectWarmStartResponse:
    """The response for a selection (``model``: the chosen Model artifact, if any)."""
    return mpb.SelectWarmStartResponse(
        ok=selection.ok, model=model, explanation=selection.explanation, policy=selection.policy,
        chosen=_candidate_to_pb(selection.chosen) if selection.chosen else None,
        skipped=[tpb.SkippedCandidate(model_id=s.model_id, reason=s.reason) for s in selection.skipped])


def selection_from_pb(response: mpb.SelectWarmStartResponse) -> Selection:
    """The :class:`Selection` a response carries."""
    chosen = _candidate_from_pb(response.chosen) if response.HasField("chosen") else None
    return Selection(response.policy, chosen, response.explanation,
                     tuple(Skipped(s.model_id, s.reason) for s in response.skipped))


__all__ = ["ModelRequirement", "requirement_from_pb", "requirement_to_pb", "selection_from_pb", "selection_to_pb"]
