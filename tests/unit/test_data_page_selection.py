"""The Data page's pure selection rules (dashboard/statistics.py) on in-memory records."""

from __future__ import annotations

from mlstore._dashboard.statistics import Recorded, daily, default_comparison
from mlstore.types import Artifact


def _entry(artifact_id: int, span: int | None, readable: bool = True) -> Recorded:
    artifact = Artifact(artifact_id, "ExampleStatistics", f"/s/{artifact_id}", None, None, "LIVE", "p", span, 0)
    return Recorded(artifact, {"train": object()} if readable else {}, None if readable else "unreadable")


def _ids(entries) -> list[int]:
    return [e.artifact.id for e in entries]


def test_daily_keeps_the_newest_readable_non_rerun_of_each_span():
    entries = [_entry(1, 20130101), _entry(2, 20130102), _entry(3, 20130102), _entry(4, 20130102),
               _entry(5, 20130103, readable=False), _entry(6, None), _entry(7, 20130104)]
    reruns = {4: 99, 7: 98}  # 4 re-ran day 2 (3 is the daily one); day 4 has only a rerun
    assert _ids(daily(entries, reruns)) == [1, 3, 7]


def test_default_comparison_is_the_previous_span_else_the_one_logged_before():
    entries = [_entry(1, 20130101), _entry(2, 20130102), _entry(3, 20130102), _entry(4, 20130103)]
    by_id = {e.artifact.id: e for e in entries}
    assert default_comparison(entries, by_id[4], {}) == 3
    assert default_comparison(entries, by_id[4], {3: 50}) == 2  # a rerun only when nothing else
    assert default_comparison(entries, by_id[3], {}) == 1  # same span is not "the previous span"
    assert default_comparison(entries, by_id[1], {}) is None
    tfx = [_entry(2, 0), _entry(18, 0), _entry(34, 0)]  # TFX's StatisticsGen records span 0
    assert default_comparison(tfx, tfx[2], {}) == 18
    assert default_comparison(tfx, tfx[0], {}) is None
