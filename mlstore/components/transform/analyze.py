"""The analyze phase: one Apache Beam pipeline per analyzer stage, each analyzer of a stage in one read.

Pipeline shape: input paths -> per file: read + parse into batches of rows
(:class:`~mlstore.components.transform.rawio.ParsedBatch`), every analyzer's
accumulator fed with its input values batch by batch, one partial per file ->
the files' partials collected and merged in path order -> staged:

* ``scale_to_z_score``: exact count/mean/population variance per batch, batches
  merged with Chan et al.'s parallel update (numerically stable) in the order of
  their source (file, first row), so the result is the same bits on every runner
  whatever order its workers finish in.
* ``vocabulary``: exact token counts; ranked by count descending, ties broken by
  token ascending (Python string order, i.e. Unicode code points); then
  ``min_frequency`` filter, then ``top_k`` cut.
* ``bucketize``: Beam's ``ApproximateQuantilesCombineFn`` with epsilon 0.005
  (rank error <= 0.5%), fed in file order and merged in path order (the same
  result on every runner); boundaries are the interior quantiles, de-duplicated.

Only the partials move between workers (no per-batch values are shuffled, which a
runner without combiner lifting, like Beam's DaskRunner, would do for a
``CombineGlobally``), and no side inputs (Beam's DaskRunner recomputes the
producing pipeline inside a worker for each). Chained analyzers (e.g. bucketize of a
z-scored column) are a later stage: a second pipeline, given the earlier stage's
results as a plain argument, reads the files again.
The pipeline stages its one result (see :mod:`mlstore.components.beam_options`)
and the driver reads it back, so the code works the same on any runner
(DirectRunner in-process or multi-process, Dask, a portable job service, Flink,
Spark, Dataflow — give a distributed runner a shared ``--temp_location``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.stats import ApproximateQuantilesCombineFn

from mlstore.components.beam_options import pipeline_options as beam_pipeline_options
from mlstore.components.beam_options import collect, read_staged, run_pipeline, stage_value, staging_dir

from mlstore.components import uris
from mlstore.components.transform.rawio import MalformedRow, file_format, read_batches
from mlstore.components.transform.results import AnalyzerResults, result_from_dict
from mlstore.components.transform.spec import TransformSpec
from mlstore.errors import DataError, InvalidArgument, NotFound

ANALYZER_OPS = ("scale_to_z_score", "vocabulary", "bucketize")
QUANTILE_EPSILON = 0.005
MAX_MALFORMED_EXAMPLES = 10
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")


def analyze(spec: TransformSpec, input_paths: Sequence[str], *,
            pipeline_options: PipelineOptions | Sequence[str] | None = None,
            drop_malformed: bool = False, summary_path: str | None = None,
            work_dir: str | None = None, batch_size: int = 4096) -> AnalyzerResults:
    """Run the analyze pipeline over CSV/Parquet files.

    Args:
        spec: the preprocessing spec.
        input_paths: CSV (.csv/.csv.gz) or Parquet files, local paths or URIs the workers
            can read (``file://``, an fsspec URL; :mod:`mlstore.components.uris`); read once.
        pipeline_options: Beam options as a PipelineOptions or a list of
            strings such as ``["--direct_num_workers=2", "--direct_running_mode=multi_processing"]``.
        drop_malformed: drop malformed rows (counted in the result) instead of failing.
        summary_path: if given, the JSON summary (``analyzers.json`` layout) is written here,
            also when the step then fails on malformed rows.
        work_dir: where the pipeline stages its result when there is no ``--temp_location``
            (a temporary directory by default; it must be shared by the driver and all workers).
        batch_size: rows per batch element.

    Returns:
        The analyzer results.

    Raises:
        NotFound: an input file does not exist.
        InvalidArgument: no inputs or an unsupported file type.
        DataError: malformed rows and ``drop_malformed`` is False, or no usable rows.
        RunnerUnavailable: the Beam runner cannot start.
    """
    paths = _check_paths(input_paths)
    options = beam_pipeline_options(pipeline_options)
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlstore-analyze-"))
        staging = stack.enter_context(staging_dir(options, work_dir))
        payload: dict[str, Any] = {}
        for stage, names in enumerate(_stages(spec) or [[]]):
            if any(not _needs(spec, name) <= payload.keys() for name in names):
                break  # no usable rows: no earlier result to chain on
            out_path = os.path.join(staging, f"analyzer_output_{stage}")
            earlier = {k: v for k, v in payload.items() if not k.startswith("__")}
            run_pipeline(options, lambda p, names=names, earlier=earlier, out_path=out_path, first=stage == 0:
                         _build_pipeline(p, spec, paths, names, earlier, first, out_path, batch_size),
                         parallelism=len(paths))
            staged = dict(json.loads(read_staged(out_path, "[]")))  # nothing staged: no files read
            if stage:
                staged = {k: v for k, v in staged.items() if not k.startswith("__")}
            payload.update(staged)
    results = _to_results(spec, payload, drop_malformed)
    if summary_path:
        results.write_json(summary_path)
    _check_results(results, drop_malformed)
    return results


def _check_paths(input_paths: Sequence[str]) -> list[str]:
    if isinstance(input_paths, str) or not input_paths:
        raise InvalidArgument("input_paths must be a non-empty list of file paths")
    for path in input_paths:
        file_format(str(path))
        if not uris.exists(uris.absolute(path)):
            raise NotFound(f"input file {str(path)!r} does not exist")
    return sorted(uris.absolute(p) for p in input_paths)


def _build_pipeline(p: beam.Pipeline, spec: TransformSpec, paths: list[str], names: list[str],
                    earlier: dict[str, Any], with_counts: bool, out_path: str, batch_size: int) -> None:
    """One stage: every file read and reduced to one partial (all the stage's analyzers) where it
    is read, the partials collected and merged in file order, the result staged.

    Combiner lifting by hand: Beam's DaskRunner (and any runner without combiner lifting)
    expands ``CombineGlobally`` into a GroupByKey of every input element, i.e. it would
    shuffle each batch's values; here only one small partial per file moves.
    """
    read = (p | "Paths" >> beam.Create(paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "AnalyzeFiles" >> beam.Map(_file_partial, spec, names, earlier, with_counts, batch_size))
    merged = (collect(read, "Partials")
              | "Merge" >> beam.Map(_merge_partials, spec, names)
              | "ToJson" >> beam.Map(lambda items: json.dumps(sorted(items), sort_keys=True)))
    stage_value(merged, out_path)


def _stages(spec: TransformSpec) -> list[list[str]]:
    """Analyzer features grouped by how many analyzers precede them in their chain."""
    stages: list[list[str]] = []
    for feat in spec.features:
        if feat.op in ANALYZER_OPS:
            stage = _upstream_analyzers(spec, feat.input)
            while len(stages) <= stage:
                stages.append([])
            stages[stage].append(feat.name)
    return stages


def _upstream_analyzers(spec: TransformSpec, name: str) -> int:
    feat = spec.feature(name)
    if feat is None:
        return 0
    return _upstream_analyzers(spec, feat.input) + (feat.op in ANALYZER_OPS)


def _needs(spec: TransformSpec, name: str) -> set[str]:
    """The analyzer features whose results computing ``name``'s input values needs."""
    feat = spec.feature(spec.feature(name).input)
    needed: set[str] = set()
    while feat is not None:
        if feat.op in ANALYZER_OPS:
            needed.add(feat.name)
        feat = spec.feature(feat.input)
    return needed


def _combiner(spec: TransformSpec, name: str) -> beam.CombineFn:
    feat = spec.feature(name)
    if feat.op == "scale_to_z_score":
        return MeanVarCombineFn()
    if feat.op == "vocabulary":
        return TokenCountCombineFn()
    return ApproximateQuantilesCombineFn.create(num_quantiles=feat.num_buckets + 1,
                                                epsilon=QUANTILE_EPSILON, input_batched=True)


def _file_partial(path: str, spec: TransformSpec, names: list[str], earlier: dict[str, Any],
                  with_counts: bool, batch_size: int) -> tuple[str, dict[str, Any]]:
    """``(path, partial)`` of one file: each analyzer's accumulator over its batches in file
    order, plus (``with_counts``) row and malformed-row counts and the first malformed rows."""
    dtypes = {c.name: c.dtype for c in spec.raw_columns}
    defaults = {c.name: c.default for c in spec.raw_columns if c.default is not None}
    fns = {name: _combiner(spec, name) for name in names}
    accs = {name: fn.create_accumulator() for name, fn in fns.items()}
    rows = malformed = 0
    examples: list[MalformedRow] = []
    seen = False
    for batch in read_batches(path, dtypes, defaults, batch_size):
        rows += batch.num_rows
        malformed += batch.num_malformed_rows
        if with_counts and batch.malformed:
            examples = sorted(examples + list(batch.malformed))[:MAX_MALFORMED_EXAMPLES]
        if batch.num_rows == 0:
            continue
        seen = True
        for name in names:
            feat = spec.feature(name)
            values = input_values(spec, feat.input, batch.columns, earlier)
            if feat.op == "scale_to_z_score":
                values = (batch.source, values)
            elif feat.op == "bucketize":
                values = values.tolist()
            accs[name] = fns[name].add_input(accs[name], values)
    return path, {"rows": rows, "malformed": malformed, "examples": examples, "seen": seen, "accs": accs}


def _merge_partials(partials: list[tuple[str, dict[str, Any]]], spec: TransformSpec,
                    names: list[str]) -> list[tuple[str, Any]]:
    """The stage's ``(name, result)`` items from the files' partials, merged in path order (the
    same merges on every runner, whatever order its workers finish in)."""
    ordered = [partial for _, partial in sorted(partials, key=lambda item: item[0])]
    items: list[tuple[str, Any]] = [
        ("__rows__", [sum(p["rows"] for p in ordered), sum(p["malformed"] for p in ordered)]),
        ("__malformed__", [m.__dict__ for m in sorted(m for p in ordered for m in p["examples"])
                           [:MAX_MALFORMED_EXAMPLES]])]
    with_rows = [p for p in ordered if p["seen"]]
    if not with_rows:
        return items  # no usable row: no analyzer result (as a combine without defaults)
    for name in names:
        feat = spec.feature(name)
        fn = _combiner(spec, name)
        result = fn.extract_output(fn.merge_accumulators([p["accs"][name] for p in with_rows]))
        if feat.op == "vocabulary":
            result = rank_vocabulary(result, feat.top_k, feat.min_frequency, feat.num_oov_buckets)
        elif feat.op == "bucketize":
            result = quantile_boundaries(result, feat.num_buckets)
        items.append((name, result))
    return items


def input_values(spec: TransformSpec, name: str, columns: dict[str, np.ndarray],
                 results: dict[str, dict[str, Any]]) -> Any:
    """Values of a raw column or (non-analyzer-output) feature for one batch, in numpy.

    Mirrors the TF graph exactly (float64 arithmetic) so chained analyzers see
    the values the graph will produce. Returns a float64 array, an object array
    of strings, or a list of token lists for ngrams.
    """
    if spec.raw(name) is not None:
        return columns[name]
    feat = spec.feature(name)
    values = input_values(spec, feat.input, columns, results)
    if feat.op == "identity":
        return values
    if feat.op == "scale_to_z_score":
        stats = result_from_dict(results[name])
        return z_score(values, stats.mean, stats.variance)
    if feat.op == "ngrams":
        return [ngrams(text, feat.ngram_range) for text in values]
    raise InvalidArgument(f"feature {name!r} ({feat.op}) cannot feed another analyzer")


def z_score(values: np.ndarray, mean: float, variance: float) -> np.ndarray:
    """(x - mean) / std; when std is 0 the output is x - mean (no division)."""
    std = float(np.sqrt(variance))
    centered = np.asarray(values, dtype=np.float64) - mean
    return centered / std if std > 0 else centered


def ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Split on ASCII whitespace, then n-grams joined by one space, shortest n first."""
    tokens = [t for t in _WHITESPACE.split(text) if t]
    out: list[str] = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


class MeanVarCombineFn(beam.CombineFn):
    """Exact (count, mean, M2) per batch, merged with Chan et al.'s pairwise update in
    source order (inputs are ``(source, values)``), so the result does not depend on how
    a runner groups and orders the batches."""

    def create_accumulator(self) -> list:
        return []

    def add_input(self, acc, keyed_values):
        source, values = keyed_values
        values = np.asarray(values, dtype=np.float64)
        if values.size:
            mean = float(values.mean())
            acc.append((source, (int(values.size), mean, float(np.sum((values - mean) ** 2)))))
        return acc

    def merge_accumulators(self, accs):
        return [item for acc in accs for item in acc]

    def extract_output(self, acc) -> dict[str, Any]:
        count, mean, m2 = (0, 0.0, 0.0)
        for _, batch in sorted(acc, key=lambda item: item[0]):
            count, mean, m2 = _chan_merge((count, mean, m2), batch)
        return {"kind": "z_score", "count": count, "mean": mean,
                "variance": m2 / count if count else 0.0}


def _chan_merge(a, b):
    na, ma, m2a = a
    nb, mb, m2b = b
    if na == 0:
        return b
    if nb == 0:
        return a
    n = na + nb
    delta = mb - ma
    return (n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n)


class TokenCountCombineFn(beam.CombineFn):
    """Exact token counts; accepts string arrays or lists of token lists."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, acc: Counter, values) -> Counter:
        for v in values:
            if isinstance(v, list):
                acc.update(v)
            else:
                acc[v] += 1
        return acc

    def merge_accumulators(self, accs) -> Counter:
        out = Counter()
        for acc in accs:
            out.update(acc)
        return out

    def extract_output(self, acc: Counter) -> dict[str, int]:
        return dict(acc)


def rank_vocabulary(counts: dict[str, int], top_k: int | None, min_frequency: int,
                    num_oov_buckets: int) -> dict[str, Any]:
    """Rank by (count desc, token asc), keep count >= min_frequency, cut to top_k."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ranked = [kv for kv in ranked if kv[1] >= min_frequency][:top_k]
    for token, _ in ranked:
        if "\n" in token or "\r" in token:
            # Vocabulary assets are one token per line.
            raise DataError(f"vocabulary token {token!r} contains a line break")
    return {"kind": "vocabulary", "tokens": [t for t, _ in ranked], "counts": [c for _, c in ranked],
            "num_oov_buckets": num_oov_buckets, "num_distinct": len(counts)}


def quantile_boundaries(quantiles: list[float], num_buckets: int) -> dict[str, Any]:
    """Interior quantiles (drop min and max), de-duplicated and sorted."""
    interior = sorted(set(float(q) for q in quantiles[1:-1])) if quantiles else []
    return {"kind": "quantiles", "boundaries": interior, "num_buckets": num_buckets}


def _to_results(spec: TransformSpec, payload: dict[str, Any], drop_malformed: bool) -> AnalyzerResults:
    num_rows, num_malformed = payload.pop("__rows__", [0, 0])
    examples = tuple(MalformedRow(**m) for m in payload.pop("__malformed__", []))
    return AnalyzerResults(
        spec=spec, num_rows_analyzed=num_rows, num_malformed_rows=num_malformed,
        num_dropped_rows=num_malformed if drop_malformed else 0, malformed_examples=examples,
        features={f.name: result_from_dict(payload[f.name]) for f in spec.features if f.name in payload})


def _check_results(results: AnalyzerResults, drop_malformed: bool) -> None:
    if results.num_malformed_rows and not drop_malformed:
        first = "; ".join(m.describe() for m in results.malformed_examples[:5])
        raise DataError(f"{results.num_malformed_rows} malformed row(s); first: {first}. "
                        "Fix the data or pass drop_malformed=True to drop them.")
    if results.num_rows_analyzed == 0:
        raise DataError("no usable rows to analyze"
                        + (f" ({results.num_dropped_rows} malformed rows dropped)" if drop_malformed else ""))
