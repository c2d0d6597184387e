"""The ModelEvaluation artifact: :class:`EvalResult` and its on-disk layout.

Layout of an evaluation directory (``format_version`` 1)::

    <dir>/
      metrics.json   {"format_version": 1,
                      "num_examples": 4990,            # labeled rows evaluated
                      "num_missing_label": 10,         # rows dropped for a missing label
                      "label": {"column": "arr_delay", "op": ">", "threshold": 15.0},
                      "example_weight_column": null,
                      "slicing_specs": [{"features": ["carrier"], "boundaries": {}}, ...],
                      "slices": [{"slice": "Overall", "metrics": {"auc_roc": 0.71, ...}},
                                 {"slice": "carrier=AA", "metrics": {...}}, ...]}
      plots.json     {"format_version": 1,
                      "slices": [{"slice": "Overall",
                                  "plots": {"calibration": {...}, "roc": {...},
                                            "pr": {...}, "prediction_histogram": {...}}}]}

Slices are listed ``Overall`` first, then sorted by key. Metric names are
``metrics.METRIC_NAMES``; an undefined metric is ``null``. Slice keys follow
``slicing`` (``carrier=AA,origin=JFK``, ``hour=[6,9)``). Readers reject other
``format_version`` values; a future version bump must keep a reader for version 1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from mlstore.errors import DataError, NotFound

from .slicing import OVERALL, slice_features

FORMAT_VERSION = 1
METRICS_FILE = "metrics.json"
PLOTS_FILE = "plots.json"


@dataclass(frozen=True)
class SliceResult:
    """Metrics (and optionally plot data) of one slice."""

    slice_key: str
    metrics: dict[str, Any]
    plots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalResult:
    """A model evaluation: per-slice metrics and plots plus how they were computed."""

    slices: tuple[SliceResult, ...]
    num_examples: int
    num_missing_label: int
    label: dict[str, Any]
    example_weight_column: str | None = None
    slicing_specs: tuple[dict[str, Any], ...] = ()

    def slice_keys(self) -> list[str]:
        """Slice keys in layout order (Overall first)."""
        return [s.slice_key for s in self.slices]

    def get(self, slice_key: str) -> SliceResult | None:
        """The slice with this canonical key, or ``None``."""
        for s in self.slices:
            if s.slice_key == slice_key:
                return s
        return None

    def metric(self, slice_key: str, name: str) -> Any:
        """One metric value, ``None`` if the slice or metric is absent."""
        s = self.get(slice_key)
        return None if s is None else s.metrics.get(name)

    def features(self) -> set[str]:
        """Every feature that appears in a slice key or slicing spec."""
        feats = {f for s in self.slices for f in slice_features(s.slice_key)}
        feats.update(f for spec in self.slicing_specs for f in spec.get("features", ()))
        return feats


def sort_slices(slices: list[SliceResult]) -> tuple[SliceResult, ...]:
    """Layout order: Overall first, then by key."""
    return tuple(sorted(slices, key=lambda s: (s.slice_key != OVERALL, s.slice_key)))


def _write_json(path: str, payload: dict, indent: int | None) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        # json.dumps with indent=None takes the C encoder (json.dump never does), which
        # matters for plots.json: curves for every slice.
        fh.write(json.dumps(payload, indent=indent, allow_nan=False))
        fh.write("\n")
    os.replace(tmp, path)  # readers never see a half-written file


def write_evaluation(directory: str, result: EvalResult) -> None:
    """Write ``metrics.json`` and ``plots.json`` into ``directory`` (created if needed)."""
    os.makedirs(directory, exist_ok=True)
    metrics = {
        "format_version": FORMAT_VERSION,
        "num_examples": result.num_examples,
        "num_missing_label": result.num_missing_label,
        "label": result.label,
        "example_weight_column": result.example_weight_column,
        "slicing_specs": list(result.slicing_specs),
        "slices": [{"slice": s.slice_key, "metrics": s.metrics} for s in result.slices],
    }
    plots = {"format_version": FORMAT_VERSION,
             "slices": [{"slice": s.slice_key, "plots": s.plots} for s in result.slices]}
    _write_json(os.path.join(directory, METRICS_FILE), metrics, indent=1)
    _write_json(os.path.join(directory, PLOTS_FILE), plots, indent=None)


def _read_json(path: str) -> dict:
    if not os.path.exists(path):
        raise NotFound(f"evaluation file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read evaluation file {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        version = data.get("format_version") if isinstance(data, dict) else None
        raise DataError(f"{path}: unsupported format_version {version!r} (expected {FORMAT_VERSION})")
    return data


def read_evaluation(directory: str, with_plots: bool = True) -> EvalResult:
    """Read an evaluation directory written by :func:`write_evaluation`.

    Args:
        directory: the ModelEvaluation artifact directory.
        with_plots: also read ``plots.json`` (skip it for a faster metrics-only read).

    Returns:
        The :class:`EvalResult`.

    Raises:
        NotFound: ``metrics.json`` (or ``plots.json`` when requested) is missing.
        DataError: a file is not valid JSON or has an unsupported ``format_version``.
    """
    data = _read_json(os.path.join(directory, METRICS_FILE))
    plots: dict[str, dict] = {}
    if with_plots:
        plot_data = _read_json(os.path.join(directory, PLOTS_FILE))
        plots = {entry["slice"]: entry["plots"] for entry in plot_data.get("slices", [])}
    try:
        slices = tuple(SliceResult(e["slice"], dict(e["metrics"]), plots.get(e["slice"], {}))
                       for e in data["slices"])
        return EvalResult(
            slices=slices,
            num_examples=int(data["num_examples"]),
            num_missing_label=int(data["num_missing_label"]),
            label=dict(data["label"]),
            example_weight_column=data.get("example_weight_column"),
            slicing_specs=tuple(data.get("slicing_specs", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{directory}/{METRICS_FILE} is malformed: {exc!r}") from exc
