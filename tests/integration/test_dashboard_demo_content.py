"""What the dashboard *says* over a store written by the real demo (tests/conftest.py
``demo_history``: 4 days, so days 2-4 have a baseline, a forced failed gate on the
newest model and a rerun of day 2's Trainer).

Expected values are computed here from the store's events and properties, not from
the dashboard's own helpers.
"""

from __future__ import annotations

import json

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

import mlstore
from tests.dashboard_support import page_texts, run_page

pytestmark = pytest.mark.slow



_run, _texts = run_page, page_texts


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _chart_rows(at: AppTest, index: int) -> list[dict]:
    """The rows a chart plots (Streamlit ships them beside the spec, as Arrow)."""
    proto = at.get("vega_lite_chart")[index].proto
    frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in proto.datasets]
    if proto.HasField("data"):
        frames.append(convert_arrow_bytes_to_pandas_df(proto.data.data))
    return [row for frame in frames for row in frame.to_dict("records")]


def _evaluator_outputs(store, model_id: int) -> dict[str, int]:
    """{role: artifact id} output by the Evaluator run that used the model with role model."""
    (run,) = [e.execution_id for e in store.events(f"artifact:{model_id}") if not e.is_output and e.role == "model"
              and store.execution(f"execution:{e.execution_id}").type == "Evaluator"]
    return {e.role: e.artifact_id for e in store.events(f"execution:{run}") if e.is_output}


def _daily_models(store) -> list:
    reruns = {e.id for e in store.executions(pipeline="flights") if e.properties.get("rerun_of") is not None}
    out = []
    for m in store.artifacts(type="Model", pipeline="flights"):
        producers = [e.execution_id for e in store.events(m.node_id) if e.is_output]
        if not set(producers) & reruns:
            out.append(m)
    return out


@pytest.fixture(scope="module")
def history(demo_history):
    store = mlstore.open(demo_history["uri"])
    yield demo_history, store
    store.close()


def test_model_page_shows_the_models_own_metrics_and_deltas_vs_its_baseline(history, monkeypatch):
    info, store = history
    daily = _daily_models(store)
    assert [m.span for m in daily] == [20130101, 20130102, 20130103, 20130104]
    for model in daily[1:]:  # every day with a baseline
        outputs = _evaluator_outputs(store, model.id)
        own = store.evaluation_metrics(f"artifact:{outputs['evaluation']}")
        theirs = json.loads(store.artifact(f"artifact:{outputs['baseline_evaluation']}").properties["metrics"])
        at = _run(info["uri"], "views/model.py", monkeypatch, {"model": str(model.id)})
        text = _texts(at)
        assert at.title[0].value == f"Model artifact:{model.id}"
        assert "span 2013-01-0" in text and "no evaluation" not in text
        table = at.dataframe[0].value
        assert len(table) >= 10 and "Overall" in table.index
        for metric in ("auc_roc", "log_loss", "example_count"):
            assert table.loc["Overall", metric] == pytest.approx(own["Overall"][metric]), (model.id, metric)
        assert (table["example_count"] >= 30).all()  # the default minimum hides tiny slices
        # The first Changes tab compares with the baseline's evaluation on the same data.
        deltas = at.dataframe[1].value
        row = deltas[(deltas["slice"] == "Overall") & (deltas["metric"] == "auc_roc")].iloc[0]
        assert row["value"] == pytest.approx(own["Overall"]["auc_roc"])
        assert row["other"] == pytest.approx(theirs["Overall"]["auc_roc"])
        assert row["delta"] == pytest.approx(own["Overall"]["auc_roc"] - theirs["Overall"]["auc_roc"])
        assert deltas["other"].notna().sum() > 20
        assert f"compared with artifact:{outputs['baseline_evaluation']}" in text
        assert " over 0 slices" not in text
        roles = dict(zip(at.dataframe[-1].value["artifact"], at.dataframe[-1].value["role"]))
        assert roles[f"artifact:{outputs['evaluation']}"] == "evaluation"
        assert roles[f"artifact:{outputs['baseline_evaluation']}"] == "baseline_evaluation"
        assert "Plots" in text and "This evaluation has no plots" not in text


def test_first_day_has_no_baseline_and_failed_gate_is_shown(history, monkeypatch):
    info, store = history
    first = _daily_models(store)[0]
    at = _run(info["uri"], "views/model.py", monkeypatch, {"model": str(first.id)})
    table = at.dataframe[0].value
    own = store.evaluation_metrics(f"artifact:{_evaluator_outputs(store, first.id)['evaluation']}")
    assert table.loc["Overall", "auc_roc"] == pytest.approx(own["Overall"]["auc_roc"])
    failed = info["failed_model"]
    at = _run(info["uri"], "views/model.py", monkeypatch, {"model": str(failed)})
    assert "gate failed" in _texts(at)
    (gates,) = [d.value for d in at.dataframe if "outcome" in d.value.columns]
    assert list(gates["outcome"]) == ["blessed", "failed"] and list(gates["span"]) == ["2013-01-04"] * 2


def test_default_model_is_the_newest_daily_model_not_the_rerun(history, monkeypatch):
    info, store = history
    rerun_model = int(info["rerun"]["outputs"][0]["rerun"].split(":")[1])
    assert store.artifacts(type="Model", pipeline="flights")[-1].id == rerun_model  # the rerun is the newest
    at = _run(info["uri"], "views/model.py", monkeypatch)
    assert at.title[0].value == f"Model artifact:{info['failed_model']}"
    at = _run(info["uri"], "views/model.py", monkeypatch, {"model": str(rerun_model)})
    assert "rerun of execution:" in _texts(at)
    at = _run(info["uri"], "views/lineage.py", monkeypatch)  # the Lineage page's default start node too
    assert f"around artifact:{info['failed_model']}" in _texts(at)


def test_home_page_dates_on_the_axis_and_tiles_count_models(history, monkeypatch):
    info, store = history
    at = _run(info["uri"], "views/models.py", monkeypatch)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {"Models": "4", "Days": "4", "Blessed models": "3", "Models failing their gate": "1"}
    series = _specs(at)[0]
    x = series["layer"][0]["encoding"]["x"]
    assert x["type"] == "temporal" and x["axis"]["format"] == "%Y-%m-%d"
    values = _chart_rows(at, 0)
    assert {v["span_text"] for v in values} == {"2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"}
    heat = _specs(at)[1]
    assert heat["mark"]["type"] == "rect" and heat["encoding"]["x"]["field"] == "span_text"
    labels = at.selectbox(key="open_model").options
    assert labels[0].startswith(f"artifact:{info['failed_model']} · span 2013-01-04")
    assert "Worst slices" in _texts(at) and "Slices that regressed" in _texts(at)
    daily = _daily_models(store)
    newest, before = (store.evaluation_metrics(f"artifact:{_evaluator_outputs(store, m.id)['evaluation']}")
                      for m in (daily[-1], daily[-2]))
    shown = {s for s, m in newest.items() if m.get("example_count", 0) >= 30}  # the default minimum
    (worst,) = [d.value for d in at.dataframe if "auc_roc" in d.value.columns]
    assert list(worst["auc_roc"]) == pytest.approx(sorted(newest[s]["auc_roc"] for s in shown)[:10])  # lowest first
    assert list(worst["auc_roc"]) == pytest.approx([newest[s]["auc_roc"] for s in worst["slice"]])
    drops = {s: newest[s]["auc_roc"] - before[s]["auc_roc"] for s in shown if s in before}
    drops = {s: d for s, d in drops.items() if d < -1e-12}
    regressed = [d.value for d in at.dataframe if "change" in d.value.columns]
    if drops:
        (table,) = regressed
        assert set(table["slice"]) == set(drops)
        assert list(table["change"]) == pytest.approx(sorted(drops.values()))  # the largest drop first
        assert list(table["change"]) == pytest.approx([drops[s] for s in table["slice"]])
    else:
        assert not regressed


def test_gate_history_one_mark_per_decision_on_a_date_axis(history, monkeypatch):
    info, store = history
    at = _run(info["uri"], "views/gates.py", monkeypatch)
    chart = _specs(at)[0]
    assert chart["encoding"]["x"]["type"] == "temporal"
    rows = _chart_rows(at, 0)
    assert len(rows) == len(store.blessings(pipeline="flights")) == 5
    # marks of one day and outcome stack (0, 1, ...); single decisions all sit at 0, on one line
    assert chart["encoding"]["yOffset"]["field"] == "nth"
    by_day = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_day.setdefault((r["span_text"], r["outcome"]), []).append(r["nth"])
    assert all(nths == list(range(len(nths))) for nths in by_day.values()), by_day
    table = at.dataframe[0].value
    assert set(table["span"]) == {"2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"}


def test_lineage_nodes_carry_their_day_and_modules_show_no_raw_json(history, monkeypatch):
    info, _ = history
    model = info["failed_model"]
    at = _run(info["uri"], "views/lineage.py", monkeypatch, {"node": f"artifact:{model}"})
    dot = at.get("graphviz_chart")[0].proto.spec
    assert f'label="Model\\nartifact:{model}\\n2013-01-04"' in dot
    assert "fontsize=16" in dot and "fontsize=8" not in dot
    at = _run(info["uri"], "views/modules.py", monkeypatch)
    text = _texts(at)
    assert "#### Carrier embeddings" in text and "\n# " not in text  # never bigger than the page title
    assert "**Tags** `carrier` `embedding` `flights`" in text and '["carrier"' not in text
    assert not at.json  # no raw JSON tree
    (signatures,) = [d.value for d in at.dataframe if "tensor" in d.value.columns]
    assert list(signatures["shape"]) == ["[?]", "[?, 4]"]


def test_reruns_are_shown_where_a_person_looks_and_kept_out_of_daily_models(history, monkeypatch):
    info, store = history
    rerun_model = int(info["rerun"]["outputs"][0]["rerun"].split(":")[1])
    original = int(info["rerun"]["original"].split(":")[1])
    day2 = [m for m in _daily_models(store) if m.span == 20130102][0]
    assert [m.id for m in store.daily_models("flights")] == [m.id for m in _daily_models(store)]
    assert rerun_model not in [m.id for m in store.daily_models("flights")]
    assert store.newest_daily_model("flights").id == info["failed_model"]
    at = _run(info["uri"], "views/model.py", monkeypatch, {"model": str(day2.id)})
    assert f"The Trainer execution:{original} was rerun; the rerun produced artifact:{rerun_model}" in _texts(at)
    at = _run(info["uri"], "views/runs.py", monkeypatch)
    runs = at.dataframe[0].value
    assert list(runs[runs["rerun of"] != ""]["rerun of"]) == [f"execution:{original}"]
    assert "1 rerun(s) by `mlstore rerun`" in _texts(at)
    (rerun_run,) = runs[runs["rerun of"] != ""]["execution"]
    assert runs["execution"].iloc[0] == rerun_run  # the newest run: the comparison starts with it and its original
    assert (at.selectbox(key="run_a").value, at.selectbox(key="run_b").value) == (f"execution:{original}", rerun_run)


def test_a_rerun_evaluator_adds_no_point_to_the_series_and_the_page_keeps_the_days_evaluation(
        demo_history, tmp_path, monkeypatch):
    import subprocess
    import sys

    from tests.conftest import copy_store

    uri = copy_store(demo_history["uri"], tmp_path / "store")
    with mlstore.open(uri) as store:
        day3 = [m for m in _daily_models(store) if m.span == 20130103][0]
        days = _evaluator_outputs(store, day3.id)
        (evaluator,) = [e.execution_id for e in store.events(f"artifact:{days['evaluation']}") if e.is_output]
        before = [(p.span, p.model_id, p.evaluation_id) for p in store.metric_series("flights", "auc_roc")]
    done = subprocess.run([sys.executable, "-m", "mlstore", "rerun", f"execution:{evaluator}", "--store", uri,
                           "--json"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    with mlstore.open(uri) as store:
        rerun = [e for e in store.executions(type="Evaluator", pipeline="flights")
                 if e.properties.get("rerun_of") == evaluator]
        assert len(rerun) == 1  # the rerun is recorded: an Evaluator run with rerun_of
        after = [(p.span, p.model_id, p.evaluation_id) for p in store.metric_series("flights", "auc_roc")]
    assert after == before and len({m for _, m, _ in after}) == len(after)  # one point per daily model
    at = _run(uri, "views/models.py", monkeypatch)
    assert sorted(r["model_id"] for r in _chart_rows(at, 0) if r["slice"] == "Overall") == sorted(
        m for _, m, _ in before)
    at = _run(uri, "views/model.py", monkeypatch, {"model": str(day3.id)})
    assert f"compared with artifact:{days['baseline_evaluation']}" in _texts(at)
    roles = dict(zip(at.dataframe[-1].value["artifact"], at.dataframe[-1].value["role"]))
    assert roles[f"artifact:{days['evaluation']}"] == "evaluation"
