"""Model page: metrics per slice, deltas vs baseline and previous model, plots, warm-start chain, gates, artifacts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data
from mlstore import errors


def _pick_model(uri, ver, pipeline: str) -> int | None:
    models = data.newest_artifacts(uri, ver, "Model", pipeline, 300)
    if not models:
        st.info(f"Pipeline **{pipeline}** has no models yet. Log one with `run.log_model(dir)` in a Trainer step.")
        return None
    ids = [m.id for m in models]
    wanted = st.query_params.get("model")
    if wanted and wanted.isdigit() and int(wanted) not in ids:
        ids.insert(0, int(wanted))  # an older model opened from a link or the chart
    index = ids.index(int(wanted)) if wanted and wanted.isdigit() else 0
    labels = {m.id: f"artifact:{m.id} · span {m.span}" for m in models}
    choice = st.sidebar.selectbox("Model (newest first)", ids, index=index, format_func=lambda i: labels.get(i, f"artifact:{i}"))
    st.query_params["model"] = str(choice)
    return choice


def render() -> None:
    uri, ver = components.context()
    pipeline = components.pipeline_picker(uri, ver)
    if pipeline is None:
        return
    model_id = _pick_model(uri, ver, pipeline)
    if model_id is None:
        return
    ctx = data.model_context(uri, ver, model_id)
    model = ctx.model
    st.title(f"Model artifact:{model.id}")
    gate = "no gate decision" if ctx.blessings.empty else ("blessed" if ctx.blessings.iloc[-1]["blessed"] else "gate failed")
    st.caption(f"pipeline {model.pipeline} · span {model.span} · {gate} · digest `{model.digest}`")
    if ctx.evaluation_id is None:
        st.info("This model has no evaluation yet: run an Evaluator step that uses it with role `model`.")
    else:
        metrics = data.evaluation_metrics(uri, ver, ctx.evaluation_id)
        _slices(metrics)
        _deltas(uri, ver, pipeline, model, ctx, metrics)
        _plots(ctx.evaluation_id, list(metrics))
    _chain(uri, ver, model.id)
    _gates(ctx.blessings)
    _artifacts(uri, ver, model.id, ctx)


def _slices(metrics: dict[str, dict[str, float]]) -> None:
    st.subheader("Metrics per slice")
    table = pd.DataFrame.from_dict(metrics, orient="index").sort_index(key=lambda i: i != "Overall")
    if "example_count" in table:
        top = int(table["example_count"].max() or 0)
        minimum = st.slider("Minimum examples per slice", 0, max(top, 1), 0, key="min_examples")
        table = table[table["example_count"].fillna(0) >= minimum]
    st.dataframe(table, width="stretch")
    names = [c for c in table.columns if c not in data.NEUTRAL_METRICS] or list(table.columns)
    if names and not table.empty:
        metric = st.selectbox("Bar chart metric", names, index=names.index("auc_roc") if "auc_roc" in names else 0)
        bars = table[[metric]].rename(columns={metric: "value"}).rename_axis("slice").reset_index()
        st.altair_chart(components.bar_chart(bars.dropna(), metric), width="stretch")


def _previous_model(uri, ver, pipeline: str, model) -> tuple[int, int] | None:
    """(model id, evaluation id) of the newest evaluated model logged before this one in the pipeline."""
    for earlier in data.models_before(uri, ver, pipeline, model.id, 5):
        evaluation_id = data.model_context(uri, ver, earlier.id).evaluation_id
        if evaluation_id:
            return earlier.id, evaluation_id
    return None


def _deltas(uri, ver, pipeline, model, ctx, metrics) -> None:
    st.subheader("Changes")
    others = []
    if ctx.baseline_id:
        baseline = data.model_context(uri, ver, ctx.baseline_id)
        if baseline.evaluation_id:
            others.append((f"vs baseline artifact:{ctx.baseline_id}", baseline.evaluation_id))
    previous = _previous_model(uri, ver, pipeline, model)
    if previous:
        others.append((f"vs previous model artifact:{previous[0]}", previous[1]))
    if not others:
        st.info("No baseline and no earlier model to compare with: this is the first evaluated model.")
        return
    for tab, (title, evaluation_id) in zip(st.tabs([t for t, _ in others]), others):
        deltas = data.metric_deltas(metrics, data.evaluation_metrics(uri, ver, evaluation_id))
        regressions = deltas[deltas["regression"]]
        tab.caption(f"{len(regressions)} regressions over {deltas['slice'].nunique()} slices")
        styled = deltas.style.apply(
            lambda row: ["background-color: #fde0dd" if row["regression"] else ""] * len(row), axis=1
        ).format({"value": "{:.4f}", "other": "{:.4f}", "delta": "{:+.4f}"}, na_rep="–")
        tab.dataframe(styled, width="stretch", hide_index=True)


def _plots(evaluation_id: int, slices: list[str]) -> None:
    st.subheader("Plots")
    try:
        plots = data.read_plots(evaluation_id)
    except (errors.NotFound, errors.IntegrityError) as e:
        st.warning(f"Plot data is unavailable: the evaluation's stored bytes cannot be read ({e}). "
                   "Metrics above come from the index; run `mlstore verify` to check the store's blobs.")
        return
    if not plots:
        st.info("This evaluation has no plots.json (plots come from the built-in Evaluator).")
        return
    slice_key = st.selectbox("Plot slice", [s for s in slices if s in plots] or list(plots), key="plot_slice")
    p = plots.get(slice_key, {})
    left, right = st.columns(2)
    if p.get("roc", {}).get("fpr"):
        left.altair_chart(components.line_plot(pd.DataFrame(p["roc"])[["fpr", "tpr"]], "fpr", "tpr", "ROC"))
    if p.get("pr", {}).get("recall"):
        right.altair_chart(components.line_plot(pd.DataFrame(p["pr"])[["recall", "precision"]],
                                                "recall", "precision", "Precision-recall"))
    cal = p.get("calibration", {})
    if cal.get("mean_prediction"):
        frame = pd.DataFrame({"mean_prediction": cal["mean_prediction"], "mean_label": cal["mean_label"]}).dropna()
        left.altair_chart(components.line_plot(frame, "mean_prediction", "mean_label", "Calibration"))
    hist = p.get("prediction_histogram", {})
    if hist.get("bin_edges"):
        edges = hist["bin_edges"]
        frame = pd.DataFrame({"prediction": [round(e, 3) for e in edges[:-1]],
                              "positives": hist["positives"], "negatives": hist["negatives"]})
        right.caption("Prediction distribution")
        right.bar_chart(frame.set_index("prediction"), height=260)


def _chain(uri, ver, model_id: int) -> None:
    st.subheader("Warm-start chain")
    chain = data.warm_start_chain(uri, ver, model_id)
    if not chain:
        st.caption("Trained from scratch (no base_model input).")
        return
    st.write(" ← ".join([f"**artifact:{model_id}**"] + [f"artifact:{m}" for m in chain]))


def _gates(frame: pd.DataFrame) -> None:
    st.subheader("Gate decisions")
    if frame.empty:
        st.caption("No gate has judged this model.")
        return
    st.dataframe(frame[["id", "blessed", "baseline_id", "evaluation_id", "span"]], hide_index=True)


def _artifacts(uri, ver, model_id: int, ctx) -> None:
    st.subheader("Artifacts")
    rows = []
    if ctx.trainer is not None:
        for ev in data.events(uri, ver, f"execution:{ctx.trainer.id}"):
            a = data.artifact(uri, ver, f"artifact:{ev.artifact_id}")
            rows.append({"role": ev.role, "direction": "output" if ev.is_output else "input",
                         "artifact": f"artifact:{a.id}", "type": a.type, "span": a.span,
                         "digest": a.digest, "size": a.size})
    for extra in (ctx.evaluation_id,):
        if extra:
            a = data.artifact(uri, ver, f"artifact:{extra}")
            rows.append({"role": "evaluation", "direction": "downstream", "artifact": f"artifact:{a.id}",
                         "type": a.type, "span": a.span, "digest": a.digest, "size": a.size})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


with components.guard():
    render()
