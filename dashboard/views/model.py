"""Model page: metrics per slice, deltas vs baseline and previous model, plots, warm-start chain, gates, artifacts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data
from mlstore import errors


def _pick_model(uri, ver, pipeline: str) -> int | None:
    """The model picker: daily models newest first, then reruns (labelled; never the default)."""
    models = data.newest_artifacts(uri, ver, "Model", pipeline, 300)
    if not models:
        st.info(f"Pipeline **{pipeline}** has no models yet. Log one with `run.log_model(dir)` in a Trainer step.")
        return None
    reruns = data.rerun_outputs(uri, ver, pipeline)
    ids = [m.id for m in models if m.id not in reruns] + [m.id for m in models if m.id in reruns]
    wanted = st.query_params.get("model")
    if wanted and wanted.isdigit() and int(wanted) not in ids:
        ids.insert(0, int(wanted))  # an older model opened from a link or the chart
    index = ids.index(int(wanted)) if wanted and wanted.isdigit() else 0
    as_date = components.spans_are_dates([m.span for m in models if m.span is not None])
    labels = {m.id: f"artifact:{m.id} · span {components.span_label(m.span, as_date)}"
              + (f" · rerun of execution:{reruns[m.id]}" if m.id in reruns else "") for m in models}
    choice = st.sidebar.selectbox("Model (newest first, reruns last)", ids, index=index,
                                  format_func=lambda i: labels.get(i, f"artifact:{i}"))
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
    as_date = components.spans_are_dates([model.span]) if model.span is not None else False
    st.caption(f"pipeline {model.pipeline} · span {components.span_label(model.span, as_date)} · {gate} · "
               f"digest `{model.digest}`")
    rerun_of = data.rerun_outputs(uri, ver, pipeline).get(model.id)
    if rerun_of is not None:
        st.info(f"This model is the output of a rerun of execution:{rerun_of} (`mlstore rerun`): "
                "a verification of that day, not a daily model.")
    if ctx.evaluation_id is None:
        st.info("This model has no evaluation yet: run an Evaluator step that uses it with role `model`.")
    else:
        metrics = data.evaluation_metrics(uri, ver, ctx.evaluation_id)
        shown = _slices(metrics)
        _deltas(uri, ver, pipeline, model, ctx, {k: v for k, v in metrics.items() if k in shown})
        _plots(ctx.evaluation_id, list(metrics))
    _reruns(uri, ver, pipeline, ctx)
    _chain(uri, ver, model.id)
    _gates(ctx.blessings)
    _artifacts(uri, ver, model.id, ctx)


#: Default of the "minimum examples per slice" control: smaller slices' metrics are noise
#: (an AUC of 1.0 over two examples), as TFMA's min_slice_size.
DEFAULT_MIN_EXAMPLES = 30


def _slices(metrics: dict[str, dict[str, float]]) -> set[str]:
    """The metrics table and bar chart; returns the slices shown (those with enough examples)."""
    st.subheader("Metrics per slice")
    table = pd.DataFrame.from_dict(metrics, orient="index").sort_index(key=lambda i: i != "Overall")
    table.index.name = "slice"
    if "example_count" in table:
        top = int(table["example_count"].max() or 0)
        minimum = st.number_input("Minimum examples per slice", 0, max(top, 1), min(DEFAULT_MIN_EXAMPLES, top),
                                  key="min_examples",
                                  help="Slices with fewer examples are hidden from the table and the chart.")
        small = int((table["example_count"].fillna(0) < minimum).sum())
        table = table[table["example_count"].fillna(0) >= minimum]
        if small:
            st.caption(f"{small} slice(s) with fewer than {minimum} examples hidden.")
    st.dataframe(table, width="stretch")
    names = [c for c in table.columns if c not in data.NEUTRAL_METRICS] or list(table.columns)
    if names and not table.empty:
        metric = st.selectbox("Bar chart metric", names, index=names.index("auc_roc") if "auc_roc" in names else 0)
        bars = table[[metric]].rename(columns={metric: "value"})
        if "example_count" in table:
            bars["examples"] = table["example_count"]
        bars = bars.rename_axis("slice").reset_index()
        st.altair_chart(components.bar_chart(bars.dropna(subset=["value"]), metric), width="stretch")
    return set(table.index)


def _previous_model(uri, ver, pipeline: str, model) -> tuple[int, int] | None:
    """(model id, evaluation id) of the newest evaluated model logged before this one in the pipeline."""
    for earlier in data.models_before(uri, ver, pipeline, model.id, 5):
        evaluation_id = data.model_context(uri, ver, earlier.id).evaluation_id
        if evaluation_id:
            return earlier.id, evaluation_id
    return None


def _comparisons(uri, ver, pipeline, model, ctx) -> list[tuple[str, int, dict]]:
    """(tab title, evaluation id compared with, its metrics): the baseline, then the previous model."""
    others = []
    tfma_baseline = data.tfma_baseline_metrics(uri, ver, ctx.evaluation_id) if ctx.baseline_id else {}
    if ctx.baseline_id and ctx.baseline_evaluation_id:
        others.append((f"vs baseline artifact:{ctx.baseline_id} (same evaluation data)", ctx.baseline_evaluation_id,
                       data.evaluation_metrics(uri, ver, ctx.baseline_evaluation_id)))
    elif tfma_baseline:  # TFX's Evaluator scored the baseline on the same data, in the same file
        others.append((f"vs baseline artifact:{ctx.baseline_id} (same evaluation data, TFMA)", ctx.evaluation_id,
                       tfma_baseline))
    elif ctx.baseline_id:
        baseline = data.model_context(uri, ver, ctx.baseline_id)
        if baseline.evaluation_id:
            others.append((f"vs baseline artifact:{ctx.baseline_id} (its own evaluation)", baseline.evaluation_id,
                           data.evaluation_metrics(uri, ver, baseline.evaluation_id)))
    previous = _previous_model(uri, ver, pipeline, model)
    if previous:
        others.append((f"vs previous model artifact:{previous[0]}", previous[1],
                       data.evaluation_metrics(uri, ver, previous[1])))
    return others


def _deltas(uri, ver, pipeline, model, ctx, metrics) -> None:
    st.subheader("Changes")
    others = _comparisons(uri, ver, pipeline, model, ctx)
    if not others:
        st.info("No baseline and no earlier model to compare with: this is the first evaluated model.")
        return
    for tab, (title, evaluation_id, other) in zip(st.tabs([t for t, _, _ in others]), others):
        deltas = data.metric_deltas(metrics, other)
        regressions = deltas[deltas["regression"]]
        tab.caption(f"{len(regressions)} regressions over {deltas['slice'].nunique()} slices "
                    f"(compared with artifact:{evaluation_id}; slices hidden above are left out)")
        if not regressions.empty:
            worst = regressions.reindex(regressions["delta"].abs().sort_values(ascending=False).index)
            tab.markdown("**Slices that regressed** (largest change first): " + ", ".join(
                f"{r.slice} {r.metric} {r.delta:+.4f}" for r in worst.head(8).itertuples()))
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
        st.info("This evaluation has no plot data: mlstore's Evaluator writes plots.json; TFMA writes "
                "plots only for the plot metrics its EvalConfig names (ConfusionMatrixPlot, CalibrationPlot).")
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


def _reruns(uri, ver, pipeline: str, ctx) -> None:
    """Reruns of this model's Trainer (``mlstore rerun``) and the models they produced."""
    if ctx.trainer is None:
        return
    copies = sorted(m for m, original in data.rerun_outputs(uri, ver, pipeline).items() if original == ctx.trainer.id)
    if copies:
        st.subheader("Reruns")
        st.markdown(f"The Trainer execution:{ctx.trainer.id} was rerun; the rerun produced "
                    + ", ".join(f"artifact:{m}" for m in copies)
                    + ". See `mlstore rerun` and the Runs page for whether it reproduced.")


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
    uri, ver = components.context()
    shown = frame.assign(outcome=frame["blessed"].map({True: "blessed", False: "failed"}),
                         created=pd.to_datetime(frame["create_time_ms"], unit="ms"),
                         why=[data.decision_reason(uri, ver, int(r.id), None if pd.isna(r.evaluation_id)
                                                   else int(r.evaluation_id)) for r in frame.itertuples()])
    st.dataframe(components.display_spans(shown[["id", "outcome", "why", "baseline_id", "evaluation_id", "span",
                                                 "created"]]), hide_index=True)


def _row(a, role: str, direction: str, step: str) -> dict:
    return {"role": role, "direction": direction, "step": step, "artifact": f"artifact:{a.id}", "type": a.type,
            "span": a.span, "digest": a.digest, "size": a.size}


def _artifacts(uri, ver, model_id: int, ctx) -> None:
    """The trainer's inputs and outputs, then what the Evaluator and the gates made of the model.

    Each row carries the role its event records: the model's own evaluation is
    ``evaluation``, the baseline's evaluation on the same data ``baseline_evaluation``.
    """
    st.subheader("Artifacts")
    rows = []
    if ctx.trainer is not None:
        for ev in data.events(uri, ver, f"execution:{ctx.trainer.id}"):
            a = data.artifact(uri, ver, f"artifact:{ev.artifact_id}")
            rows.append(_row(a, ev.role, "output" if ev.is_output else "input", ctx.trainer.type))
    if ctx.evaluator_id is not None:
        evaluator = data.execution(uri, ver, f"execution:{ctx.evaluator_id}")
        for ev in data.events(uri, ver, f"execution:{ctx.evaluator_id}"):
            if ev.is_output:
                rows.append(_row(data.artifact(uri, ver, f"artifact:{ev.artifact_id}"), ev.role, "downstream",
                                 evaluator.type))
    for blessing_id in ctx.blessings["id"]:
        rows.append(_row(data.artifact(uri, ver, f"artifact:{int(blessing_id)}"), "blessing", "downstream", "Gate"))
    st.dataframe(components.display_spans(pd.DataFrame(rows)), hide_index=True, width="stretch")


with components.guard():
    render()
