"""Warm-start selection end to end through the store: policies, as_of, compatibility, CLI exit codes, gRPC."""

from __future__ import annotations

import json

import pytest

import mlstore
from mlstore import errors
from mlstore.cli import cli
from mlstore.cli._common import run_cli
from mlstore.store import OutputArtifact
from mlstore.warmstart import Compatibility, select
from mlstore.warmstart.ranking import RERUN_REASON
from mlstore.warmstart.from_store import (CompatibilityRequirement, candidates_from_store, requirement_of_model,
                                          select_warm_start)
from tests.grpc_support import serve

P = "daily"
SIGNATURE = {"carrier": "string", "distance": "float32"}
LAYERS = {"embedding_carrier": [[12, 4]], "deep_dense_0": [[5, 8], [8]], "deep_logit": [[8, 1], [1]]}


class Log:
    """Logs Trainer → Model and Evaluator → ModelEvaluation + ModelBlessing records, sharing one blob."""

    def __init__(self, store, tmp_path):
        payload = tmp_path / "payload.txt"
        payload.write_text("tiny")
        self.store, self.blob = store, store.blobs.publish(payload)

    def out(self, type_, role, **props):
        return OutputArtifact(type_, self.blob.uri, self.blob.digest, self.blob.size, role, props)

    def model(self, span, *, spec="spec-1", signature=SIGNATURE, layers=LAYERS, state="COMPLETE",
              pipeline=P) -> int:
        props = dict(spec_digest=spec, input_signature=json.dumps(signature), layers=json.dumps(layers))
        if span is not None:
            props["span"] = span
        return self.store.log_execution("Trainer", pipeline, state=state,
                                        outputs=[self.out("Model", "model", **props)]).output_ids[0]

    def evaluate(self, model, *, blessed=None, metrics=None, pipeline=P) -> None:
        outputs = [self.out("ModelEvaluation", "evaluation", metrics=json.dumps(metrics or {}))]
        if blessed is not None:
            outputs.append(self.out("ModelBlessing", "blessing", blessed=int(blessed), current_model_id=model))
        self.store.log_execution("Evaluator", pipeline, inputs=[(model, "model")], outputs=outputs)


def _auc(overall, aa):
    return {"Overall": {"auc": overall, "loss": 1 - overall}, "carrier=AA": {"auc": aa}}


def five_days(store, tmp_path) -> list[int]:
    """m1..m5 on spans 20130101..05; m3 unblessed, m4 another transform spec, m5 not evaluated."""
    log = Log(store, tmp_path)
    m = [log.model(20130101 + i, spec="spec-2" if i == 3 else "spec-1") for i in range(5)]
    log.evaluate(m[0], blessed=True, metrics=_auc(0.80, 0.78))
    log.evaluate(m[1], blessed=True, metrics=_auc(0.85, 0.60))
    log.evaluate(m[2], blessed=False, metrics=_auc(0.90, 0.75))
    log.evaluate(m[3], blessed=True, metrics=_auc(0.70, 0.65))
    return m


def chosen(selection) -> int | None:
    return int(selection.chosen.model_id.split(":")[1]) if selection.chosen else None


def reasons(selection) -> dict[str, str]:
    return {s.model_id: s.reason for s in selection.skipped}


def test_policies_through_the_store(store, tmp_path):
    m1, m2, m3, m4, m5 = five_days(store, tmp_path)
    for explain in ("ranked", "all"):
        def pick(policy, **kw):
            return select_warm_start(store, P, policy, explain=explain, **kw)

        assert chosen(pick("latest")) == m5
        latest_blessed = pick("latest_blessed")
        assert chosen(latest_blessed) == m4
        assert reasons(latest_blessed)[f"artifact:{m5}"] == "not blessed"  # ranked above m4, so listed either way
        best = pick("best:auc")
        assert chosen(best) == m3 and "best auc on slice 'Overall' = 0.9" in best.explanation
        assert chosen(pick("best:auc@carrier=AA")) == m1
        assert chosen(pick("best", metric="loss")) == m3  # loss: lower is better
        assert chosen(pick("latest_blessed", as_of=20130103)) == m2
        as_of = pick("latest", as_of=20130103)
        assert chosen(as_of) == m3 and "no later than 20130103" in as_of.explanation
        compatible = pick("latest_blessed", require_compatible=requirement_of_model(store, m1))
        assert chosen(compatible) == m2
        assert reasons(compatible)[f"artifact:{m4}"].startswith("transform spec digest spec-2")
    everything = select_warm_start(store, P, "best:auc@carrier=AA", explain="all")
    assert reasons(everything)[f"artifact:{m5}"] == "no metric 'auc' on slice 'carrier=AA'"
    assert reasons(everything)[f"artifact:{m3}"] == f"auc 0.75 worse than 0.78 of artifact:{m1}"
    assert len(everything.skipped) == 4


def test_compatibility_reasons_for_inputs_and_layers(sqlite_store, tmp_path):
    log = Log(sqlite_store, tmp_path)
    wider = {**LAYERS, "embedding_carrier": [[15, 4]]}
    same = log.model(20130101)
    other_inputs = log.model(20130102, signature={**SIGNATURE, "origin": "string"})
    new_vocabulary = log.model(20130103, layers=wider)
    requirement = CompatibilityRequirement(spec_digest="spec-1", input_signature=SIGNATURE, layers=LAYERS)
    selection = select_warm_start(sqlite_store, P, "latest", require_compatible=requirement)
    assert chosen(selection) == same
    assert reasons(selection)[f"artifact:{other_inputs}"] == "raw input signature differs"
    assert reasons(selection)[f"artifact:{new_vocabulary}"] == (
        "layer 'embedding_carrier' shapes [(15, 4)] differ from [(12, 4)]")
    # Warm-starting only the dense layers: a vocabulary change no longer disqualifies.
    dense_only = CompatibilityRequirement(spec_digest="spec-1", input_signature=SIGNATURE, layers=LAYERS,
                                          layer_patterns=("deep_*",))
    assert chosen(select_warm_start(sqlite_store, P, "latest", require_compatible=dense_only)) == new_vocabulary


def test_abandoned_models_and_reevaluations(sqlite_store, tmp_path):
    log = Log(sqlite_store, tmp_path)
    good, failed = log.model(20130101), log.model(20130102, state="FAILED")
    reevaluated = log.model(20130103)
    log.evaluate(good, blessed=True, metrics=_auc(0.80, 0.5))
    log.evaluate(reevaluated, blessed=True, metrics=_auc(0.95, 0.5))
    log.evaluate(reevaluated, metrics=_auc(0.60, 0.5))  # the newest evaluation counts
    for explain in ("ranked", "all"):
        latest = select_warm_start(sqlite_store, P, "latest", explain=explain)
        assert chosen(latest) == reevaluated
        best = select_warm_start(sqlite_store, P, "best:auc", explain=explain)
        assert chosen(best) == good, explain
    every = select_warm_start(sqlite_store, P, "latest", explain="all")
    assert reasons(every)[f"artifact:{failed}"] == "state ABANDONED: only LIVE models qualify"
    assert select_warm_start(sqlite_store, P, "latest", exclude=[reevaluated]).chosen.model_id == f"artifact:{good}"


def test_ranked_walk_agrees_with_the_pure_policy(sqlite_store, tmp_path):
    """Over pages of models (the walk reads 32, then 128), both paths choose as policies.select does."""
    log = Log(sqlite_store, tmp_path)
    models = []
    for day in range(70):
        spec = "spec-2" if day % 5 == 0 else "spec-1"
        models.append(log.model(20130101 + day if day % 17 else None, spec=spec))  # some without a span
        if day % 4 != 3:
            # The newest 40 models are never blessed: the walk must read past its first page.
            log.evaluate(models[-1], blessed=day < 30 and day % 3 != 0,
                         metrics={"Overall": {"auc": (day * 37 % 50) / 100}})
    requirement = requirement_of_model(sqlite_store, models[1])
    candidates = candidates_from_store(sqlite_store, P, metric="auc")
    compat = requirement.to_compatibility()
    for policy, pure_policy, kwargs in [
        ("latest", "latest", {}), ("latest_blessed", "latest_blessed", {}), ("best:auc", "best", {}),
        ("latest_blessed", "latest_blessed", {"require_compatible": requirement}),
        ("best:auc", "best", {"require_compatible": requirement}),
    ]:
        expected = select(candidates, pure_policy, pipeline=P, metric=("Overall", "auc"),
                          compatibility=compat if kwargs else None)
        full = select_warm_start(sqlite_store, P, policy, explain="all", **kwargs)
        ranked = select_warm_start(sqlite_store, P, policy, **kwargs)
        assert chosen(full) == chosen(ranked) == chosen(expected) is not None, policy
        assert full.explanation == expected.explanation
        assert ranked.explanation.startswith(expected.explanation)
        assert set(full.skipped) == set(expected.skipped)
        assert set(ranked.skipped) <= set(full.skipped)
    assert isinstance(compat, Compatibility)


def test_rerun_outputs_are_never_chosen_as_daily_models(sqlite_store, tmp_path):
    """`mlstore rerun` of a Trainer re-creates a day's model (same span, newer, maybe blessed
    again): a verification, not a new daily model, for every policy on both paths."""
    m = five_days(sqlite_store, tmp_path)
    log = Log(sqlite_store, tmp_path)
    trainer = sqlite_store.events(f"artifact:{m[4]}")[0].execution_id
    rerun = sqlite_store.log_execution("Trainer", P, outputs=[log.out("Model", "model", span=20130105,
                                                                       spec_digest="spec-1")],
                                       properties={"rerun_of": trainer}).output_ids[0]
    log.evaluate(rerun, blessed=True, metrics=_auc(0.99, 0.99))  # even blessed and best
    for policy, expected in [("latest", m[4]), ("latest_blessed", m[3]), ("best:auc", m[2])]:
        for explain in ("ranked", "all"):
            selection = select_warm_start(sqlite_store, P, policy, explain=explain)
            assert chosen(selection) == expected, (policy, explain)
            if explain == "all" or policy != "best:auc":  # ranked lists what ranks above the choice
                assert reasons(selection)[f"artifact:{rerun}"] == RERUN_REASON
    assert f"artifact:{rerun}" not in {c.model_id for c in candidates_from_store(sqlite_store, P, metric="auc")}
    # the latest blessed model (RPC GetLatestBlessed, the dashboard) is the daily one too
    assert sqlite_store.latest_blessed(P).id == m[3]


def test_reruns_are_looked_up_among_the_walked_rows_only(sqlite_store, tmp_path, monkeypatch):
    """The ranked walk tests only each page's rows for `mlstore rerun` outputs (never the
    whole pipeline); the bulk paths ask about the rows they read. Same choices as before."""
    from mlstore.index import model_queries as mq
    from mlstore.warmstart import walk as walk_module

    log = Log(sqlite_store, tmp_path)
    models = [log.model(20130101 + i) for i in range(walk_module.FIRST_PAGE + 8)]
    trainer = sqlite_store.events(f"artifact:{models[-1]}")[0].execution_id
    rerun = sqlite_store.log_execution("Trainer", P, outputs=[log.out("Model", "model", span=20130200)],
                                       properties={"rerun_of": trainer}).output_ids[0]
    with sqlite_store.engine.connect() as connection:
        assert mq.rerun_model_ids(connection, P) == {rerun}
        assert mq.rerun_model_ids(connection, P, among=models[:3]) == frozenset()
        assert mq.rerun_model_ids(connection, P, among=[models[0], rerun]) == {rerun}
        assert mq.rerun_model_ids(connection, P, among=[]) == frozenset()
        monkeypatch.setattr(mq, "_AMONG_MAX", 2)  # the scan-and-keep path answers the same
        assert mq.rerun_model_ids(connection, P, among=[models[0], models[1], rerun]) == {rerun}
    monkeypatch.undo()
    asked: list = []
    real = mq.rerun_model_ids

    def spy(connection, pipeline, *, among=None):
        asked.append(None if among is None else sorted(among))
        return real(connection, pipeline, among=among)

    monkeypatch.setattr(mq, "rerun_model_ids", spy)
    selection = select_warm_start(sqlite_store, P, "latest")
    assert chosen(selection) == models[-1] and reasons(selection) == {f"artifact:{rerun}": RERUN_REASON}
    assert asked == [sorted([rerun, *models[-walk_module.FIRST_PAGE + 1:]])]  # the first page of 32 rows
    asked.clear()
    assert chosen(select_warm_start(sqlite_store, P, "latest", explain="all")) == models[-1]
    assert asked == [sorted([*models, rerun])]
    asked.clear()
    assert f"artifact:{rerun}" not in {c.model_id for c in candidates_from_store(sqlite_store, P)}
    assert asked == [sorted([*models, rerun])]


def test_bad_input_is_a_typed_error(sqlite_store, tmp_path):
    five_days(sqlite_store, tmp_path)
    for policy, kwargs in [("worst", {}), ("best", {}), ("latest:3", {}), ("as_of", {}),
                           ("latest", {"as_of": 2013}), ("best:auc", {"metric": "loss"}),
                           ("latest", {"explain": "some"})]:
        with pytest.raises(errors.InvalidArgument):
            select_warm_start(sqlite_store, P, policy, **kwargs)
    with pytest.raises(errors.NotFound):
        select_warm_start(sqlite_store, "nope", "latest")
    nothing = select_warm_start(sqlite_store, P, "latest_blessed", as_of=20130101, exclude=[1])
    with pytest.raises(errors.CheckFailed, match="excluded by the caller(.|\n)*span 20130102 is after 20130101"):
        nothing.require()


def run(capsys, *args):
    code = run_cli(cli, list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_choice_no_candidate_and_bad_input(sqlite_store_uri, tmp_path, capsys):
    with mlstore.open(sqlite_store_uri) as store:
        m1, m2, m3, m4, m5 = five_days(store, tmp_path)
        evaluation = store.artifacts(type="ModelEvaluation")[0].id
    base = ("warm-start", "--store", sqlite_store_uri, "--pipeline", P)
    code, out, err = run(capsys, *base, "--policy", "best:auc@carrier=AA", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["chosen"]["model"] == f"artifact:{m1}" and len(payload["skipped"]) == 4
    code, out, _ = run(capsys, *base, "--require-compatible", f"artifact:{m1}", "--as-of", "2013-01-04")
    assert code == 0 and f"base model: artifact:{m2}" in out
    assert f"artifact:{m4}" in out and "transform spec digest spec-2" in out  # every skipped one, with reason
    code, out, err = run(capsys, *base, "--require-compatible", f"artifact:{m4}")
    assert code == 1 and "no candidate qualifies" in out
    assert err.count("\n") == 1 and "transform spec digest spec-1" in err and "excluded by the caller" in err
    for bad in (["--policy", "best"], ["--policy", "best:"], ["--as-of", "2013-13-01"],
                ["--require-compatible", f"artifact:{evaluation}"], ["--layers", "deep_*"]):
        code, _, err = run(capsys, *base, *bad)
        assert code == 2 and err.count("\n") == 1, (bad, err)
    code, _, err = run(capsys, "warm-start", "--store", sqlite_store_uri, "--pipeline", "nope")
    assert code == 2 and "no pipeline 'nope'" in err


def test_select_warm_start_rpc(sqlite_store_uri, tmp_path):
    with mlstore.open(sqlite_store_uri) as store:
        m1, m2, m3, m4, m5 = five_days(store, tmp_path)
    with serve(sqlite_store_uri) as (_, target), mlstore.open(f"grpc://{target}") as remote:
        answer = remote.select_warm_start(P, "best", metric="auc", slice="carrier=AA", explain="all")
        assert answer.ok and answer.chosen.model_id == f"artifact:{m1}" and len(answer.skipped) == 4
        assert remote.select_warm_start(P, "latest_blessed", as_of=20130103).chosen.model_id == f"artifact:{m2}"
        none = remote.select_warm_start(P, "best:auc@nowhere")
        assert not none.ok and {s.reason for s in none.skipped} == {"no metric 'auc' on slice 'nowhere'"}
        with pytest.raises(errors.InvalidArgument):
            remote.select_warm_start(P, "best:")


def test_a_rerun_evaluation_adds_no_point_to_the_metric_series(sqlite_store, tmp_path):
    """`mlstore rerun` of an Evaluator scores the day's model again: the series keeps the
    day's own point; a model whose only evaluation is a rerun's keeps that one."""
    m = five_days(sqlite_store, tmp_path)
    log = Log(sqlite_store, tmp_path)
    before = [(p.span, p.model_id, p.evaluation_id, p.value) for p in sqlite_store.metric_series(P, "auc")]
    original = [e.execution_id for e in sqlite_store.events(f"artifact:{m[1]}") if not e.is_output][0]
    for model, rerun_of in ((m[1], original), (m[4], 999)):
        sqlite_store.log_execution("Evaluator", P, inputs=[(model, "model")], properties={"rerun_of": rerun_of},
                                   outputs=[log.out("ModelEvaluation", "evaluation", metrics=json.dumps(_auc(0.5, 0.5)))])
    after = [(p.span, p.model_id, p.evaluation_id, p.value) for p in sqlite_store.metric_series(P, "auc")]
    assert after[:-1] == before and [a[1:2] + a[3:] for a in after[-1:]] == [(m[4], 0.5)]
    assert [p.model_id for p in sqlite_store.metric_series(P, "auc", "carrier=AA")] == m
