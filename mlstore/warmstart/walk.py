"""The fast selection: walk a pipeline's models in the policy's rank order, stop at the first that qualifies.

Pages come from indexed queries ordered as the policy ranks (newest first, or best
metric value first), growing 32, 128, 512, ... rows, so the usual answer reads one
short page instead of every model. The result lists every model that ranks above the
chosen one with the reason it was skipped; models ranked below it (they lost to it)
are counted, not listed. When nothing qualifies, :func:`walk` returns None and the
caller explains every model in bulk (:func:`ranking.rank_rows`).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.engine import Connection

from mlstore.index import model_queries as mq
from mlstore.index.model_queries import ModelRow
from mlstore.warmstart import ranking
from mlstore.warmstart.policies import Selection, Skipped

FIRST_PAGE = 32
MAX_PAGE = 4096


def walk(connection: Connection, request: ranking.RankRequest) -> Selection | None:
    """The Selection of the first qualifying model in rank order, or None when none qualifies.

    Outputs of ``mlstore rerun`` are looked up among each page's rows only (besides
    ``request.reruns``), so the usual answer never reads every model of the pipeline.
    """
    verdicts = ranking.CompatibilityVerdicts(request)
    skipped: list[Skipped] = []
    seen: set[int] = set()
    offset, size = 0, FIRST_PAGE
    while True:
        page = _page(connection, request, size, offset)
        if not page:
            return None
        offset += len(page)
        rows = _current(connection, request, page, seen)
        reruns = mq.rerun_model_ids(connection, request.pipeline, among=[r.id for r in rows if r.state == "LIVE"])
        if reruns:
            request = dataclasses.replace(request, reruns=request.reruns | reruns)
        blessed = mq.blessed_among(connection, [r.id for r in rows]) if request.policy == "latest_blessed" else set()
        for row in _in_rank_order(rows, request):
            reason = (ranking.disqualify(row, request, blessed=row.id in blessed, has_metric=True)
                      or verdicts.reason(row))
            if reason:
                skipped.append(Skipped(f"artifact:{row.id}", reason))
                continue
            chosen = ranking.candidate(row, request, verdicts.parser, blessed=row.id in blessed, value=row.value)
            return Selection(request.label, chosen, _explain(connection, request, chosen, skipped), tuple(skipped))
        size = min(4 * size, MAX_PAGE)


def _page(connection: Connection, request: ranking.RankRequest, size: int, offset: int) -> list[ModelRow]:
    with_properties = request.compatibility is not None
    if request.policy == "best":
        slice_key, metric = request.metric
        return mq.best_model_rows(connection, request.pipeline, metric, slice_key,
                                  higher=ranking.higher_is_better(request), as_of=request.as_of,
                                  with_properties=with_properties, limit=size, offset=offset)
    return mq.newest_model_rows(connection, request.pipeline, as_of=request.as_of,
                                with_properties=with_properties, limit=size, offset=offset)


def _current(connection: Connection, request: ranking.RankRequest, page: list[ModelRow],
             seen: set[int]) -> list[ModelRow]:
    """Drops rows already walked and, for ``best``, values from an older evaluation of the model.

    Why: a model evaluated twice has a metric row per evaluation, and only its latest
    evaluation counts; its older (maybe better) value must not win the walk.
    """
    if request.policy == "best":
        slice_key, metric = request.metric
        latest = mq.latest_evaluation_ids(connection, [r.id for r in page], metric, slice_key)
        page = [r for r in page if latest.get(r.id) == r.evaluation_id]
    fresh = [r for r in page if r.id not in seen]
    seen.update(r.id for r in fresh)
    return fresh


def _in_rank_order(rows: list[ModelRow], request: ranking.RankRequest) -> list[ModelRow]:
    # SQL sorts ties by numeric id; the pure rule compares "artifact:N" strings. Re-sort
    # each page with the pure key so both paths agree (ties need equal span and create ms).
    ordered = sorted(rows, key=ranking.recency, reverse=True)
    if request.policy == "best":
        sign = -1.0 if ranking.higher_is_better(request) else 1.0
        ordered.sort(key=lambda r: sign * r.value)
    return ordered


def _explain(connection: Connection, request: ranking.RankRequest, chosen, skipped: list[Skipped]) -> str:
    text = ranking.explanation(chosen, request)
    others = mq.count_models(connection, request.pipeline) - len(skipped) - 1
    if others > 0:
        text += f"; {others} other models rank lower or are filtered out (not listed; explain='all' lists them)"
    return text
