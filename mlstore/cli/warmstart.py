"""``mlstore warm-start``: which model the next training run of a pipeline should start from."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import click

from mlstore import errors
from mlstore.cli._common import Context, stdout, store_options
from mlstore.warmstart.from_store import POLICY_HELP
from mlstore.warmstart.policies import Selection


@click.command("warm-start")
@click.option("--pipeline", required=True, help="Pipeline whose models are candidates.")
@click.option("--policy", default="latest_blessed", show_default=True, help=POLICY_HELP)
@click.option("--as-of", "as_of", default=None, metavar="SPAN",
              help="Only models trained on data no later than this span (YYYYMMDD or YYYY-MM-DD).")
@click.option("--require-compatible", "compatible_with", default=None, metavar="MODEL_REF",
              help="Only models the trainer can warm-start from for this model: same transform spec and raw "
                   "inputs (layer shapes may differ: the trainer remaps vocabularies and skips mismatched layers).")
@click.option("--layers", "layer_patterns", multiple=True, metavar="GLOB",
              help="With --require-compatible: these layers must also have the same shapes "
                   "(e.g. 'deep_*'); repeatable.")
@click.option("--ranked", is_flag=True,
              help="List only skipped models ranked above the choice (fast); default lists every model.")
@store_options
def warm_start(ctx: Context, pipeline: str, policy: str, as_of: str | None, compatible_with: str | None,
               layer_patterns: tuple[str, ...], ranked: bool) -> None:
    """Choose the warm-start base model of PIPELINE and explain the choice.

    Prints the chosen model, why, and each skipped model with its reason. Exit 1 when
    no model qualifies, 2 for an unknown pipeline, model or malformed policy.
    """
    store = ctx.store
    requirement, exclude = None, ()
    if compatible_with:
        requirement = store.requirement_of_model(compatible_with, layer_patterns=layer_patterns or None)
        exclude = (store.artifact(compatible_with).id,)  # the reference is not its own base
    elif layer_patterns:
        raise errors.InvalidArgument("--layers needs --require-compatible MODEL_REF")
    selection = store.select_warm_start(pipeline, policy, as_of=_span(as_of), require_compatible=requirement,
                                        exclude=exclude, explain="ranked" if ranked else "all")
    ctx.emit(_payload(selection), lambda: _print(selection))
    if not selection.ok:
        raise errors.CheckFailed(_summary(selection))


def _span(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        if "-" in text:
            return int(dt.date.fromisoformat(text).strftime("%Y%m%d"))
        return int(text)
    except ValueError:
        raise errors.InvalidArgument(f"--as-of {text!r}: expected a span YYYYMMDD or a date YYYY-MM-DD") from None


def _payload(selection: Selection) -> dict:
    chosen = selection.chosen
    return {
        "policy": selection.policy,
        "ok": selection.ok,
        "chosen": None if chosen is None else {
            "model": chosen.model_id, "span": chosen.span, "blessed": chosen.blessed,
            "create_time": chosen.create_time.isoformat(),
            "metrics": {f"{metric}@{slice_key}": value for (slice_key, metric), value in chosen.metrics.items()},
        },
        "explanation": selection.explanation,
        "skipped": [{"model": s.model_id, "reason": s.reason} for s in selection.skipped],
    }


def _print(selection: Selection) -> None:
    if selection.chosen is not None:
        stdout.print(f"[bold]base model[/bold]: {selection.chosen.model_id}")
    stdout.print(selection.explanation, markup=False)
    if selection.skipped:
        stdout.print(f"skipped ({len(selection.skipped)}):")
    for skipped in selection.skipped:
        stdout.print(f"  {skipped.model_id:18} {skipped.reason}", markup=False)


def _summary(selection: Selection) -> str:
    """One line for stderr: the reasons nothing qualified, grouped, with a few models each."""
    groups: dict[str, list[str]] = {}
    for skipped in selection.skipped:
        groups.setdefault(skipped.reason, []).append(skipped.model_id)
    counts = Counter({reason: len(models) for reason, models in groups.items()})
    parts = [f"{reason} ({', '.join(groups[reason][:3])}{', ...' if n > 3 else ''}: {n})"
             for reason, n in counts.most_common()]
    return f"{selection.explanation}: " + "; ".join(parts) if parts else selection.explanation
