"""StatisticsGen: one Apache Beam pass over every split's files.

Pipeline::

    Create((split, files), reshuffled)
      -> ReadPartials: per batch of a file (every column, cells as read) (split, (rows, {feature: partial})),
         each column typed as the batch reads it
      -> CombinePerKey(split, SplitStatsCombineFn) -> write Split-<name>/FeatureStats.pb

The files are read once, in one fused stage: no side input, so the batches are never
materialized between stages; the combiner merges the batches' types (the narrowest
type of the whole split) and only a column read as numbers in some batches and as text
in others has those batches read again (that column alone) to count their values as text.
Few transforms: Beam's fixed cost per run (construction, translation) grows with them.
Results are written by the pipeline itself, so the same code runs on any runner given
an ``output_dir`` all workers see. See :mod:`feature_stats` for what is exact and the
quantile sketch's error bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlstore.components.statistics import columns as cols
from mlstore.components.statistics import feature_stats as fs
from mlstore.components.statistics.layout import read_statistics, split_dir, write_split_statistics
from mlstore.components.evaluator.beam_eval import _options as beam_options  # the Evaluator's option handling
from mlstore.errors import InvalidArgument, NotFound


def generate_statistics(splits: Mapping[str, Sequence[str]], output_dir: str | Path, *,
                        pipeline_options: PipelineOptions | Sequence[str] | None = None,
                        batch_size: int = 4096) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Computes TFDV statistics of each split and writes them in TFX's ExampleStatistics layout.

    Args:
        splits: split name -> its CSV/Parquet files (e.g. ``{"train": [".../Split-train/data.csv"]}``).
        output_dir: where ``Split-<name>/FeatureStats.pb`` are written (shared by the workers).
        pipeline_options: Beam options, as Transform and Evaluator take them (a list of strings
            such as ``["--direct_num_workers=2", "--direct_running_mode=multi_processing"]``).
        batch_size: rows per batch.

    Returns:
        The statistics read back from ``output_dir``, by split.

    Raises:
        InvalidArgument: no splits, a split without files, a bad split name or file type.
        NotFound: a file does not exist.
    """
    jobs = _check_splits(splits, output_dir)
    if batch_size <= 0:
        raise InvalidArgument("batch_size must be positive")
    with beam.Pipeline(options=beam_options(pipeline_options)) as p:
        _build(p, jobs, str(output_dir), batch_size)
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


class _CombineSplit(beam.CombineFn):
    def __init__(self) -> None:
        self._fn = fs.SplitStatsCombineFn()

    def create_accumulator(self):
        return self._fn.create_accumulator()

    def add_input(self, acc, batch):
        return self._fn.add_input(acc, batch)

    def merge_accumulators(self, accs):
        return self._fn.merge_accumulators(accs)

    def extract_output(self, acc):
        return self._fn.extract_output(acc)


def batch_partials(batch: cols.RawBatch) -> tuple[str, tuple[int, dict[str, fs.BatchPartial]]]:
    """``(split, (rows, {feature: partial}))`` of one batch, each column typed as this batch
    reads it (the combiner merges the types)."""
    num_rows = len(batch.frame)
    partials = {}
    for name in batch.frame.columns:
        name = str(name)
        type_, values = cols.column_values(batch.frame[name])
        if type_ in (cols.INT, cols.FLOAT):
            source = (batch.path, batch.batch_size, name, batch.batch_id[1])
            partial = fs.numeric_partial(type_, batch.batch_id, values, num_rows - values.size, source)
        elif type_ == cols.STRING:
            partial = fs.string_partial(values, num_rows - sum(values.values()))
        else:
            partial = fs.BatchPartial(None, num_missing=num_rows)
        partials[name] = partial
    return batch.split, (num_rows, partials)


def _file_partials(split: str, number: int, path: str, batch_size: int):
    """The partials of every batch of one file: batches are never elements themselves (Beam
    would pickle DataFrames to sample element sizes)."""
    for batch in cols.read_file(split, number, path, batch_size):
        yield batch_partials(batch)


def _write_split(item, output_dir: str) -> str:
    split, acc = item
    return str(write_split_statistics(output_dir, split, fs.dataset_statistics(split, acc)))


def _build(p: beam.Pipeline, jobs: list[tuple[str, list[str]]], output_dir: str, batch_size: int) -> None:
    files = [(split, number, path) for split, paths in jobs for number, path in enumerate(paths)]
    batches = (p | "Files" >> beam.Create(files)  # reshuffles them over the workers (more than one file)
               | "ReadPartials" >> beam.FlatMapTuple(
                   lambda split, number, path: _file_partials(split, number, path, batch_size)))
    every_split = p | "EverySplit" >> beam.Create([(split, (0, {})) for split, _ in jobs],  # a split may be empty
                                                  reshuffle=False)
    _ = ((batches, every_split)
         | "AllBatches" >> beam.Flatten()
         | "CombineSplits" >> beam.CombinePerKey(_CombineSplit())
         | "Write" >> beam.Map(_write_split, output_dir))
