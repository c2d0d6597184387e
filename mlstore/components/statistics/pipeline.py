"""StatisticsGen: one Apache Beam pass over every split's files.

Pipeline::

    Create((split, files)) -> Reshuffle -> ReadBatches (every column, cells as read)
      +-> InferTypes: per split, the narrowest type of each column (a side input)
      +-> Partials: per batch, one accumulator per (split, feature)
            -> CombinePerKey(FeatureStatsCombineFn) -> FeatureNameStatistics
      +-> RowCounts per split
      -> CoGroupByKey(split) -> DatasetFeatureStatistics per split -> ToList -> stage

and the driver, once the pipeline has finished, writes ``Split-<name>/FeatureStats.pb``.
The files are read once; types, partials and counts are computed from the same batches.
Workers only reach the staging directory (``--temp_location``, else ``work_dir``), so
the same code runs on any runner (:mod:`mlstore.components.beam_options`). See :mod:`feature_stats` for what is exact and the
quantile sketch's error bound.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlstore.components.statistics import columns as cols
from mlstore.components.statistics import feature_stats as fs
from mlstore.components.statistics.layout import read_statistics, split_dir, write_split_statistics
from mlstore.components.beam_options import pipeline_options as beam_pipeline_options
from mlstore.components.beam_options import collect, read_staged, run_pipeline, stage_value, staging_dir
from mlstore.errors import InvalidArgument, NotFound


def generate_statistics(splits: Mapping[str, Sequence[str]], output_dir: str | Path, *,
                        pipeline_options: PipelineOptions | Sequence[str] | None = None,
                        batch_size: int = 4096, work_dir: str | None = None) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Computes TFDV statistics of each split and writes them in TFX's ExampleStatistics layout.

    Args:
        splits: split name -> its CSV/Parquet/tf.Example TFRecord files (e.g. ``{"train": [".../Split-train/data.csv"]}``).
        output_dir: where ``Split-<name>/FeatureStats.pb`` are written (by the driver).
        pipeline_options: Beam options, as Transform and Evaluator take them (a list of strings
            such as ``["--direct_num_workers=2", "--direct_running_mode=multi_processing"]``).
        batch_size: rows per batch.
        work_dir: where the result is staged when there is no ``--temp_location`` (a
            temporary directory by default; it must be shared by the driver and all workers).

    Returns:
        The statistics read back from ``output_dir``, by split.

    Raises:
        InvalidArgument: no splits, a split without files, a bad split name or file type.
        NotFound: a file does not exist.
        RunnerUnavailable: the Beam runner cannot start.
    """
    jobs = _check_splits(splits, output_dir)
    if batch_size <= 0:
        raise InvalidArgument("batch_size must be positive")
    options = beam_pipeline_options(pipeline_options)
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlstore-statistics-"))
        staged = os.path.join(stack.enter_context(staging_dir(options, work_dir)), "statistics")
        run_pipeline(options, lambda p: _build(p, jobs, staged, batch_size))
        datasets = read_staged(staged, [])
    for split, serialized in sorted(datasets):
        write_split_statistics(output_dir, split, statistics_pb2.DatasetFeatureStatistics.FromString(serialized))
    return read_statistics(output_dir)


def _check_splits(splits: Mapping[str, Sequence[str]], output_dir) -> list[tuple[str, list[str]]]:
    if not splits:
        raise InvalidArgument("no splits given")
    jobs = []
    for split, paths in sorted(splits.items()):
        split_dir(output_dir, split)  # InvalidArgument for a bad name
        if isinstance(paths, str) or not paths:
            raise InvalidArgument(f"split {split!r} needs a non-empty list of files")
        for path in paths:
            cols.data_format(str(path))
            if not Path(path).is_file():
                raise NotFound(f"examples file {str(path)!r} of split {split!r} does not exist")
        jobs.append((split, [str(Path(path).absolute()) for path in paths]))
    return jobs


class _CombineFeature(beam.CombineFn):
    def __init__(self) -> None:
        self._fn = fs.FeatureStatsCombineFn()

    def create_accumulator(self):
        return self._fn.create_accumulator()

    def add_input(self, acc, partial):
        return self._fn.add_input(acc, partial)

    def merge_accumulators(self, accs):
        return self._fn.merge_accumulators(accs)

    def extract_output(self, acc):
        return self._fn.extract_output(acc)


def _merge_type_maps(maps) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for types in maps:
        for name, type_ in types.items():
            out[name] = cols.merge_types(out.get(name), type_)
    return out


def batch_partials(batch: cols.RawBatch, types_by_split: Mapping[str, Mapping[str, str | None]]):
    """One ``((split, feature), accumulator)`` per feature of the split for one batch."""
    num_rows = len(batch.frame)
    for name, type_ in types_by_split[batch.split].items():
        series = batch.frame[name] if name in batch.frame.columns else None
        if type_ in (cols.INT, cols.FLOAT):
            values, missing = cols.numeric_values(series, num_rows)
            partial = fs.numeric_partial(type_, batch.batch_id, values, missing)
        elif type_ == cols.STRING:
            partial = fs.string_partial(*cols.string_counts(series, num_rows))
        else:
            partial = fs.FeatureAccumulator(None, num_missing=num_rows)
        yield (batch.split, name), partial


def _split_statistics(item) -> tuple[str, bytes]:
    split, grouped = item
    num_examples = sum(grouped["rows"])
    dataset = statistics_pb2.DatasetFeatureStatistics(name=split, num_examples=num_examples)
    for name, acc in sorted(grouped["features"]):
        dataset.features.append(fs.feature_statistics(name, acc, num_examples))
    return split, dataset.SerializeToString(deterministic=True)


def _build(p: beam.Pipeline, jobs: list[tuple[str, list[str]]], staged: str, batch_size: int) -> None:
    files = [(split, number, path) for split, paths in jobs for number, path in enumerate(paths)]
    raw = (p | "Files" >> beam.Create(files)
           | "SpreadFiles" >> beam.Reshuffle()
           | "ReadBatches" >> beam.FlatMapTuple(lambda split, number, path: cols.read_file(split, number, path,
                                                                                       batch_size)))
    types = (raw | "BatchTypes" >> beam.Map(lambda b: (b.split, cols.batch_types(b.frame)))
             | "InferTypes" >> beam.CombinePerKey(_merge_type_maps))
    features = (raw | "Partials" >> beam.FlatMap(batch_partials, beam.pvalue.AsDict(types))
                | "CombineFeatures" >> beam.CombinePerKey(_CombineFeature())
                | "BySplit" >> beam.MapTuple(lambda key, acc: (key[0], (key[1], acc))))
    zero_rows = p | "EverySplit" >> beam.Create([(split, 0) for split, _ in jobs])
    rows = ((raw | "BatchRows" >> beam.Map(lambda b: (b.split, len(b.frame))), zero_rows)
            | "AllRows" >> beam.Flatten())
    datasets = ({"rows": rows, "features": features}
                | "GroupBySplit" >> beam.CoGroupByKey()
                | "SplitStatistics" >> beam.Map(_split_statistics))
    stage_value(collect(datasets), staged)
