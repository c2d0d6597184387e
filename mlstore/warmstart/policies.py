"""Pure warm-start base selection over in-memory candidates.

Policies:

* ``latest``: newest candidate.
* ``latest_blessed``: newest blessed candidate.
* ``best``: best value of ``metric`` on ``slice``; higher is better unless the
  metric name is in :data:`LOWER_IS_BETTER` (or ``higher_is_better`` is given).
* ``as_of``: newest candidate trained on data no later than ``as_of`` (an int
  compares with ``span``, a ``date`` with ``data_date``).

"Newest" and every tie use the rule: (span, create_time, model_id) descending,
a missing span sorting lowest. Candidates from another ``pipeline`` (when
given) or failing the optional :class:`Compatibility` are skipped with a reason.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mlstore.errors import CheckFailed, InvalidArgument

POLICIES = ("latest", "latest_blessed", "best", "as_of")
#: Metrics where a smaller value is better.
LOWER_IS_BETTER = frozenset({"loss", "log_loss", "binary_crossentropy", "mse", "mean_squared_error",
                             "rmse", "mae", "mean_absolute_error", "error_rate",
                             "expected_calibration_error", "brier_score"})


@dataclass(frozen=True)
class Candidate:
    """A trained model that could serve as warm-start base."""

    model_id: str
    pipeline: str
    create_time: dt.datetime
    span: int | None = None
    data_date: dt.date | None = None
    blessed: bool = False
    metrics: Mapping[tuple[str, str], float] = field(default_factory=dict)
    raw_input_signature: Mapping[str, str] = field(default_factory=dict)
    transform_spec_digest: str | None = None
    layer_shapes: Mapping[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Compatibility:
    """What a base must share with the new model (None = not checked).

    ``layer_shapes``: each listed layer must exist in the candidate with the same
    weight shapes; ``layer_patterns`` restricts the check to matching names.
    """

    raw_input_signature: Mapping[str, str] | None = None
    transform_spec_digest: str | None = None
    layer_shapes: Mapping[str, tuple[tuple[int, ...], ...]] | None = None
    layer_patterns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Skipped:
    model_id: str
    reason: str


@dataclass(frozen=True)
class Selection:
    """The outcome: chosen candidate (None if none qualifies), why, and what was skipped."""

    policy: str
    chosen: Candidate | None
    explanation: str
    skipped: tuple[Skipped, ...]

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    def require(self) -> Candidate:
        """Return the chosen candidate.

        Raises:
            CheckFailed: no candidate qualified (message lists every reason).
        """
        if self.chosen is None:
            raise CheckFailed(self.explanation + "".join(f"\n  {s.model_id}: {s.reason}" for s in self.skipped))
        return self.chosen


def select(candidates: Sequence[Candidate], policy: str, *, pipeline: str | None = None,
           metric: tuple[str, str] | None = None, higher_is_better: bool | None = None,
           as_of: int | dt.date | None = None, compatibility: Compatibility | None = None) -> Selection:
    """Choose a warm-start base.

    Args:
        candidates: models to choose from.
        policy: one of :data:`POLICIES`.
        pipeline: if given, only candidates of this pipeline qualify.
        metric: (slice, metric name), required by ``best``.
        higher_is_better: overrides the direction implied by :data:`LOWER_IS_BETTER`.
        as_of: required by ``as_of``: span (int) or data date.
        compatibility: optional compatibility requirement.

    Returns:
        A :class:`Selection`; ``chosen`` is None when nothing qualifies.

    Raises:
        InvalidArgument: unknown policy or missing policy argument.
    """
    _check_args(policy, metric, as_of)
    skipped: list[Skipped] = []
    eligible = []
    for cand in candidates:
        reason = _disqualify(cand, policy, pipeline, metric, as_of, compatibility)
        if reason:
            skipped.append(Skipped(cand.model_id, reason))
        else:
            eligible.append(cand)
    if not eligible:
        return Selection(policy, None, f"no candidate qualifies for policy {policy!r} "
                         f"({len(candidates)} considered)", tuple(skipped))
    ranked = sorted(eligible, key=_recency, reverse=True)
    if policy == "best":
        higher = metric[1] not in LOWER_IS_BETTER if higher_is_better is None else higher_is_better
        # Stable sort: equal metric values keep the recency order (the tie rule).
        ranked = sorted(ranked, key=lambda c: c.metrics[metric], reverse=higher)
    chosen, rest = ranked[0], ranked[1:]
    skipped.extend(Skipped(c.model_id, _beaten(policy, chosen, c, metric)) for c in rest)
    return Selection(policy, chosen, _explain(policy, chosen, metric, as_of, higher_is_better), tuple(skipped))


def _check_args(policy, metric, as_of) -> None:
    if policy not in POLICIES:
        raise InvalidArgument(f"unknown warm-start policy {policy!r}; choose one of {POLICIES}")
    if policy == "best" and metric is None:
        raise InvalidArgument("policy 'best' needs metric=(slice, metric name)")
    if policy == "as_of" and as_of is None:
        raise InvalidArgument("policy 'as_of' needs as_of= a span (int) or a date")


def _recency(c: Candidate):
    # Tie rule: (span, create_time, model id) descending; missing span sorts lowest.
    return (c.span is not None, c.span if c.span is not None else 0, c.create_time, _id_order(c.model_id))


def _id_order(model_id: str) -> tuple[int, str]:
    """Numeric order for ``artifact:<n>`` ids (``artifact:10`` is newer than ``artifact:9``)."""
    tail = model_id.rsplit(":", 1)[-1]
    return (int(tail), "") if tail.isdigit() else (-1, model_id)


def _disqualify(c: Candidate, policy, pipeline, metric, as_of, compat) -> str | None:
    if pipeline is not None and c.pipeline != pipeline:
        return f"pipeline {c.pipeline!r} is not {pipeline!r}"
    if policy == "latest_blessed" and not c.blessed:
        return "not blessed"
    if policy == "best" and metric not in c.metrics:
        return f"no metric {metric[1]!r} on slice {metric[0]!r}"
    if policy == "as_of":
        reason = _after_as_of(c, as_of)
        if reason:
            return reason
    return _incompatible(c, compat) if compat else None


def _after_as_of(c: Candidate, as_of) -> str | None:
    if isinstance(as_of, dt.date):
        if c.data_date is None:
            return "no data date recorded"
        return f"data date {c.data_date} is after {as_of}" if c.data_date > as_of else None
    if c.span is None:
        return "no span recorded"
    return f"span {c.span} is after {as_of}" if c.span > as_of else None


def _incompatible(c: Candidate, compat: Compatibility) -> str | None:
    if compat.raw_input_signature is not None and dict(c.raw_input_signature) != dict(compat.raw_input_signature):
        return "raw input signature differs"
    if compat.transform_spec_digest is not None and c.transform_spec_digest != compat.transform_spec_digest:
        return f"transform spec digest {str(c.transform_spec_digest)[:12]} differs"
    for name, shapes in (compat.layer_shapes or {}).items():
        if compat.layer_patterns and not any(fnmatch.fnmatchcase(name, p) for p in compat.layer_patterns):
            continue
        if name not in c.layer_shapes:
            return f"layer {name!r} missing"
        if tuple(map(tuple, c.layer_shapes[name])) != tuple(map(tuple, shapes)):
            return f"layer {name!r} shapes {list(c.layer_shapes[name])} differ from {list(shapes)}"
    return None


def _beaten(policy, chosen: Candidate, c: Candidate, metric) -> str:
    if policy == "best" and c.metrics[metric] != chosen.metrics[metric]:
        return f"{metric[1]} {c.metrics[metric]:g} worse than {chosen.metrics[metric]:g} of {chosen.model_id}"
    return f"older than {chosen.model_id} by (span, create_time, id)"


def _explain(policy, chosen: Candidate, metric, as_of, higher_is_better) -> str:
    if policy == "best":
        return (f"chose {chosen.model_id}: best {metric[1]} on slice {metric[0]!r} = "
                f"{chosen.metrics[metric]:g}")
    if policy == "as_of":
        return f"chose {chosen.model_id}: newest trained on data no later than {as_of}"
    what = "newest blessed" if policy == "latest_blessed" else "newest"
    return f"chose {chosen.model_id}: {what} candidate (span {chosen.span}, created {chosen.create_time})"
