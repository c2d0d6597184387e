"""``mlstore gate``: decide on a candidate model in CI, record the decision, exit 0/1/2."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlstore import errors
from mlstore.cli._common import Context, store_options
from mlstore.gates import render_markdown, render_text, report_to_dict
from mlstore.gates.store_gate import LATEST_BLESSED, GateOutcome, evaluate_gate


def _read_spec(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.InvalidArgument(f"cannot read gate config {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _check_writable(path: str) -> None:
    """Fails before gating (and recording) when the Markdown file cannot be written."""
    parent = Path(path).absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise errors.InvalidArgument(f"--markdown {path}: directory {parent} does not exist or is not writable")


def _write_markdown(path: str, text: str) -> None:
    tmp = Path(f"{path}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a CI step posting the file never reads half of it


def _models_line(outcome: GateOutcome) -> str:
    """Which models were compared, on which evaluations (the report itself names no ids)."""
    def described(model, evaluation) -> str:
        span = f", span {model.span}" if model.span is not None else ""
        return f"{model.node_id} ({model.pipeline or '-'}{span}; evaluation {evaluation.node_id})"

    baseline = ("none (value thresholds only)" if outcome.baseline is None
                else described(outcome.baseline, outcome.baseline_evaluation or outcome.evaluation))
    lines = f"candidate {described(outcome.candidate, outcome.evaluation)}\nbaseline  {baseline}\n"
    if outcome.anomalies is not None:
        span = f", span {outcome.anomalies.span}" if outcome.anomalies.span is not None else ""
        lines += f"data      {outcome.anomalies.node_id} (ExampleAnomalies of the training data{span})\n"
    return lines


def _text(outcome: GateOutcome) -> str:
    """The verdict line, the models compared, the checks table, what was recorded."""
    verdict, table = render_text(outcome.report).split("\n", 1)
    return f"{verdict}\n{_models_line(outcome)}{table}{_recorded_line(outcome)}"


def _recorded_line(outcome: GateOutcome) -> str:
    if outcome.blessing is None:
        return "not recorded (--no-record)"
    return (f"recorded {outcome.blessing.node_id} (ModelBlessing, blessed="
            f"{int(outcome.report.passed)}) by execution:{outcome.execution_id}")


@click.command("gate")
@click.option("--candidate", required=True, metavar="REF", help="The candidate Model (artifact:N or sha256:PREFIX).")
@click.option("--baseline", default=LATEST_BLESSED, show_default=True, metavar="REF|latest-blessed|none",
              help="The model to compare with; 'none' applies value thresholds only.")
@click.option("--config", "config_path", required=True, metavar="FILE", help="The gate spec (YAML).")
@click.option("--markdown", "markdown_path", default=None, metavar="FILE",
              help="Also write the report as Markdown (a pull-request comment) to FILE.")
@click.option("--pipeline", default=None, help="Pipeline of the baseline and the record (default: the candidate's).")
@click.option("--no-record", is_flag=True, help="Decide without recording a ModelBlessing.")
@store_options
def gate(ctx: Context, candidate: str, baseline: str, config_path: str, markdown_path: str | None,
         pipeline: str | None, no_record: bool) -> None:
    """Gate a candidate model on its evaluation: exit 0 pass, 1 fail, 2 error.

    Every decision is recorded as a ModelBlessing (blessed 1/0) linked to the candidate,
    the baseline, the evaluations and the gate spec's digest, unless --no-record.
    """
    spec_text = _read_spec(config_path)
    if markdown_path:
        _check_writable(markdown_path)
    outcome = evaluate_gate(ctx.store, candidate, None if baseline.lower() == "none" else baseline, spec_text,
                            record=not no_record, pipeline=pipeline)
    report = outcome.report
    if markdown_path:
        _write_markdown(markdown_path, render_markdown(report))
    ctx.emit({**report_to_dict(report), **outcome.to_json()},
             lambda: click.echo(_text(outcome)))
    if not report.passed:
        first = report.failures()[0]
        raise errors.CheckFailed(f"gate failed: {len(report.failures())} of {len(report.checks)} checks failed "
                                 f"(first: {first.metric} on {first.slice_key}, {first.kind})")
