"""``mlstore push``: install a blessed model as the next TF Serving version, recorded."""

from __future__ import annotations

import click

from mlstore.cli._common import Context, store_options


@click.command("push")
@click.argument("model")
@click.option("--to", "base", required=True, metavar="BASE",
              help="TF Serving's model base path (with --server: a path on the server, under its --push-root).")
@click.option("--name", required=True, help="The model's directory under BASE: versions go to BASE/NAME/<n>/.")
@click.option("--force", is_flag=True, help="Push even if no gate blessed the model (recorded as forced).")
@click.option("--pipeline", default=None, help="Record the push in this pipeline (default: the model's).")
@store_options
def push(ctx: Context, model: str, base: str, name: str, force: bool, pipeline: str | None) -> None:
    """Push MODEL (artifact:N or sha256:PREFIX) to BASE/NAME/<next version>/.

    Refuses a model whose newest gate decision did not bless it (exit 2) unless --force.
    The copy is staged and renamed into place; a Pusher execution records a PushedModel
    holding the pushed bytes, linked to the model and its blessing.
    """
    result = ctx.store.push(model, base, name, force=force, pipeline=pipeline)
    forced = " (forced: not blessed)" if result.forced else ""
    ctx.emit(result.to_json(),
             f"pushed {result.model.node_id} as version {result.version} to {result.destination}{forced}\n"
             f"recorded {result.pushed_model.node_id} (PushedModel {result.pushed_model.digest}) "
             f"by execution:{result.execution_id}")
