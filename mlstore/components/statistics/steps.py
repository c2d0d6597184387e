"""StatisticsGen, SchemaGen and ExampleValidator as pipeline steps ``fn(inputs, params, out) -> outputs``.

The executor (:mod:`mlstore.pipeline.executor`) hands them verified local copies of
their inputs and records what they return, with lineage:

* ``StatisticsGen``: ``examples`` (Examples, ``Split-<name>/*.csv|*.parquet``, or TFX's tf.Example TFRecords) ->
  ``statistics`` (ExampleStatistics). Params: ``beam_options``, ``batch_size``.
* ``SchemaGen``: ``statistics`` -> ``schema`` (Schema, ``schema.pbtxt``). Params:
  ``split`` (default ``train``), ``drift_threshold``, ``skew_threshold``.
* ``ExampleValidator``: ``statistics`` + ``schema`` [+ ``previous_statistics``: the previous
  span's, for drift] -> ``anomalies`` (ExampleAnomalies). Every split is checked against
  the schema and, when given, the same split of the previous span (drift); the other
  splits also against the ``training_split`` (default ``train``) of the same span (skew).

Components are imported inside the functions: the executor's code digest follows the
imports of a step's body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from mlstore import errors
from mlstore.pipeline.executor import StepInput, StepOutput



def example_splits(examples_dir: Path | str) -> dict[str, list[str]]:
    """Split name -> data files of an Examples directory (``Split-<name>/``), a local path or
    a URI (then the files are URIs too, :mod:`mlstore.components.uris`).

    Raises:
        DataError: no split holds CSV, Parquet or tf.Example TFRecord files.
    """
    from mlstore.components import uris  # noqa: PLC0415

    base = str(examples_dir)
    splits: dict[str, list[str]] = {}
    for relative in uris.list_files(base):
        folder, _, name = relative.partition("/")
        if folder.startswith("Split-") and name and "/" not in name and _is_data_file(name):
            splits.setdefault(folder[len("Split-"):], []).append(uris.join(base, relative))
    if not splits:
        raise errors.DataError(f"Examples at {examples_dir} have no Split-<name>/ with CSV, Parquet or TFRecord files")
    return splits


def _is_data_file(path: str) -> bool:
    from mlstore.components.evaluator.data import data_format  # noqa: PLC0415

    try:
        data_format(path)
    except errors.InvalidArgument:
        return False
    return True


def _span_properties(artifact, splits) -> dict[str, Any]:
    props: dict[str, Any] = {"split_names": json.dumps(sorted(splits))}
    if artifact.span is not None:
        props["span"] = artifact.span
    return props


def statistics_gen(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """TFDV statistics of every split of ``examples`` (one Beam pass)."""
    from mlstore.components.beam_options import step_options  # noqa: PLC0415
    from mlstore.components.statistics.pipeline import generate_statistics  # noqa: PLC0415

    splits = example_splits(inputs["examples"].uri)  # the workers read the object URIs
    generate_statistics(splits, out, pipeline_options=step_options(params), work_dir=str(out.parent),
                        batch_size=int(params.get("batch_size", 4096)))
    return [StepOutput(out, "ExampleStatistics", "statistics", _span_properties(inputs["examples"].artifact, splits))]


def schema_gen(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """A schema inferred from one split's statistics."""
    from mlstore.components.statistics.layout import read_statistics, write_schema  # noqa: PLC0415
    from mlstore.components.statistics.schema_gen import infer_schema  # noqa: PLC0415

    stats = read_statistics(inputs["statistics"].path)
    split = str(params.get("split", "train"))
    if split not in stats:
        raise errors.InvalidArgument(f"statistics have no split {split!r}; splits: {', '.join(sorted(stats))}")
    schema = infer_schema(stats[split], drift_threshold=params.get("drift_threshold"),
                          skew_threshold=params.get("skew_threshold"))
    write_schema(out, schema)
    span = inputs["statistics"].artifact.span
    return [StepOutput(out, "Schema", "schema", {"span": span} if span is not None else {})]


def example_validator(inputs: Mapping[str, StepInput], params: Mapping[str, Any], out: Path) -> list[StepOutput]:
    """Anomalies of every split against the schema, drift against the previous span, skew against training."""
    from mlstore.components.statistics.layout import read_schema, read_statistics, write_split_anomalies  # noqa: PLC0415
    from mlstore.components.statistics.validate import anomaly_features, validate_statistics  # noqa: PLC0415

    stats = read_statistics(inputs["statistics"].path)
    schema = read_schema(inputs["schema"].path)
    previous = read_statistics(inputs["previous_statistics"].path) if "previous_statistics" in inputs else {}
    training_split = str(params.get("training_split", "train"))
    found = {}
    for split, dataset in sorted(stats.items()):
        training = stats.get(training_split) if split != training_split else None
        anomalies = validate_statistics(dataset, schema, previous=previous.get(split), training=training)
        write_split_anomalies(out, split, anomalies)
        found[split] = anomaly_features(anomalies)
    props = {**_span_properties(inputs["statistics"].artifact, stats),
             "anomalous_features": json.dumps(found, sort_keys=True)}
    return [StepOutput(out, "ExampleAnomalies", "anomalies", props)]


STEPS = {"StatisticsGen": statistics_gen, "SchemaGen": schema_gen, "ExampleValidator": example_validator}
