"""Reading TFMA's evaluation files (what TFX's Evaluator writes) without TFMA.

TFMA 0.47 writes, under a ModelEvaluation's uri, ``metrics-*`` TFRecord files of its
``MetricsForSlice`` protos, ``plots-*`` files of ``PlotsForSlice`` and one
``validations.tfrecord`` holding a ``ValidationResult`` (why the Evaluator blessed or did
not). TFMA cannot be installed beside mlstore (it pins older protobuf and TF), so the few
fields mlstore reads are declared here with TFMA's field numbers; protobuf skips the
others.

Slice keys become mlstore slice names (``Overall``; ``carrier=AA``; features sorted and
joined by ``,``), metric names stay TFMA's (``auc``, ``binary_accuracy``,
``example_count``). A TFMA run with a baseline evaluates both models on the same data: the
candidate's values are read, the baseline's on request (a gate's deltas on the same
data), the diffs (``is_diff``) never.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from mlstore import errors
from mlstore.components.evaluator import layout
from mlstore.components.evaluator.layout import EvalResult, SliceResult, sort_slices
from mlstore.components.evaluator.slicing import OVERALL, format_number, make_slice_key

#: Metric names TFMA 0.47 and Keras give the metrics TFX users configure; a gate spec
#: may name these besides mlstore's own evaluator metrics.
METRIC_NAMES = (
    "example_count", "weighted_example_count", "auc", "auc_precision_recall", "binary_accuracy", "accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy", "precision", "recall",
    "specificity", "fall_out", "miss_rate", "false_positives", "false_negatives", "true_positives",
    "true_negatives", "mean_label", "mean_prediction", "calibration", "loss", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "mean_squared_error", "mean_absolute_error",
    "root_mean_squared_error", "mean_absolute_percentage_error", "hinge", "squared_hinge", "kl_divergence",
    "poisson", "log_cosh", "f1_score", "multi_class_confusion_matrix", "confusion_matrix_plot",
)

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "mlstore.tfma_subset"

#: (message, [(field, number, type, label, message type)]) with TFMA 0.47's numbers.
_MESSAGES = [
    ("SingleSliceKey", [("column", 1, _F.TYPE_STRING, 1, None), ("bytes_value", 2, _F.TYPE_BYTES, 1, None),
                        ("float_value", 3, _F.TYPE_FLOAT, 1, None), ("int64_value", 4, _F.TYPE_INT64, 1, None)]),
    ("SliceKey", [("single_slice_keys", 1, _F.TYPE_MESSAGE, 3, "SingleSliceKey")]),
    ("BoundedValue", [("value", 3, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue")]),
    ("MetricValue", [("double_value", 1, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                     ("bounded_value", 2, _F.TYPE_MESSAGE, 1, "BoundedValue")]),
    ("MetricKey", [("name", 1, _F.TYPE_STRING, 1, None), ("output_name", 2, _F.TYPE_STRING, 1, None),
                   ("model_name", 4, _F.TYPE_STRING, 1, None), ("is_diff", 5, _F.TYPE_BOOL, 1, None)]),
    ("MetricKeyAndValue", [("key", 1, _F.TYPE_MESSAGE, 1, "MetricKey"), ("value", 2, _F.TYPE_MESSAGE, 1, "MetricValue")]),
    ("MetricsForSlice", [("slice_key", 1, _F.TYPE_MESSAGE, 1, "SliceKey"),
                         ("metric_keys_and_values", 51, _F.TYPE_MESSAGE, 3, "MetricKeyAndValue")]),
    # validation_result.proto and config.proto's thresholds
    ("GenericValueThreshold", [("lower_bound", 1, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                               ("upper_bound", 2, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue")]),
    ("GenericChangeThreshold", [("absolute", 1, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                                ("relative", 2, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                                ("direction", 3, _F.TYPE_INT32, 1, None)]),
    ("MetricThreshold", [("value_threshold", 1, _F.TYPE_MESSAGE, 1, "GenericValueThreshold"),
                         ("change_threshold", 2, _F.TYPE_MESSAGE, 1, "GenericChangeThreshold")]),
    ("ValidationFailure", [("metric_key", 1, _F.TYPE_MESSAGE, 1, "MetricKey"),
                           ("metric_threshold", 2, _F.TYPE_MESSAGE, 1, "MetricThreshold"),
                           ("metric_value", 3, _F.TYPE_MESSAGE, 1, "MetricValue"),
                           ("message", 4, _F.TYPE_STRING, 1, None)]),
    ("MetricsValidationForSlice", [("slice_key", 2, _F.TYPE_MESSAGE, 1, "SliceKey"),
                                   ("failures", 3, _F.TYPE_MESSAGE, 3, "ValidationFailure")]),
    ("ValidationResult", [("validation_ok", 1, _F.TYPE_BOOL, 1, None),
                          ("metric_validations_per_slice", 2, _F.TYPE_MESSAGE, 3, "MetricsValidationForSlice"),
                          ("missing_thresholds", 6, _F.TYPE_BOOL, 1, None),
                          ("rubber_stamp", 7, _F.TYPE_BOOL, 1, None)]),
    # metrics_for_slice.proto's plots
    ("CalibrationBucket", [("lower_threshold_inclusive", 1, _F.TYPE_DOUBLE, 1, None),
                           ("upper_threshold_exclusive", 2, _F.TYPE_DOUBLE, 1, None),
                           ("num_weighted_examples", 3, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                           ("total_weighted_label", 4, _F.TYPE_MESSAGE, 1, ".google.protobuf.DoubleValue"),
                           ("total_weighted_refined_prediction", 5, _F.TYPE_MESSAGE, 1,
                            ".google.protobuf.DoubleValue")]),
    ("CalibrationHistogramBuckets", [("buckets", 1, _F.TYPE_MESSAGE, 3, "CalibrationBucket")]),
    ("ConfusionMatrixAtThreshold", [("threshold", 1, _F.TYPE_DOUBLE, 1, None),
                                    ("precision", 6, _F.TYPE_DOUBLE, 1, None),
                                    ("recall", 7, _F.TYPE_DOUBLE, 1, None),
                                    ("false_positive_rate", 20, _F.TYPE_DOUBLE, 1, None)]),
    ("ConfusionMatrixAtThresholds", [("matrices", 1, _F.TYPE_MESSAGE, 3, "ConfusionMatrixAtThreshold")]),
    ("PlotData", [("calibration_histogram_buckets", 1, _F.TYPE_MESSAGE, 1, "CalibrationHistogramBuckets"),
                  ("confusion_matrix_at_thresholds", 2, _F.TYPE_MESSAGE, 1, "ConfusionMatrixAtThresholds")]),
    ("PlotKey", [("name", 6, _F.TYPE_STRING, 1, None), ("output_name", 2, _F.TYPE_STRING, 1, None),
                 ("model_name", 4, _F.TYPE_STRING, 1, None)]),
    ("PlotKeyAndValue", [("key", 1, _F.TYPE_MESSAGE, 1, "PlotKey"), ("value", 2, _F.TYPE_MESSAGE, 1, "PlotData")]),
    ("PlotsForSlice", [("slice_key", 1, _F.TYPE_MESSAGE, 1, "SliceKey"),
                       ("plot_keys_and_values", 8, _F.TYPE_MESSAGE, 3, "PlotKeyAndValue")]),
]


def _build_classes() -> dict[str, type]:
    file = descriptor_pb2.FileDescriptorProto(name="mlstore/tfma_subset.proto", package=_PACKAGE, syntax="proto3",
                                              dependency=["google/protobuf/wrappers.proto"])
    for name, fields in _MESSAGES:
        message = file.message_type.add(name=name)
        if name == "SingleSliceKey":
            message.oneof_decl.add(name="kind")  # bytes_value / float_value / int64_value
        for field_name, number, kind, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=label)
            if name == "SingleSliceKey" and number > 1:
                field.oneof_index = 0
            if type_name:
                field.type_name = type_name if type_name.startswith(".") else f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto(
        name="google/protobuf/wrappers.proto", package="google.protobuf", syntax="proto3",
        message_type=[descriptor_pb2.DescriptorProto(name="DoubleValue", field=[
            _F(name="value", number=1, type=_F.TYPE_DOUBLE, label=1)])]).SerializeToString())
    pool.AddSerializedFile(file.SerializeToString())
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name, _ in _MESSAGES}


_CLASSES = _build_classes()


def tfrecords(path: Path) -> Iterator[bytes]:
    """The records of an uncompressed TFRecord file (length, CRC, data, CRC framing).

    Raises:
        IntegrityError: the file ends inside a record.
    """
    with open(path, "rb") as f:
        while header := f.read(12):
            if len(header) < 12:
                raise errors.IntegrityError(f"{path}: truncated TFRecord header")
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                raise errors.IntegrityError(f"{path}: truncated TFRecord")
            yield data


def _files(directory: Path, stem: str) -> list[Path]:
    return sorted(p for p in directory.glob(f"{stem}*") if p.is_file() and not p.name.endswith(".json"))


def is_tfma_output(directory: str | Path) -> bool:
    """True when ``directory`` holds TFMA ``metrics*`` files."""
    return bool(_files(Path(directory), "metrics"))


def slice_name(slice_key) -> str:
    """A TFMA SliceKey as an mlstore slice name (``Overall`` for the empty key)."""
    pairs = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        if kind == "bytes_value":
            value = single.bytes_value.decode("utf-8", "backslashreplace")
        elif kind in ("float_value", "int64_value"):
            value = format_number(float(getattr(single, kind)))
        else:
            value = ""
        pairs.append((single.column, value))
    return make_slice_key(pairs) if pairs else OVERALL


def _model_specs(directory: str | Path) -> list[dict] | None:
    path = Path(directory) / "eval_config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return config.get("evalConfig", config).get("modelSpecs", [])


def candidate_names(directory: str | Path) -> frozenset[str]:
    """Names of the evaluated models that are not the baseline, from TFMA's ``eval_config.json``."""
    specs = _model_specs(directory)
    if specs is None:
        return frozenset({"", "candidate"})
    names = frozenset(spec.get("name", "") for spec in specs if not spec.get("isBaseline"))
    return names or frozenset({""})


def baseline_names(directory: str | Path) -> frozenset[str]:
    """Names of the baseline models TFMA evaluated on the same data (``isBaseline``); empty without one."""
    return frozenset(spec.get("name", "") for spec in (_model_specs(directory) or []) if spec.get("isBaseline"))


def read_metrics(directory: str | Path, *, baseline: bool = False) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of the candidate model in a TFMA output directory
    (with ``baseline``, of the baseline model TFMA evaluated on the same data).

    Metrics of the other model and diffs are left out. Metrics that are not scalars
    (confusion matrices, arrays) too.

    Raises:
        NotFound: the directory holds no TFMA metrics file.
    """
    directory = Path(directory)
    files = _files(directory, "metrics")
    if not files:
        raise errors.NotFound(f"{directory} holds no TFMA metrics files (metrics-*)")
    models = baseline_names(directory) if baseline else candidate_names(directory)
    out: dict[str, dict[str, float]] = {}
    for path in files:
        for record in tfrecords(path):
            message = _CLASSES["MetricsForSlice"].FromString(record)
            values = out.setdefault(slice_name(message.slice_key), {})
            for entry in message.metric_keys_and_values:
                key = entry.key
                if key.is_diff or key.model_name not in models:
                    continue
                name = key.name if not key.output_name else f"{key.output_name}/{key.name}"
                value = entry.value
                if value.HasField("double_value"):
                    values[name] = value.double_value.value
                elif value.HasField("bounded_value"):
                    values[name] = value.bounded_value.value.value
    return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class ValidationFailure:
    """One threshold TFMA found violated: on ``slice``, ``metric`` (a change against the
    baseline when ``is_diff``) was ``value``; ``threshold`` says what was required."""

    slice: str
    metric: str
    is_diff: bool
    value: float | None
    threshold: str
    message: str


@dataclass(frozen=True)
class Validation:
    """TFMA's ``ValidationResult``: the Evaluator's reason to bless or not.

    ``rubber_stamp``: there was no baseline, so change thresholds were not applied.
    """

    ok: bool
    rubber_stamp: bool
    missing_thresholds: bool
    failures: tuple[ValidationFailure, ...]

    def summary(self) -> str:
        """One line: ``passed`` / ``failed: binary_accuracy change on Overall 0.0435 (needs >= +0.5)``."""
        if self.ok:
            return "passed (no baseline: change thresholds not applied)" if self.rubber_stamp else "passed"
        parts = [f"{f.metric}{' change' if f.is_diff else ''} on {f.slice} "
                 f"{'–' if f.value is None else format(f.value, '.4g')} (needs {f.threshold})"
                 for f in self.failures]
        return "failed: " + "; ".join(parts) if parts else "failed"


def _threshold_text(threshold) -> str:
    """``>= +0.5``, ``relative <= -0.1``, ``>= 0.6 and <= 1``: what a TFMA threshold requires."""
    if threshold.HasField("change_threshold"):
        message = threshold.change_threshold
        sign = ">=" if message.direction != 1 else "<="  # MetricDirection: 1 lower, 2 higher is better
        bounds, fallback = (("absolute", f"{sign} {{:+g}}"), ("relative", f"relative {sign} {{:+g}}")), "a change threshold"
    else:
        message = threshold.value_threshold
        bounds, fallback = (("lower_bound", ">= {:g}"), ("upper_bound", "<= {:g}")), "a value threshold"
    return " and ".join(text.format(getattr(message, field).value)
                        for field, text in bounds if message.HasField(field)) or fallback


def read_validations(directory: str | Path) -> Validation | None:
    """TFMA's ``validations.tfrecord`` under ``directory``; None when TFMA wrote none.

    Raises:
        IntegrityError: the file is truncated.
    """
    files = _files(Path(directory), "validations")
    records = [record for path in files for record in tfrecords(path)]
    if not records:
        return None
    result = _CLASSES["ValidationResult"].FromString(records[0])
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            key, value = failure.metric_key, failure.metric_value
            number = (value.double_value.value if value.HasField("double_value")
                      else value.bounded_value.value.value if value.HasField("bounded_value") else None)
            failures.append(ValidationFailure(
                slice_name(per_slice.slice_key), key.name if not key.output_name else f"{key.output_name}/{key.name}",
                key.is_diff, number, _threshold_text(failure.metric_threshold), failure.message))
    return Validation(result.validation_ok, result.rubber_stamp, result.missing_thresholds, tuple(failures))


def read_plots(directory: str | Path) -> dict[str, dict]:
    """``{slice: plots}`` of the candidate model in mlstore's plot shapes (``roc``, ``pr``,
    ``calibration``), from TFMA's ConfusionMatrixPlot and CalibrationPlot data.

    Slices whose PlotsForSlice is empty (no plot metric configured) are left out.
    """
    candidates = candidate_names(directory)
    out: dict[str, dict] = {}
    for path in _files(Path(directory), "plots"):
        for record in tfrecords(path):
            message = _CLASSES["PlotsForSlice"].FromString(record)
            plots: dict[str, dict] = {}
            for entry in message.plot_keys_and_values:
                if entry.key.model_name not in candidates:
                    continue
                data = entry.value
                matrices = sorted(data.confusion_matrix_at_thresholds.matrices, key=lambda m: m.threshold)
                if matrices:
                    # Ascending thresholds walk the ROC curve from (1, 1) down to (0, 0).
                    plots["roc"] = {"fpr": [m.false_positive_rate for m in reversed(matrices)],
                                    "tpr": [m.recall for m in reversed(matrices)],
                                    "threshold": [m.threshold for m in reversed(matrices)]}
                    plots["pr"] = {"recall": [m.recall for m in matrices],
                                   "precision": [m.precision for m in matrices],
                                   "threshold": [m.threshold for m in matrices]}
                buckets = data.calibration_histogram_buckets.buckets
                if buckets:
                    counts = [b.num_weighted_examples.value for b in buckets]
                    plots["calibration"] = {
                        "bin_edges": [b.lower_threshold_inclusive for b in buckets]
                        + [buckets[-1].upper_threshold_exclusive],
                        "weighted_count": counts,
                        "mean_prediction": [b.total_weighted_refined_prediction.value / n if n else None
                                            for b, n in zip(buckets, counts)],
                        "mean_label": [b.total_weighted_label.value / n if n else None
                                       for b, n in zip(buckets, counts)]}
            if plots:
                out[slice_name(message.slice_key)] = plots
    return out


def read_evaluation(directory: str | Path, with_plots: bool = True, *, baseline: bool = False) -> EvalResult:
    """A TFMA output directory as an :class:`EvalResult`: the candidate model's values, or
    with ``baseline`` those of the baseline model TFMA evaluated on the same data.

    Raises:
        NotFound: the directory holds no TFMA metrics file, or (``baseline``) no baseline's.
    """
    metrics = read_metrics(directory, baseline=baseline)
    if baseline and not metrics:
        raise errors.NotFound(f"{directory}: TFMA evaluated no baseline model here")
    plots = read_plots(directory) if with_plots and not baseline else {}
    slices = sort_slices([SliceResult(key, values, plots.get(key, {})) for key, values in metrics.items()])
    count = int(metrics.get(OVERALL, {}).get("example_count") or 0)
    return EvalResult(slices=tuple(slices), num_examples=count, num_missing_label=0, label={})


def read_any_evaluation(directory: str | Path, with_plots: bool = True) -> EvalResult:
    """An evaluation in mlstore's layout (``metrics.json``) or in TFMA's (``metrics-*``).

    Raises:
        NotFound: neither layout is there.
        DataError: mlstore's files are malformed.
    """
    if is_tfma_output(directory):
        return read_evaluation(directory, with_plots)
    return layout.read_evaluation(str(directory), with_plots)
