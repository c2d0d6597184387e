"""Warm-start base selection on in-memory candidates."""

import datetime as dt

import pytest

from mlstore.errors import CheckFailed, InvalidArgument
from mlstore.warmstart.policies import Candidate, Compatibility, select

T0 = dt.datetime(2024, 1, 1, 12, 0)
SIG = {"distance": "float32", "carrier": "string"}
LAYERS = {"embedding_carrier_id": ((15, 4),), "deep_dense_0": ((9, 8), (8,))}


def cand(mid, span, hours=0, blessed=False, auc=None, loss=None, pipeline="flights", **kw):
    metrics = {}
    if auc is not None:
        metrics[("overall", "auc")] = auc
    if loss is not None:
        metrics[("overall", "log_loss")] = loss
    return Candidate(model_id=mid, pipeline=pipeline, create_time=T0 + dt.timedelta(hours=hours), span=span,
                     data_date=dt.date(2013, 1, span) if span else None, blessed=blessed, metrics=metrics,
                     raw_input_signature=kw.get("sig", SIG), transform_spec_digest=kw.get("digest", "d1"),
                     layer_shapes=kw.get("layers", LAYERS))


CANDS = [
    cand("m1", 1, auc=0.70, loss=0.50, blessed=True),
    cand("m2", 2, auc=0.80, loss=0.40),
    cand("m3", 3, auc=0.75, loss=0.45, blessed=True),
    cand("m4", 4, auc=0.60, loss=0.60, pipeline="other"),
]


def test_latest_and_tie_rule():
    sel = select(CANDS, "latest")
    assert sel.chosen.model_id == "m4" and sel.ok
    tied = [cand("a", 5, hours=1), cand("b", 5, hours=1), cand("c", 5, hours=0)]
    assert select(tied, "latest").chosen.model_id == "b"  # same span and time: id descending
    assert select(tied[1:] + [cand("z", None, hours=9)], "latest").chosen.model_id == "b"  # no span sorts lowest


def test_pipeline_filter_and_skip_reasons():
    sel = select(CANDS, "latest", pipeline="flights")
    assert sel.chosen.model_id == "m3"
    reasons = {s.model_id: s.reason for s in sel.skipped}
    assert "pipeline 'other'" in reasons["m4"] and "older than m3" in reasons["m1"]
    assert len(sel.skipped) == 3


def test_latest_blessed():
    sel = select(CANDS, "latest_blessed")
    assert sel.chosen.model_id == "m3"
    assert {s.model_id: s.reason for s in sel.skipped}["m2"] == "not blessed"


def test_best_higher_and_lower_is_better():
    assert select(CANDS, "best", metric=("overall", "auc")).chosen.model_id == "m2"
    assert select(CANDS, "best", metric=("overall", "log_loss")).chosen.model_id == "m2"  # lower is better
    assert select(CANDS, "best", metric=("overall", "log_loss"), pipeline="other").chosen.model_id == "m4"
    assert select(CANDS, "best", metric=("overall", "auc"), higher_is_better=False).chosen.model_id == "m4"
    sel = select(CANDS + [cand("m5", 5)], "best", metric=("overall", "auc"))
    assert "no metric 'auc'" in {s.model_id: s.reason for s in sel.skipped}["m5"]
    ties = [cand("x", 1, auc=0.9), cand("y", 2, auc=0.9)]
    assert select(ties, "best", metric=("overall", "auc")).chosen.model_id == "y"


def test_as_of_span_and_date():
    assert select(CANDS, "as_of", as_of=2).chosen.model_id == "m2"
    sel = select(CANDS, "as_of", as_of=dt.date(2013, 1, 3))
    assert sel.chosen.model_id == "m3"
    assert "is after" in {s.model_id: s.reason for s in sel.skipped}["m4"]


def test_compatibility_requirements():
    cands = [cand("ok", 1), cand("sig", 4, sig={"distance": "float32"}), cand("spec", 3, digest="d2"),
             cand("shape", 2, layers={"embedding_carrier_id": ((16, 4),), "deep_dense_0": ((9, 8), (8,))})]
    compat = Compatibility(raw_input_signature=SIG, transform_spec_digest="d1", layer_shapes=LAYERS)
    sel = select(cands, "latest", compatibility=compat)
    assert sel.chosen.model_id == "ok"
    reasons = {s.model_id: s.reason for s in sel.skipped}
    assert reasons["sig"] == "raw input signature differs"
    assert "transform spec digest" in reasons["spec"]
    assert "embedding_carrier_id" in reasons["shape"]
    relaxed = Compatibility(layer_shapes=LAYERS, layer_patterns=("deep_*",))
    assert select(cands, "latest", compatibility=relaxed).chosen.model_id == "sig"


def test_no_candidate_qualifies():
    sel = select(CANDS[:2], "latest_blessed", pipeline="other")
    assert not sel.ok and sel.chosen is None and "no candidate qualifies" in sel.explanation
    with pytest.raises(CheckFailed) as err:
        sel.require()
    assert "m1: pipeline" in str(err.value) and err.value.exit_code == 1
    with pytest.raises(InvalidArgument):
        select(CANDS, "best")
    with pytest.raises(InvalidArgument):
        select(CANDS, "newest")


def test_tie_break_compares_ids_as_numbers():
    import datetime as _dt

    from mlstore.warmstart.policies import Candidate as _C
    from mlstore.warmstart.policies import select as _select

    t = _dt.datetime(2013, 1, 2, tzinfo=_dt.timezone.utc)
    candidates = [_C("artifact:9", "p", t, span=20130101), _C("artifact:10", "p", t, span=20130101)]
    assert _select(candidates, "latest").chosen.model_id == "artifact:10"
