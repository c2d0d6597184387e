"""Sliced model evaluation: exact metrics per slice in one Beam pass.

Modules: ``slicing`` (slice specs, canonical keys), ``metrics`` (mergeable accumulators,
final metrics, plot data), ``histogram`` (exact-then-binned score histogram behind the
AUCs), ``data`` (EvalConfig, label rule, CSV/Parquet batches, model features),
``beam_eval`` (the pipeline and :func:`evaluate`), ``layout`` (the on-disk
ModelEvaluation format, :class:`EvalResult` and :func:`read_evaluation`).

Typical use::

    from mlstore.components.evaluator import EvalConfig, LabelSpec, SliceSpec, evaluate
    cfg = EvalConfig(LabelSpec.parse("arr_delay > 15"),
                     (SliceSpec.of("carrier"), SliceSpec.of("carrier", "origin"),
                      SliceSpec.of("hour", boundaries={"hour": [6, 9, 12, 15, 18, 21]})))
    result = evaluate("model/", ["eval.parquet"], "out/eval", cfg)
"""

from __future__ import annotations

from .data import EvalConfig, LabelSpec
from .layout import FORMAT_VERSION, EvalResult, SliceResult, read_evaluation, write_evaluation
from .metrics import METRIC_NAMES
from .slicing import OVERALL, SliceSpec, canonical_slice_key, parse_slice_key, slice_features


def __getattr__(name: str):
    # `evaluate` pulls in Apache Beam (~1 s to import); readers of evaluations (the
    # gates, the CLI) only need the light modules, so import it on first use.
    if name == "evaluate":
        from .beam_eval import evaluate
        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EvalConfig", "LabelSpec", "SliceSpec", "EvalResult", "SliceResult", "evaluate",
    "read_evaluation", "write_evaluation", "FORMAT_VERSION", "METRIC_NAMES", "OVERALL",
    "canonical_slice_key", "parse_slice_key", "slice_features",
]
