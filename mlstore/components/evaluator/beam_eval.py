"""Sliced evaluation in one exact Beam pass.

Pipeline::

    Create(files) -> PredictAndSlice, per file (model loaded once per DoFn in setup(); the
         file read in DataFrames of `batch_size` rows, one model call and one vectorised
         accumulation per batch, merged over the file; emits ("slice", (slice_key,
         accumulator)) per slice of the file and ("dropped", rows dropped for a missing label))
      -> CombinePerKey(merge accumulators), and the dropped rows summed
      -> collect (one list) -> finalize metrics + plots -> stage (beam_options.stage_value)

and the driver, once the pipeline has finished, reads the staged result back and
writes the ModelEvaluation layout (layout.py) into `output_dir`.

Per-file pre-aggregation matters: a file turns into one accumulator per slice, so the
combine sees a few elements per file rather than one per row or batch (a runner without
combiner lifting, like Beam's DaskRunner, shuffles every element the combine gets), and
no batch is ever an element (the DaskRunner would materialize a partition's batches).
Workers never write the output; they only need to reach the staging directory
(``--temp_location``, else ``work_dir``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Iterator, Sequence

import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.options.pipeline_options import PipelineOptions

from mlstore.components.beam_options import pipeline_options as beam_pipeline_options
from mlstore.components.beam_options import collect, read_staged, run_pipeline, stage_value, staging_dir
from mlstore.errors import DataError, InvalidArgument

from . import metrics as m
from .data import (EvalConfig, check_predictions, column_names, example_weights,
                   model_features, read_batches)
from .layout import EvalResult, SliceResult, read_evaluation, sort_slices, write_evaluation
from .slicing import SliceSpec, assign_slices

DEFAULT_OPTIONS = ("--runner=DirectRunner", "--direct_num_workers=1")
# One output stream of (kind, value): Dask's runner mixes up a ParDo's tagged outputs.
_DROPPED, _SLICE = "dropped", "slice"


def signature_inputs(signature) -> dict[str, str]:
    """Input name -> ``"string"`` or NumPy dtype name, from a serving signature."""
    import tensorflow as tf
    specs = signature.structured_input_signature[1]
    return {name: ("string" if spec.dtype == tf.string else spec.dtype.as_numpy_dtype.__name__)
            for name, spec in sorted(specs.items())}


def load_serving_signature(model_dir: str):
    """Load ``serving_default`` of a SavedModel; returns (loaded, signature)."""
    import tensorflow as tf
    loaded = tf.saved_model.load(model_dir)
    if "serving_default" not in loaded.signatures:
        raise InvalidArgument(f"SavedModel {model_dir} has no serving_default signature")
    return loaded, loaded.signatures["serving_default"]


def predict(signature, input_dtypes: dict[str, str], batch: pd.DataFrame) -> np.ndarray:
    """Run the serving signature on one batch; returns P(label=1) as float64."""
    import tensorflow as tf
    feats = model_features(batch, input_dtypes)
    tensors = {k: tf.constant(v, dtype=tf.string if input_dtypes[k] == "string" else input_dtypes[k])
               for k, v in feats.items()}
    outputs = signature(**tensors)
    if "probabilities" not in outputs:
        raise DataError("model output has no 'probabilities' (see the serving contract)")
    return check_predictions(outputs["probabilities"].numpy(), "the model")


def batch_slice_accumulators(batch: pd.DataFrame, predictions: np.ndarray, labels: np.ndarray,
                             weights: np.ndarray, specs: Sequence[SliceSpec]
                             ) -> Iterator[tuple[str, m.MetricsAccumulator]]:
    """One (slice_key, accumulator) per slice present in the (labeled) batch."""
    score_order = np.argsort(predictions)  # shared by every spec's accumulation
    for spec in specs:
        codes, keys = assign_slices(batch, spec)
        accs = m.batch_accumulators(codes, len(keys), labels, predictions, weights, score_order)
        yield from zip(keys, accs)


class _PredictAndSlice(beam.DoFn):
    """Per file: model inference once per batch, per-slice accumulators of each batch merged
    over the file's batches (in file order); emits one accumulator per slice of the file."""

    def __init__(self, model_dir: str | None, config: EvalConfig):
        self._model_dir = model_dir
        self._config = config
        self._signature = None
        self._input_dtypes: dict[str, str] = {}

    def setup(self) -> None:
        if self._model_dir is not None:
            # Keep `loaded` alive: the signature's variables belong to it.
            self._loaded, self._signature = load_serving_signature(self._model_dir)
            self._input_dtypes = signature_inputs(self._signature)

    def process(self, path: str):
        per_slice: dict[str, m.MetricsAccumulator] = {}
        dropped = 0
        for batch in read_batches(path, self._config.batch_size, None):
            for kind, value in self._batch(batch):
                if kind == _DROPPED:
                    dropped += value
                elif value[0] in per_slice:
                    per_slice[value[0]].merge(value[1])
                else:
                    per_slice[value[0]] = value[1]
        if dropped:
            yield _DROPPED, dropped
        for pair in per_slice.items():
            yield _SLICE, pair

    def _batch(self, batch: pd.DataFrame):
        cfg = self._config
        labels, keep = cfg.label.labels(batch)
        dropped = int((~keep).sum())
        if dropped:
            yield _DROPPED, dropped
        if not keep.all():
            batch = batch.loc[keep].reset_index(drop=True)
        if len(batch) == 0:
            return
        if cfg.prediction_column is not None:
            preds = check_predictions(batch[cfg.prediction_column].to_numpy(dtype=np.float64),
                                      f"prediction column {cfg.prediction_column!r}")
        else:
            preds = predict(self._signature, self._input_dtypes, batch)
        weights = example_weights(batch, cfg.example_weight_column)
        for pair in batch_slice_accumulators(batch, preds, labels, weights, cfg.all_specs()):
            yield _SLICE, pair


class _MergeAccumulators(beam.CombineFn):
    def create_accumulator(self) -> m.MetricsAccumulator:
        return m.MetricsAccumulator()

    def add_input(self, acc, element):
        return acc.merge(element)

    def merge_accumulators(self, accumulators):
        accs = iter(accumulators)
        first = next(accs)
        for other in accs:
            first.merge(other)
        return first

    def extract_output(self, acc):
        return acc


def finalize(pairs: Sequence[tuple[str, m.MetricsAccumulator]], num_missing: int,
             config: EvalConfig) -> EvalResult:
    """Turn merged per-slice accumulators into an :class:`EvalResult`."""
    slices = [SliceResult(key, m.compute_metrics(acc), m.compute_plots(acc)) for key, acc in pairs]
    overall = next((acc for key, acc in pairs if key == "Overall"), None)
    return EvalResult(
        slices=sort_slices(slices),
        num_examples=overall.example_count if overall else 0,
        num_missing_label=int(num_missing),
        label=config.label.to_dict(),
        example_weight_column=config.example_weight_column,
        slicing_specs=tuple(s.to_dict() for s in config.all_specs()),
    )


def _validate_columns(paths: Sequence[str], config: EvalConfig) -> None:
    needed = {config.label.column: "label column"}
    if config.example_weight_column:
        needed[config.example_weight_column] = "example weight column"
    if config.prediction_column:
        needed[config.prediction_column] = "prediction column"
    for spec in config.all_specs():
        needed.update({f: "slice feature" for f in spec.features if f not in needed})
    for path in paths:
        cols = set(column_names(path))
        for col, role in needed.items():
            if col not in cols:
                raise DataError(f"{role} {col!r} is not a column of {path}")


def evaluate(model_dir: str | None, data_paths: Sequence[str], output_dir: str,
             config: EvalConfig, pipeline_options: Sequence[str] | PipelineOptions | None = None,
             *, work_dir: str | None = None) -> EvalResult:
    """Evaluate a SavedModel on CSV/Parquet data, sliced, in one Beam pass.

    Args:
        model_dir: SavedModel directory following the serving contract (raw features
            in, ``probabilities`` out); ``None`` iff ``config.prediction_column`` is set.
        data_paths: ``.csv`` / ``.parquet`` files (one read task per file).
        output_dir: where the ModelEvaluation layout is written (see layout.py).
        config: label, slices, weights, batch size.
        pipeline_options: Beam options as strings (``["--runner=DirectRunner",
            "--direct_num_workers=2"]``) or a ``PipelineOptions``; default DirectRunner.
        work_dir: where the result is staged when there is no ``--temp_location`` (a
            temporary directory by default; it must be shared by the driver and all workers).

    Returns:
        The :class:`EvalResult` read back from ``output_dir``.

    Raises:
        InvalidArgument: model/prediction-column misuse or a bad file type.
        NotFound: a data file is missing.
        DataError: a needed column is missing, bad labels/weights/predictions, or no
            labeled rows at all.
        RunnerUnavailable: the Beam runner cannot start.
    """
    if (model_dir is None) == (config.prediction_column is None):
        raise InvalidArgument("give exactly one of model_dir and config.prediction_column")
    if not data_paths:
        raise InvalidArgument("no evaluation data files given")
    if config.batch_size <= 0:
        raise InvalidArgument("batch_size must be positive")
    paths = [str(p) for p in data_paths]
    _validate_columns(paths, config)
    options = beam_pipeline_options(pipeline_options, DEFAULT_OPTIONS)
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlstore-evaluate-"))
        staged = os.path.join(stack.enter_context(staging_dir(options, work_dir)), "evaluation")
        run_pipeline(options, lambda p: _build(p, paths, model_dir, config, staged), parallelism=len(paths))
        write_evaluation(output_dir, read_staged(staged) or finalize([], 0, config))  # nothing staged: no rows
    result = read_evaluation(output_dir)
    if result.num_examples == 0:
        raise DataError(f"no labeled rows to evaluate ({result.num_missing_label} rows lacked a label)")
    return result


def _build(p: beam.Pipeline, paths: list[str], model_dir: str | None, config: EvalConfig, staged: str) -> None:
    scored = (p
              | "Files" >> beam.Create(paths)
              | "PredictAndSlice" >> beam.ParDo(_PredictAndSlice(model_dir, config)))
    dropped = (scored | "Dropped" >> beam.Filter(lambda kv: kv[0] == _DROPPED)
               | "CountDropped" >> beam.CombinePerKey(sum))
    merged = (scored | "Slices" >> beam.FlatMap(lambda kv: [kv[1]] if kv[0] == _SLICE else [])
              | "MergePerSlice" >> beam.CombinePerKey(_MergeAccumulators())
              | "AsSlices" >> beam.Map(lambda kv: (_SLICE, kv)))
    result = (collect((merged, dropped) | "Both" >> beam.Flatten(), "Collect")
              | "Finalize" >> beam.Map(_finalize_collected, config))
    stage_value(result, staged)


def _finalize_collected(items: list[tuple[str, Any]], config: EvalConfig) -> EvalResult:
    pairs = [value for kind, value in items if kind == _SLICE]
    return finalize(pairs, sum(value for kind, value in items if kind == _DROPPED), config)
