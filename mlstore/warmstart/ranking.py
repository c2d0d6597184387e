"""The warm-start policies applied to index rows in bulk (the fast path of ``from_store``).

:func:`mlstore.warmstart.policies.select` is the specification: same disqualification
order, tie rule, reasons and explanation. Building a :class:`Candidate` per model and
running the pure function costs ~10 µs a model, too slow for a pipeline of 10,000
models; here each row costs one tuple, one check and one :class:`Skipped`. The pure
function still decides the parts that need more than a comparison: the compatibility
verdict (once per distinct property set) and the explanation (on the chosen model).
``tests/integration/test_warmstart_store.py`` holds the two paths together.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from mlstore.index.model_queries import ModelRow
from mlstore.warmstart.policies import LOWER_IS_BETTER, Candidate, Compatibility, Selection, Skipped, select

_EMPTY: Mapping = MappingProxyType({})


RERUN_REASON = "output of `mlstore rerun`: a verification of its day, not a daily model"


@dataclass(frozen=True)
class RankRequest:
    """Everything a selection needs besides the model rows.

    ``policy`` is the pure policy name ("latest", "latest_blessed", "best", "as_of");
    ``label`` the policy string the caller gave (reported back in the Selection).
    """

    pipeline: str
    policy: str
    label: str
    metric: tuple[str, str] | None = None  # (slice, metric) for "best"
    higher_is_better: bool | None = None
    as_of: int | None = None
    blessed: frozenset[int] | set[int] = frozenset()
    values: Mapping[int, float] = field(default_factory=dict)  # model id -> metric value
    exclude: frozenset[int] = frozenset()
    compatibility: Compatibility | None = None
    reruns: frozenset[int] = frozenset()  # outputs of ``mlstore rerun``: never daily models


def rank_rows(rows: Sequence[ModelRow], request: RankRequest) -> Selection:
    """Chooses among ``rows`` as :func:`policies.select` would among their candidates.

    Returns:
        The Selection; skipped lists disqualified models (in id order) and then the
        qualifying models that lost (in rank order), each with its reason.
    """
    verdicts = CompatibilityVerdicts(request)
    skipped: list[Skipped] = []
    eligible: list[tuple] = []
    for row in rows:
        model_id = f"artifact:{row.id}"
        reason = (disqualify(row, request, blessed=row.id in request.blessed, has_metric=row.id in request.values)
                  or verdicts.reason(row))
        if reason:
            skipped.append(Skipped(model_id, reason))
        else:
            eligible.append((*recency(row), row))
    if not eligible:
        return Selection(request.label, None, f"no candidate qualifies for policy {request.label!r} "
                         f"({len(rows)} considered)", tuple(skipped))
    eligible.sort(reverse=True)
    if request.policy == "best":
        sign = -1.0 if higher_is_better(request) else 1.0
        eligible.sort(key=lambda e: sign * request.values[e[4].id])  # stable: ties keep recency order
    top = eligible[0][4]
    chosen = candidate(top, request, verdicts.parser, blessed=top.id in request.blessed,
                       value=request.values.get(top.id))
    skipped += _beaten(chosen, eligible[1:], request)
    return Selection(request.label, chosen, explanation(chosen, request), tuple(skipped))


def recency(row: ModelRow) -> tuple[bool, int, int, int]:
    """Sort key of the pure tie rule: (span, create_time, model id), no span lowest; sort descending."""
    return (row.span is not None, row.span or 0, row.create_time_ms, row.id)


def disqualify(row: ModelRow, request: RankRequest, *, blessed: bool, has_metric: bool) -> str | None:
    """Why ``row`` cannot be chosen at all (None when it qualifies, compatibility aside)."""
    if row.state != "LIVE":
        return f"state {row.state}: only LIVE models qualify"
    if row.id in request.reruns:
        return RERUN_REASON
    if row.id in request.exclude:
        return "excluded by the caller"
    if request.as_of is not None:
        if row.span is None:
            return "no span recorded"
        if row.span > request.as_of:
            return f"span {row.span} is after {request.as_of}"
    if request.policy == "latest_blessed" and not blessed:
        return "not blessed"
    if request.policy == "best" and not has_metric:
        return f"no metric {request.metric[1]!r} on slice {request.metric[0]!r}"
    return None


def _beaten(chosen: Candidate, losers: list[tuple], request: RankRequest) -> list[Skipped]:
    older = f"older than {chosen.model_id} by (span, create_time, id)"
    if request.policy != "best":
        return [Skipped(f"artifact:{e[4].id}", older) for e in losers]
    name, best = request.metric[1], request.values[int(chosen.model_id.split(":")[1])]
    tail = f" worse than {best:g} of {chosen.model_id}"
    out = []
    for e in losers:
        value = request.values[e[4].id]
        out.append(Skipped(f"artifact:{e[4].id}", older if value == best else f"{name} {value:g}{tail}"))
    return out


def explanation(chosen: Candidate, request: RankRequest) -> str:
    """The pure policy's own explanation, asked on the chosen candidate alone."""
    text = select([chosen], request.policy, metric=request.metric, higher_is_better=request.higher_is_better,
                  as_of=request.as_of).explanation
    if request.as_of is not None and request.policy != "as_of":
        text += f" (as of span {request.as_of})"
    return text


def higher_is_better(request: RankRequest) -> bool:
    """The direction of the request's metric (policy ``best``)."""
    if request.higher_is_better is not None:
        return request.higher_is_better
    return request.metric[1] not in LOWER_IS_BETTER


class PropertyParser:
    """Parses property JSON once per distinct text: most models share signature and layers."""

    def __init__(self):
        self._parsed: dict[tuple[str, str | None], Mapping] = {}

    def mapping(self, text: str | None) -> Mapping:
        if ("m", text) not in self._parsed:
            self._parsed["m", text] = MappingProxyType(parse_json(text) or {})
        return self._parsed["m", text]

    def layers(self, text: str | None) -> Mapping:
        if ("l", text) not in self._parsed:
            self._parsed["l", text] = MappingProxyType(layer_shapes(parse_json(text) or {}))
        return self._parsed["l", text]


class CompatibilityVerdicts:
    """Compatibility reasons from the pure check, computed once per distinct property set."""

    def __init__(self, request: RankRequest):
        self.request = request
        self.parser = PropertyParser()
        self._reasons: dict[tuple, str | None] = {}

    def reason(self, row: ModelRow) -> str | None:
        if self.request.compatibility is None:
            return None
        key = (row.spec_digest, row.input_signature, row.layers)
        if key not in self._reasons:
            probe = candidate(row, self.request, self.parser, blessed=False, value=None)
            verdict = select([probe], "latest", compatibility=self.request.compatibility)
            self._reasons[key] = verdict.skipped[0].reason if verdict.skipped else None
        return self._reasons[key]


def candidate(row: ModelRow, request: RankRequest, parser: PropertyParser, *, blessed: bool,
              value: float | None) -> Candidate:
    """The pure :class:`Candidate` of one model row (``value``: its metric value, if any)."""
    return Candidate(
        model_id=f"artifact:{row.id}", pipeline=request.pipeline, span=row.span, blessed=blessed,
        create_time=dt.datetime.fromtimestamp(row.create_time_ms / 1000, dt.timezone.utc),
        metrics={request.metric: value} if request.metric and value is not None else _EMPTY,
        raw_input_signature=parser.mapping(row.input_signature), transform_spec_digest=row.spec_digest,
        layer_shapes=parser.layers(row.layers))


def parse_json(text: str | None):
    """JSON property text to a value; None for absent or malformed text.

    A hand-logged model with a malformed property counts as not having it (and then
    fails any compatibility check that needs it, with a reason).
    """
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def layer_shapes(layers) -> dict[str, tuple[tuple[int, ...], ...]]:
    """``{layer: [[shape], ...]}`` as recorded to ``{layer: ((shape), ...)}``; {} when malformed."""
    try:
        return {str(name): tuple(tuple(int(d) for d in shape) for shape in shapes)
                for name, shapes in dict(layers).items()}
    except (TypeError, ValueError):
        return {}
