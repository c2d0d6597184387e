"""Every dashboard page, run with streamlit.testing's AppTest over real stores built with the SDK."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import mlstore
from mlstore.diff import SECTIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard_store import build_store, build_store_fast  # noqa: E402
from dashboard_support import page_texts, run_page  # noqa: E402

PAGES = ["views/models.py", "views/model.py", "views/lineage.py", "views/runs.py",
         "views/modules.py", "views/gates.py", "views/data.py"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_store(str(tmp_path_factory.mktemp("dash") / "store"), days=12, dip_every=4)


_run, _texts = run_page, page_texts


def test_models_over_time_lists_every_model_and_gate_outcomes(demo, monkeypatch):
    at = _run(demo.uri, "views/models.py", monkeypatch)
    assert at.title[0].value == "Models over time"
    assert not at.error
    assert at.metric[0].value == str(len(demo.model_ids))
    assert at.metric[3].value == str(len(demo.failed_model_ids))
    x = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["x"]
    assert x["type"] == "quantitative" and x["axis"]["format"] == "d"  # spans 1..12 are no dates: plain integers
    options = at.selectbox(key="open_model").options
    assert options[0].startswith(f"artifact:{demo.model_ids[-1]} ")
    assert any("failed" in o for o in options)
    at.multiselect(key="slices").select("carrier=AA").run()
    assert not at.exception
    at.selectbox(key="metric").select("log_loss").run()
    assert not at.exception


def test_model_page_shows_slices_deltas_plots_chain_and_digests(demo, monkeypatch):
    failed = demo.failed_model_ids[-1]
    at = _run(demo.uri, "views/model.py", monkeypatch, {"model": str(failed)})
    text = _texts(at)
    assert at.title[0].value == f"Model artifact:{failed}"
    assert "gate failed" in text
    assert "regressions" in text and not at.warning
    slices = at.dataframe[0].value
    assert {"Overall", "carrier=AA", "hour=[6,9)"} <= set(slices.index)
    at.number_input(key="min_examples").set_value(100).run()
    assert "hour=[6,9)" not in set(at.dataframe[0].value.index)  # 40 examples < 100
    index = demo.model_ids.index(failed)
    assert f"artifact:{demo.model_ids[index - 1]}" in text  # warm-start chain / previous model
    digests = at.dataframe[-1].value
    assert digests["digest"].str.startswith("sha256:").all()
    assert "model" in set(digests["role"]) and "base_model" in set(digests["role"])


def test_lineage_explorer_draws_coloured_graph_and_collapses(demo, monkeypatch):
    model = demo.model_ids[-1]
    at = _run(demo.uri, "views/lineage.py", monkeypatch, {"node": f"artifact:{model}"})
    dot = at.get("graphviz_chart")[0].proto.spec
    assert f'"artifact:{model}"' in dot and "fillcolor" in dot
    at.radio(key="direction").set_value("both").run()
    at.slider(key="depth").set_value(40).run()
    at.slider(key="limit").set_value(10).run()
    assert not at.exception
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "more:" in dot and "beyond the limit" in _texts(at)
    neighbour = at.selectbox(key="neighbour")
    assert neighbour.options
    at.button(key="move").click().run()
    assert not at.exception and at.query_params["node"] != [f"artifact:{model}"]


def test_lineage_explorer_bad_reference_is_a_message(demo, monkeypatch):
    at = _run(demo.uri, "views/lineage.py", monkeypatch, {"node": "artifact:999999"})
    assert "does not exist" in _texts(at)


def test_runs_filter_and_diff(demo, monkeypatch):
    at = _run(demo.uri, "views/runs.py", monkeypatch)
    at.selectbox(key="step").select("Trainer").run()
    runs = at.dataframe[0].value
    assert len(runs) == len(demo.model_ids) and set(runs["step"]) == {"Trainer"}
    diff = at.dataframe[1].value
    fields = set(zip(diff["section"], diff["field"]))
    assert ("inputs", "examples") in fields and ("outputs", "model") in fields
    a, b = at.selectbox(key="run_a").value, at.selectbox(key="run_b").value
    with mlstore.open(demo.uri) as store:  # the page shows Store.diff, the call `mlstore diff` makes
        expected = store.diff(a, b)
    assert len(diff) == sum(len(expected.section(name)) for name in SECTIONS)
    output = next(c for c in expected.section("outputs") if c.key == "model")
    row = diff[(diff["section"] == "outputs") & (diff["field"] == "model")].iloc[0]
    assert row["A"] == f"Model {output.a['digest']}" and row["B"] == f"Model {output.b['digest']}"
    at.selectbox(key="state").select("FAILED").run()
    assert "0 executions" in _texts(at)


def test_modules_page_shows_versions_and_consumers(demo, monkeypatch):
    at = _run(demo.uri, "views/modules.py", monkeypatch)
    assert at.header[0].value == "acme/airport-embedding"
    assert sorted(at.dataframe[0].value["version"]) == [1, 2]
    assert "**Consumers** (11)" in _texts(at)  # days 2..12 train with v2


def test_gate_history(demo, monkeypatch):
    at = _run(demo.uri, "views/gates.py", monkeypatch)
    assert at.metric[0].value == str(len(demo.blessing_ids))
    at.toggle(key="only_failed").set_value(True).run()
    assert len(at.dataframe[0].value) == len(demo.failed_model_ids)


@pytest.mark.parametrize("page", PAGES)
def test_empty_store_shows_a_helpful_message(tmp_path, monkeypatch, page):
    at = _run(str(tmp_path / "empty"), page, monkeypatch)
    text = _texts(at)
    assert "no runs yet" in text or "No modules" in text
    assert "Traceback" not in text


@pytest.fixture(scope="module")
def one_model(tmp_path_factory):
    return build_store(str(tmp_path_factory.mktemp("one") / "store"), days=1, modules=False)


@pytest.mark.parametrize("page", PAGES)
def test_store_with_one_model(one_model, monkeypatch, page):
    at = _run(one_model.uri, page, monkeypatch)
    assert not at.error
    if page == "views/model.py":
        assert "first evaluated model" in _texts(at)
        assert "Trained from scratch" in _texts(at)


@pytest.fixture(scope="module")
def no_blobs(tmp_path_factory):
    built = build_store(str(tmp_path_factory.mktemp("noblobs") / "store"), days=3, modules=False)
    shutil.rmtree(Path(built.uri) / "blobs")
    return built


@pytest.mark.parametrize("page", PAGES)
def test_store_with_missing_blobs(no_blobs, monkeypatch, page):
    at = _run(no_blobs.uri, page, monkeypatch, {"model": str(no_blobs.model_ids[-1])})
    assert not at.error
    if page == "views/model.py":
        assert "Plot data is unavailable" in _texts(at)
        assert at.dataframe[0].value.shape[0] == 6  # metrics still come from the index


@pytest.fixture(scope="module")
def fast_built(tmp_path_factory):
    return build_store_fast(str(tmp_path_factory.mktemp("fast") / "store"), days=30)


@pytest.mark.parametrize("page", PAGES)
def test_benchmark_store_renders_like_the_sdk_built_one(fast_built, monkeypatch, page):
    # benchmarks/bench_dashboard.py times pages on this layout; it must show the same content.
    model = fast_built.failed_model_ids[-1]
    at = _run(fast_built.uri, page, monkeypatch, {"model": str(model), "node": f"artifact:{model}"})
    assert not at.error and not at.warning, _texts(at)
    if page == "views/model.py":
        text = _texts(at)
        assert "Plots" in text and "Trained from scratch" not in text
        assert [t.label.split(" artifact:")[0] for t in at.tabs] == ["vs baseline", "vs previous model"]
    if page == "views/modules.py":
        assert "acme/airport-embedding" in _texts(at)


@pytest.fixture(scope="module")
def demo_server(demo):
    """``grpc://`` URI of a real ``mlstore serve`` over the demo store (opened locally first:
    a new MLMD-on-SQLite connection in this process while the server holds the file can fail)."""
    from tests.grpc_support import serve  # noqa: PLC0415

    with pytest.MonkeyPatch.context() as patch:
        _run(demo.uri, PAGES[0], patch)
    with serve(demo.uri, "--processes", "1") as (_, target):
        yield f"grpc://{target}"


def _content(at: AppTest, uri: str) -> tuple:
    frames = tuple(d.value.to_json() for d in at.dataframe)
    return _texts(at).replace(uri, "<store>"), frames, tuple(m.value for m in at.metric)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_through_a_server_matches_the_local_store(demo, demo_server, monkeypatch, page):
    query = {"model": str(demo.failed_model_ids[-1]), "node": f"artifact:{demo.model_ids[-1]}"}
    remote = _run(demo_server, page, monkeypatch, query)
    assert not remote.error, _texts(remote)
    assert _content(remote, demo_server) == _content(_run(demo.uri, page, monkeypatch, query), demo.uri)
    if page == "views/lineage.py":
        assert f'"artifact:{demo.model_ids[-1]}"' in remote.get("graphviz_chart")[0].proto.spec
