"""StatisticsGen: one Apache Beam pass over every split's files.

Pipeline::

    Create((split, number, file)) (reshuffled over the workers when there is more than one file)
      -> ReadPartials: per batch of a file (every column, cells as read) (split, (rows, {feature: partial})),
         each column typed as the batch reads it; a split's first file also gives (split, (0, {}))
      -> CombinePerKey(split, SplitStatsCombineFn) -> Stage: each split's DatasetFeatureStatistics
         written to the staging directory as ``<split>``

and the driver, once the pipeline has finished, writes ``Split-<name>/FeatureStats.pb``.
The files are read once, in one fused stage: no side input, so the batches are never
materialized between stages; the combiner merges the batches' types (the narrowest
type of the whole split) and only a column read as numbers in some batches and as text
in others has those batches read again (that column alone) to count their values as text.
Few transforms, each with its output type declared: Beam's fixed cost per run
(construction, type inference, translation, one bundle per stage) grows with them, so
there is one shuffle (the combine) and no Flatten or collecting group.
Workers only reach the staging directory (``--temp_location``, else ``work_dir``), so
the same code runs on any runner (:mod:`mlstore.components.beam_options`). See :mod:`feature_stats` for what is exact and the
quantile sketch's error bound.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlstore.components import uris
from mlstore.components.statistics import columns as cols
from mlstore.components.statistics import feature_stats as fs
from mlstore.components.statistics.layout import read_statistics, split_dir, write_split_statistics
from mlstore.components.beam_options import pipeline_options as beam_pipeline_options
from mlstore.components.beam_options import read_staged, run_pipeline, stage_path, staging_dir, write_staged
from mlstore.errors import InvalidArgument, NotFound, RunnerUnavailable


def generate_statistics(splits: Mapping[str, Sequence[str]], output_dir: str | Path, *,
                        pipeline_options: PipelineOptions | Sequence[str] | None = None,
                        batch_size: int = 4096, work_dir: str | None = None) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Computes TFDV statistics of each split and writes them in TFX's ExampleStatistics layout.

    Args:
        splits: split name -> its CSV/Parquet/tf.Example TFRecord files (e.g. ``{"train": [".../Split-train/data.csv"]}``),
            local paths or URIs the workers read (``file://``, fsspec URLs; :mod:`mlstore.components.uris`).
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
        RunnerUnavailable: the Beam runner cannot start, or its run ended without every split's statistics.
    """
    jobs = _check_splits(splits, output_dir)
    if batch_size <= 0:
        raise InvalidArgument("batch_size must be positive")
    options = beam_pipeline_options(pipeline_options)
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlstore-statistics-"))
        staged = stack.enter_context(staging_dir(options, work_dir))
        run_pipeline(options, lambda p: _build(p, jobs, staged, batch_size),
                     parallelism=sum(len(paths) for _, paths in jobs))
        datasets = {split: read_staged(stage_path(staged, split)) for split, _ in jobs}
    missing = sorted(split for split, serialized in datasets.items() if serialized is None)
    if missing:
        raise RunnerUnavailable(f"the Beam pipeline finished without the statistics of split(s) {', '.join(missing)}")
    for split, serialized in sorted(datasets.items()):
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
            if not uris.exists(uris.absolute(path)):
                raise NotFound(f"examples file {str(path)!r} of split {split!r} does not exist")
        jobs.append((split, [uris.absolute(path) for path in paths]))
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
    """The partials of every batch of one file, after ``(split, (0, {}))`` for a split's first
    file (a split whose files have no rows still gets statistics): batches are never
    elements themselves (Beam would pickle DataFrames to sample element sizes)."""
    if number == 0:
        yield split, (0, {})
    for batch in cols.read_file(split, number, path, batch_size):
        yield batch_partials(batch)


def _stage_split(split: str, acc: fs.SplitAccumulator, staged: str) -> str:
    serialized = fs.dataset_statistics(split, acc).SerializeToString(deterministic=True)
    return write_staged(serialized, stage_path(staged, split))


def _build(p: beam.Pipeline, jobs: list[tuple[str, list[str]]], staged: str, batch_size: int) -> None:
    files = [(split, number, path) for split, paths in jobs for number, path in enumerate(paths)]
    # Declared output types: Beam would otherwise infer them by decompiling the functions
    # (and what they call) at construction; Any is what it infers, so the coders are the same.
    (p | "Files" >> beam.Create(files)  # reshuffles them over the workers (more than one file)
     | "ReadPartials" >> beam.FlatMapTuple(
         lambda split, number, path: _file_partials(split, number, path, batch_size)).with_output_types(Any)
     | "CombineSplits" >> beam.CombinePerKey(_CombineSplit())
     | "Stage" >> beam.MapTuple(lambda split, acc: _stage_split(split, acc, staged)).with_output_types(str))
