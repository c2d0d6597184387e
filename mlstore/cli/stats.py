"""``mlstore stats show|diff``, ``mlstore schema show``, ``mlstore anomalies``: data statistics,
schemas and anomalies in TFDV's formats, mlstore's or TFX's, read through the store's verified reads."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from mlstore import errors
from mlstore.cli._common import Context, copyable_table, stdout, store_options
from mlstore.cli.gate import _read_spec
from mlstore.components.statistics import layout, summary
from mlstore.components.statistics.reads import STATISTICS
from mlstore.components.statistics.curate import log_curated_schema
from mlstore.gates.data_gate import decide_data, parse_data_gate
from mlstore.types import Artifact

DEFAULT_DRIFT_THRESHOLD = summary.DEFAULT_DRIFT_THRESHOLD


def _statistics_at_span(ctx: Context, span: int, pipeline: str | None) -> Artifact:
    found = [a for a in ctx.store.artifacts(type=STATISTICS, pipeline=pipeline) if a.span == span]
    if not found:
        where = f" in pipeline {pipeline!r}" if pipeline else ""
        raise errors.NotFound(f"no ExampleStatistics of span {span}{where}")
    return found[-1]  # the newest


def _num(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _source(artifact: Artifact) -> str:
    span = f", span {artifact.span}" if artifact.span is not None else ""
    return f"{artifact.node_id} ({artifact.type}{span})"


def _described(ctx: Context, ref: str) -> str:
    """``_source`` of an artifact a report names (looked up for the text output only)."""
    return _source(ctx.store.artifact(ref))


@click.group("stats")
def stats_group() -> None:
    """Data statistics per span (TFDV ExampleStatistics): a per-feature table, drift between two."""


@stats_group.command("show")
@click.argument("ref", required=False)
@click.option("--span", type=int, default=None, help="The newest ExampleStatistics of this span instead of REF.")
@click.option("--pipeline", default=None, help="With --span: only this pipeline's statistics.")
@click.option("--split", default=None, help="Only this split (default: every split).")
@store_options
def show(ctx: Context, ref: str | None, span: int | None, pipeline: str | None, split: str | None) -> None:
    """Per-feature statistics of REF (an ExampleStatistics artifact) or of --span S."""
    if (ref is None) == (span is None):
        raise errors.InvalidArgument("give either REF or --span S")
    if ref is None:
        ref = str(_statistics_at_span(ctx, span, pipeline).node_id)
    payload = ctx.store.statistics_summary(ref, split)

    def text() -> None:
        span_text = f", span {payload['span']}" if payload["span"] is not None else ""
        for name, split_payload in payload["splits"].items():
            n = split_payload["num_examples"]
            stdout.print(f"{payload['artifact']} ({STATISTICS}{span_text}) split {name}: {n} examples", markup=False)
            numeric = [r for r in split_payload["features"] if "mean" in r]
            strings = [r for r in split_payload["features"] if "mean" not in r]
            if numeric:
                stdout.print(copyable_table(
                    ("feature", "type", "count", "missing", "mean", "std", "min", "median", "max", "zeros"),
                    [(r["feature"], r["type"], r["count"], _missing(r, n), *(_num(r[k]) for k in
                      ("mean", "std_dev", "min", "median", "max")), r["zeros"]) for r in numeric],
                    whole=("feature",), optional=("zeros", "type")))
            if strings:
                stdout.print(copyable_table(
                    ("feature", "type", "count", "missing", "unique", "avg len", "top values"),
                    [(r["feature"], r["type"], r["count"], _missing(r, n), _num(r.get("unique")),
                      _num(r.get("avg_length")), _top(r)) for r in strings],
                    whole=("feature",)))

    ctx.emit(payload, text)


def _missing(r: dict, num_examples: int) -> str:
    return f"{r['missing']} ({100 * r['missing'] / num_examples:.1f}%)" if num_examples else str(r["missing"])


def _top(r: dict) -> str:
    return ", ".join(f"{t['value']}:{t['count']}" for t in r.get("top_values", [])) or "-"


@stats_group.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--split", default=None, help="Only this split (default: every split both have).")
@click.option("--threshold", type=float, default=DEFAULT_DRIFT_THRESHOLD, show_default=True,
              help="Threshold of features the schema gives none.")
@click.option("--schema", "schema_ref", default=None, metavar="REF",
              help="A Schema artifact whose drift_comparator thresholds apply per feature.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when a feature is over its threshold.")
@store_options
def diff(ctx: Context, a: str, b: str, split: str | None, threshold: float, schema_ref: str | None,
         fail_on_drift: bool) -> None:
    """Drift of B from A per feature: L-infinity (strings), Jensen-Shannon divergence (numbers)."""
    payload = ctx.store.statistics_drift(a, b, split=split, threshold=threshold, schema=schema_ref)
    rows = payload["features"]
    over = [r for r in rows if r["over_threshold"]]

    def text() -> None:
        stdout.print(f"drift of {_described(ctx, payload['b'])} from {_described(ctx, payload['a'])}: "
                     f"{len(over)} of {len(rows)} features over threshold", markup=False)
        stdout.print(copyable_table(
            ("split", "feature", "metric", "distance", "threshold", "drift"),
            [(r["split"], r["feature"], r["metric"], f"{r['distance']:.4f}", f"{r['threshold']:g}",
              "DRIFT" if r["over_threshold"] else "") for r in rows], whole=("feature",)))

    ctx.emit(payload, text)
    if fail_on_drift and over:
        worst = over[0]
        raise errors.CheckFailed(f"drift over threshold in {len(over)} feature(s) (first: {worst['split']}/"
                                 f"{worst['feature']} {worst['metric']} {worst['distance']:.4f} > {worst['threshold']:g})")


@click.group("schema")
def schema_group() -> None:
    """Data schemas (TFDV Schema artifacts)."""


@schema_group.command("show")
@click.argument("ref")
@store_options
def schema_show(ctx: Context, ref: str) -> None:
    """Features of a Schema artifact: type, presence, values, domain, drift/skew thresholds."""
    payload = ctx.store.schema_summary(ref)
    rows = payload["features"]

    def text() -> None:
        stdout.print(f"{_described(ctx, payload['artifact'])}: {len(rows)} features", markup=False)
        stdout.print(copyable_table(
            ("feature", "type", "min_fraction", "min_count", "values", "domain", "drift", "skew"),
            [(r["feature"], r["type"], _num(r["min_fraction"]), _num(r["min_count"]), _values(r),
              "-" if r["domain"] is None else f"{len(r['domain'])} values", _num(r["drift_threshold"]),
              _num(r["skew_threshold"])) for r in rows], whole=("feature",)))
        for r in rows:
            if r["domain"] is not None:
                stdout.print(f"domain of {r['feature']}: {', '.join(r['domain'])}", markup=False)

    ctx.emit(payload, text)


@schema_group.command("log")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "base_ref", required=True, metavar="REF", help="The Schema artifact the file was edited from.")
@click.option("--pipeline", default=None, help="Pipeline to record in (default: the base schema's).")
@store_options
def schema_log(ctx: Context, path: Path, base_ref: str, pipeline: str | None) -> None:
    """Log an edited schema.pbtxt as a new Schema version, with lineage to the one it was edited from."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InvalidArgument(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    schema, execution_id = log_curated_schema(ctx.store, text, base_ref, source=path.name, pipeline=pipeline)
    ctx.emit({"artifact": str(schema.node_id), "execution": f"execution:{execution_id}", "from": base_ref},
             f"logged {_source(schema)} edited from {base_ref} by execution:{execution_id}")


def _values(r: dict) -> str:
    if r["shape"] is not None:
        return "shape [" + ", ".join(map(str, r["shape"])) + "]"
    if r["value_count"] is not None:
        return f"{r['value_count'][0]}..{r['value_count'][1]}"
    return "-"


@click.command("anomalies")
@click.argument("ref")
@click.option("--fail-on-anomalies", is_flag=True, help="Exit 1 when any split has an anomaly.")
@click.option("--gate", "gate_path", default=None, metavar="FILE",
              help="A data gate spec (YAML: no_anomalies, max_drift, features): exit 1 when it fails.")
@store_options
def anomalies(ctx: Context, ref: str, fail_on_anomalies: bool, gate_path: str | None) -> None:
    """Anomalies per split of an ExampleAnomalies artifact (schema, domain, presence, drift, skew)."""
    spec = parse_data_gate(_read_spec(gate_path)) if gate_path else None
    payload = ctx.store.anomalies_summary(ref)
    splits, total = payload["splits"], payload["anomalous_features"]
    # The gate decides on the anomaly protos themselves, read from the (shared) artifact root.
    report = decide_data(spec, layout.read_anomalies(ctx.store.local_path(payload["artifact"]))) if spec else None
    if report is not None:
        payload["gate"] = {"passed": report.passed, "checks": [asdict(c) for c in report.checks]}

    def text() -> None:
        source = _described(ctx, payload["artifact"])
        for name, rows in splits.items():
            stdout.print(f"{source} split {name}: {len(rows)} anomalous feature(s)" if rows else
                         f"{source} split {name}: no anomalies", markup=False)
            for r in rows:
                stdout.print(f"  {r['feature']}: {r['short_description']}\n    {r['description']}", markup=False)
        if report is not None:
            failed = report.failures()
            stdout.print(f"data gate {'passed' if report.passed else 'FAILED'}: {len(failed)} of "
                         f"{len(report.checks)} checks failed", markup=False)
            for c in failed:
                stdout.print(f"  {c.split}/{c.feature} {c.kind}: {c.detail}", markup=False)

    ctx.emit(payload, text)
    if report is not None and not report.passed:
        first = report.failures()[0]
        raise errors.CheckFailed(f"data gate failed: {len(report.failures())} of {len(report.checks)} checks failed "
                                 f"(first: {first.split}/{first.feature} {first.kind}: {first.detail})")
    if fail_on_anomalies and total:
        first_split = next(s for s, rows in splits.items() if rows)
        raise errors.CheckFailed(f"{total} anomalous feature(s) (first: {first_split}/{splits[first_split][0]['feature']}"
                                 f": {splits[first_split][0]['short_description']})")


COMMANDS = (stats_group, schema_group, anomalies)
