"""Metric rows in two tiers (recent, then folded into the series index), on every backend.

Every query must see each row exactly once, before and after a fold; concurrent folds
and writes must neither lose nor duplicate a row.
"""

import threading

import pytest
from sqlalchemy import func, select, table
from sqlalchemy.exc import OperationalError

from mlstore.index import metric_tiers, migrate
from mlstore.index import model_queries as mq
from mlstore.index import tables as t
from mlstore.index.sync import index_engine
from tests.grpc_support import FIRST_SPAN, SLICES, build_days, day_metrics

ROWS_PER_DAY = sum(len(metrics) for metrics in day_metrics(1).values())


def tier_counts(store) -> tuple[int, int]:
    with store.engine.connect() as c:
        return (c.scalar(select(func.count()).select_from(t.metric)),
                c.scalar(select(func.count()).select_from(t.metric_recent)))


def expected_series(days: int, metric: str, slice_key: str) -> list[tuple[int, float]]:
    return [(FIRST_SPAN + day, day_metrics(day)[slice_key][metric]) for day in range(1, days + 1)]


def test_queries_see_every_row_once_across_folds(store, monkeypatch):
    monkeypatch.setattr(metric_tiers, "FOLD_ROWS", 2 * ROWS_PER_DAY + 1)  # a fold every third day
    models: list[int] = []
    for days in range(1, 8):
        models += build_days(store, 1, first_day=days, base_model=models[-1] if models else None)
        folded, recent = tier_counts(store)
        assert folded + recent == days * ROWS_PER_DAY
        assert recent < metric_tiers.FOLD_ROWS and folded == (days // 3) * 3 * ROWS_PER_DAY
        for slice_key in SLICES:
            series = store.metric_series("daily", "auc_roc", slice_key)
            assert [(p.span, p.value) for p in series] == expected_series(days, "auc_roc", slice_key)
            assert [p.model_id for p in series] == models
        assert store.metric_names("daily") == ["auc_roc", "example_count", "log_loss"]
        assert store.slices("daily") == sorted(SLICES) == store.slices("daily", metric="log_loss")
        assert store.metric_names("other") == [] == store.slices("daily", metric="no_such_metric")
        with store.engine.connect() as c:
            by_model = mq.metric_by_model(c, "daily", "auc_roc", "carrier=AA")
            best = mq.best_model_rows(c, "daily", "auc_roc", "carrier=AA", higher=True, limit=3)
            latest = mq.latest_evaluation_ids(c, models, "auc_roc", "Overall")
        values = {m: day_metrics(day)["carrier=AA"]["auc_roc"] for day, m in enumerate(models, start=1)}
        assert by_model == values
        ranked = sorted(values, key=lambda m: (values[m], m), reverse=True)[:3]
        assert [row.id for row in best] == ranked and [row.value for row in best] == [values[m] for m in ranked]
        assert sorted(latest) == models
        evaluation = store.evaluation_metrics(f"artifact:{latest[models[-1]]}")
        assert evaluation == day_metrics(days)


def test_concurrent_folds_and_writes_neither_lose_nor_duplicate_rows(store, monkeypatch):
    monkeypatch.setattr(metric_tiers, "FOLD_ROWS", 10**9)  # fold only when the test says so
    build_days(store, 6)
    engines = [index_engine(store.location) for _ in range(3)]
    start, moved = threading.Barrier(4), []

    def fold(engine):
        start.wait()
        moved.append(metric_tiers.fold(engine))

    def write():
        start.wait()
        build_days(store, 2, pipeline="other")

    threads = [threading.Thread(target=fold, args=(e,)) for e in engines] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    folded, recent = tier_counts(store)
    assert folded + recent == 8 * ROWS_PER_DAY
    assert sum(moved) == folded >= 6 * ROWS_PER_DAY
    assert metric_tiers.fold(store.engine) == recent
    assert tier_counts(store) == (8 * ROWS_PER_DAY, 0)
    assert [p.value for p in store.metric_series("daily", "log_loss", "Overall")] == [
        v for _, v in expected_series(6, "log_loss", "Overall")]


def test_reindex_and_migrations_keep_both_tiers(store, monkeypatch):
    monkeypatch.setattr(metric_tiers, "FOLD_ROWS", 2 * ROWS_PER_DAY)
    build_days(store, 3)
    assert tier_counts(store) == (2 * ROWS_PER_DAY, ROWS_PER_DAY)
    before = store.metric_series("daily", "auc_roc", "Overall")
    store.reindex()
    assert sum(tier_counts(store)) == 3 * ROWS_PER_DAY
    assert store.metric_series("daily", "auc_roc", "Overall") == before
    migrate.downgrade(store.engine, "0004")  # the recent tier folds back into the one table
    with store.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(table("mlstore_metric"))) == 3 * ROWS_PER_DAY
    migrate.upgrade(store.engine)
    assert tier_counts(store) == (3 * ROWS_PER_DAY, 0)
    after = store.metric_series("daily", "auc_roc", "Overall")
    assert [p[:3] for p in after] == [p[:3] for p in before]
    # On MariaDB 0004's FLOAT is single precision: the round trip through it keeps ~7 digits.
    assert [p.value for p in after] == pytest.approx([p.value for p in before], rel=1e-6)


def test_a_failed_fold_never_fails_the_committed_write(sqlite_store, monkeypatch):
    monkeypatch.setattr(metric_tiers, "FOLD_ROWS", ROWS_PER_DAY)  # every write folds

    def locked(engine):
        raise OperationalError("INSERT INTO mlstore_metric ...", {}, Exception("database is locked"))

    monkeypatch.setattr(metric_tiers, "fold", locked)
    models = build_days(sqlite_store, 2)  # would raise if the fold's error escaped the write
    assert tier_counts(sqlite_store) == (0, 2 * ROWS_PER_DAY)
    assert [p.model_id for p in sqlite_store.metric_series("daily", "auc_roc", "Overall")] == models
    monkeypatch.undo()
    monkeypatch.setattr(metric_tiers, "FOLD_ROWS", ROWS_PER_DAY)
    build_days(sqlite_store, 1, first_day=3, base_model=models[-1])
    assert tier_counts(sqlite_store) == (3 * ROWS_PER_DAY, 0)
