"""Warm-start selection over a store: load a pipeline's models, then apply the pure policy.

The decision follows :func:`mlstore.warmstart.policies.select`. This module parses
policy strings and picks the path: :mod:`.walk` reads models page by page in rank
order and stops at the first that qualifies (the default, milliseconds at 10,000
models); :mod:`.ranking` reads every model with three bulk index queries (models,
blessed ids, one metric) and explains each. :func:`candidates_from_store` gives the
same models as pure :class:`Candidate` records.

>>> selection = select_warm_start(store, "flights", "best:auc@carrier=AA", as_of=20130105)
>>> base = selection.require()            # CheckFailed (exit 1) when nothing qualifies

(Not named ``select.py``: a submodule ``select`` would replace the function
``mlstore.warmstart.select`` on the package as soon as it is imported.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlstore import errors
from mlstore.index import model_queries as mq
from mlstore.warmstart import ranking
from mlstore.warmstart.policies import Candidate, Compatibility, Selection
from mlstore.warmstart.walk import walk

#: Policy strings accepted by :func:`select_warm_start` (``best`` takes ``:METRIC[@SLICE]``).
POLICY_HELP = "latest | latest_blessed | best:METRIC[@SLICE] | as_of (with as_of=SPAN)"


@dataclass(frozen=True)
class CompatibilityRequirement:
    """What the base model must share with the model about to be trained (None = not checked).

    ``layers`` maps layer name to its weight shapes; ``layer_patterns`` (globs)
    restricts the layer check to matching names, e.g. ``("embedding_*",)``.
    """

    spec_digest: str | None = None
    input_signature: Mapping[str, str] | None = None
    layers: Mapping[str, Sequence[Sequence[int]]] | None = None
    layer_patterns: tuple[str, ...] | None = None

    def to_compatibility(self) -> Compatibility:
        layers = None if self.layers is None else ranking.layer_shapes(self.layers)
        return Compatibility(raw_input_signature=self.input_signature, transform_spec_digest=self.spec_digest,
                             layer_shapes=layers, layer_patterns=self.layer_patterns)


@dataclass(frozen=True)
class PolicySpec:
    """A parsed policy string: the pure policy name and its (slice, metric) if any."""

    name: str
    metric: tuple[str, str] | None = None


def parse_policy(policy: str, *, metric: str | None = None, slice: str = "Overall") -> PolicySpec:
    """Parses ``latest``, ``latest_blessed``, ``as_of``, ``best`` or ``best:METRIC[@SLICE]``.

    Args:
        policy: the policy string.
        metric: metric for a bare ``best`` (or the same as in the string).
        slice: slice for ``best`` when the string names none.

    Raises:
        InvalidArgument: unknown policy, ``best`` without a metric, conflicting metric.
    """
    name, _, argument = policy.strip().partition(":")
    if name not in ("latest", "latest_blessed", "best", "as_of"):
        raise errors.InvalidArgument(f"unknown warm-start policy {policy!r}; use {POLICY_HELP}")
    if name != "best":
        if argument:
            raise errors.InvalidArgument(f"policy {name!r} takes no ':' argument (got {policy!r}); use {POLICY_HELP}")
        return PolicySpec(name)
    metric_name, _, slice_name = argument.partition("@")
    if metric and metric_name and metric != metric_name:
        raise errors.InvalidArgument(f"policy {policy!r} names metric {metric_name!r} but metric={metric!r} given")
    metric_name = metric_name or metric
    if not metric_name:
        raise errors.InvalidArgument(f"policy 'best' needs a metric: best:METRIC[@SLICE] (got {policy!r})")
    return PolicySpec("best", (slice_name or slice or "Overall", metric_name))


def candidates_from_store(store, pipeline: str, *, metric: str | None = None, slice: str | None = None,
                          with_properties: bool = True) -> list[Candidate]:
    """The LIVE Model artifacts of ``pipeline`` as pure warm-start candidates.

    Three bulk index queries: models, blessed model ids, and (when ``metric`` is
    given) each model's newest value of ``metric`` on ``slice``.

    Args:
        store: an open local :class:`mlstore.store.Store` (a remote store's
            :meth:`~mlstore.store_api.StoreAPI.select_warm_start` asks its server).
        pipeline: pipeline name.
        metric: metric to attach to each candidate (key ``(slice, metric)``).
        slice: slice of ``metric``; default "Overall".
        with_properties: also read spec digest, input signature and layers.

    Returns:
        Candidates in model id order (models that are not LIVE, and outputs of ``mlstore
        rerun``, are left out).
    """
    key = (slice or "Overall", metric) if metric else None
    rows, request = _load(store, pipeline, PolicySpec("best" if key else "latest", key), with_properties)
    parser = ranking.PropertyParser()
    return [ranking.candidate(row, request, parser, blessed=row.id in request.blessed,
                              value=request.values.get(row.id)) for row in rows
            if row.state == "LIVE" and row.id not in request.reruns]


def select_warm_start(store, pipeline: str, policy: str = "latest_blessed", *, metric: str | None = None,
                      slice: str = "Overall", as_of: int | None = None,
                      require_compatible: CompatibilityRequirement | None = None,
                      higher_is_better: bool | None = None, exclude: Sequence[int] = (),
                      explain: str = "ranked") -> Selection:
    """Chooses the base model for warm-starting the next training run of ``pipeline``.

    The choice, its explanation and each listed reason are those of
    :func:`mlstore.warmstart.policies.select` over :func:`candidates_from_store`
    (a test holds them together), computed on index rows instead.

    Args:
        store: an open local store.
        pipeline: pipeline whose models are candidates.
        policy: ``latest``, ``latest_blessed``, ``best:METRIC[@SLICE]`` (or ``best`` with
            ``metric``), or ``as_of``.
        metric, slice: metric for a bare ``best``; slice default "Overall".
        as_of: only models trained on data no later than this span (YYYYMMDD); combines
            with every policy ("latest blessed as of ...").
        require_compatible: skip candidates that differ in transform spec, raw input
            signature or layer shapes.
        higher_is_better: override the direction of ``metric`` for ``best``.
        exclude: model ids never to choose (e.g. the model being trained).
        explain: "ranked" (fast: walks models in rank order and lists the skipped ones
            ranked above the choice) or "all" (reads every model and lists each with its
            reason). When nothing qualifies, every model is explained either way.

    Returns:
        A :class:`Selection`: the chosen :class:`Candidate` (``model_id`` "artifact:N"),
        the explanation, and skipped candidates with their reasons (not LIVE, excluded,
        after ``as_of``, failing the policy or the requirement, or outranked).

    Raises:
        InvalidArgument: malformed policy, ``as_of`` or ``explain``.
        NotFound: nothing is recorded for ``pipeline``.
    """
    spec = parse_policy(policy, metric=metric, slice=slice)
    _check_as_of(spec, as_of)
    if explain not in ("ranked", "all"):
        raise errors.InvalidArgument(f"explain must be 'ranked' or 'all', not {explain!r}")
    if spec.name == "latest" and as_of is not None:
        spec = PolicySpec("as_of")  # "latest as of" is exactly the pure as_of policy
    request = ranking.RankRequest(
        pipeline=pipeline, policy=spec.name, label=policy, metric=spec.metric, as_of=as_of,
        higher_is_better=higher_is_better, exclude=frozenset(exclude),
        compatibility=require_compatible.to_compatibility() if require_compatible else None)
    if explain == "ranked":
        with store.read_index() as connection:
            selection = walk(connection, request)  # looks reruns up page by page
        if selection is not None:
            return selection
    rows, loaded = _load(store, pipeline, spec, require_compatible is not None)
    return ranking.rank_rows(rows, dataclasses.replace(request, blessed=loaded.blessed, values=loaded.values,
                                                       reruns=loaded.reruns))


def requirement_of_model(store, ref, *, layer_patterns: tuple[str, ...] | None = None) -> CompatibilityRequirement:
    """The compatibility requirement "a base the trainer can warm-start model ``ref``'s successor from".

    That is what the trainer itself requires: the same transform spec and raw inputs.
    Layer shapes are not compared by default, because the trainer does not need them
    to match: it remaps vocabulary layers (``embedding_*``) token by token and skips a
    layer whose shapes differ (e.g. a wide layer one vocabulary row larger), so
    rejecting such a base would disagree with the model the trainer really warm-started.
    With ``layer_patterns`` (CLI ``--layers``), the matching layers must have the same
    shapes: for a caller that needs those layers copied, not skipped.

    Raises:
        NotFound: no such artifact. InvalidArgument: ``ref`` is not a Model.
    """
    artifact = store.artifact(ref)
    with store.read_index() as connection:
        row = mq.model_row(connection, artifact.id)
    if row is None:
        raise errors.InvalidArgument(f"{artifact.node_id} is a {artifact.type}, not a Model")
    return CompatibilityRequirement(spec_digest=row.spec_digest,
                                    input_signature=ranking.parse_json(row.input_signature),
                                    layers=ranking.parse_json(row.layers) if layer_patterns else None,
                                    layer_patterns=layer_patterns)


def _load(store, pipeline: str, spec: PolicySpec, with_properties: bool) -> tuple[list, ranking.RankRequest]:
    """The pipeline's Model rows and a request holding blessed ids, metric values and the
    rows that are outputs of ``mlstore rerun``."""
    with store.read_index() as connection:
        rows = mq.model_rows(connection, pipeline, with_properties=with_properties)
        reruns = mq.rerun_model_ids(connection, pipeline, among=[r.id for r in rows if r.state == "LIVE"])
        blessed = mq.blessed_model_ids(connection, pipeline)
        values = mq.metric_by_model(connection, pipeline, spec.metric[1], spec.metric[0]) if spec.metric else {}
        if not rows and not mq.pipeline_exists(connection, pipeline):
            raise errors.NotFound(f"no pipeline {pipeline!r} in {store.uri}; `mlstore ls` lists what is recorded")
    request = ranking.RankRequest(pipeline=pipeline, policy=spec.name, label=spec.name, metric=spec.metric,
                                  blessed=blessed, values=values, reruns=reruns)
    return rows, request


def _check_as_of(spec: PolicySpec, as_of) -> None:
    if as_of is None:
        if spec.name == "as_of":
            raise errors.InvalidArgument("policy 'as_of' needs as_of=SPAN (YYYYMMDD)")
        return
    if isinstance(as_of, bool) or not isinstance(as_of, int) or not 10000101 <= as_of <= 99991231:
        raise errors.InvalidArgument(f"as_of must be a span YYYYMMDD such as 20130105, not {as_of!r}")


__all__ = ["CompatibilityRequirement", "POLICY_HELP", "PolicySpec", "candidates_from_store", "parse_policy",
           "requirement_of_model", "select_warm_start"]
