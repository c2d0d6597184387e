"""``mlstore diff A B``: what differs between two runs (executions, or the runs that produced two artifacts)."""

from __future__ import annotations

import click

from mlstore.cli._common import Context, store_options
from mlstore.diff import render_text


@click.command("diff")
@click.argument("a")
@click.argument("b")
@store_options
def diff(ctx: Context, a: str, b: str) -> None:
    """Compare runs A and B: params, code and changed files, environment and packages,
    seeds, inputs and outputs by role and digest, evaluation metrics per slice.

    A and B are execution:N, or artifact:N / sha256:PREFIX (a Model, say), which stand
    for the executions that produced them. Exit 0 whether or not they differ.
    """
    result = ctx.store.diff(a, b)
    ctx.emit(result.to_json(), lambda: click.echo(render_text(result)))
