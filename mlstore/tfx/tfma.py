"""Reading TFMA's evaluation files (what TFX's Evaluator writes) without TFMA.

TFMA 0.47 writes, under a ModelEvaluation's uri, ``metrics-*`` TFRecord files of its
``MetricsForSlice`` protos (and ``validations*`` / ``plots-*``, not read here). TFMA cannot be installed beside mlstore (it pins older protobuf and TF), so the
few fields mlstore reads are declared here with TFMA's field numbers; protobuf skips
the others.

Slice keys become mlstore slice names (``Overall``; ``carrier=AA``; features sorted and
joined by ``,``), metric names stay TFMA's (``auc``, ``binary_accuracy``,
``example_count``). A TFMA run with a baseline evaluates both models: the candidate's
own values are kept, the baseline's and the diffs (``is_diff``) are not.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Iterator

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from mlstore import errors
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


def candidate_names(directory: str | Path) -> frozenset[str]:
    """Names of the evaluated models that are not the baseline, from TFMA's ``eval_config.json``."""
    path = Path(directory) / "eval_config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return frozenset({"", "candidate"})
    specs = config.get("evalConfig", config).get("modelSpecs", [])
    names = frozenset(spec.get("name", "") for spec in specs if not spec.get("isBaseline"))
    return names or frozenset({""})


def read_metrics(directory: str | Path) -> dict[str, dict[str, float]]:
    """``{slice: {metric: value}}`` of the candidate model in a TFMA output directory.

    Metrics of the baseline model (``isBaseline`` in ``eval_config.json``) and diffs
    are left out. Metrics that are not scalars (confusion matrices, arrays) too.

    Raises:
        NotFound: the directory holds no TFMA metrics file.
    """
    directory = Path(directory)
    files = _files(directory, "metrics")
    if not files:
        raise errors.NotFound(f"{directory} holds no TFMA metrics files (metrics-*)")
    candidates = candidate_names(directory)
    out: dict[str, dict[str, float]] = {}
    for path in files:
        for record in tfrecords(path):
            message = _CLASSES["MetricsForSlice"].FromString(record)
            values = out.setdefault(slice_name(message.slice_key), {})
            for entry in message.metric_keys_and_values:
                key = entry.key
                if key.is_diff or key.model_name not in candidates:
                    continue
                name = key.name if not key.output_name else f"{key.output_name}/{key.name}"
                value = entry.value
                if value.HasField("double_value"):
                    values[name] = value.double_value.value
                elif value.HasField("bounded_value"):
                    values[name] = value.bounded_value.value.value
    return {k: v for k, v in out.items() if v}
