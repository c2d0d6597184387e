"""The ``mlstore`` command. Each command group lives in its own module here."""

from __future__ import annotations

import logging
import os
import sys

# Before TensorFlow or Beam load: their import-time INFO chatter is not for CLI users
# (set TF_CPP_MIN_LOG_LEVEL=0 to see it; --debug keeps Python warnings).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click

from mlstore.cli import core
from mlstore.cli import demo as pipeline_commands
from mlstore.cli.dashboard import dashboard
from mlstore.cli.diff import diff
from mlstore.cli.export import export_group, openlineage_group
from mlstore.cli.gate import gate
from mlstore.cli import gc as gc_commands
from mlstore.cli.hub import hub_group
from mlstore.cli.push import push
from mlstore.cli.serve import serve
from mlstore.cli.stats import COMMANDS as data_commands
from mlstore.cli.warmstart import warm_start
from mlstore.cli._common import run_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlstore")
def cli() -> None:
    """mlstore: ML artifacts by content, with lineage in ML Metadata.

    Exit codes: 0 ok, 1 a check failed, 2 usage or input error. Add --debug for tracebacks.
    """


cli.add_command(serve)
cli.add_command(warm_start)
cli.add_command(pipeline_commands.demo_command)
cli.add_command(pipeline_commands.rerun_command)
cli.add_command(dashboard)
cli.add_command(gate)
cli.add_command(push)
cli.add_command(diff)
cli.add_command(export_group)
cli.add_command(openlineage_group)

cli.add_command(hub_group)
for command in data_commands:  # stats show/diff, schema show, anomalies
    cli.add_command(command)

for command in (core.init, core.ls, core.show, core.lineage, core.verify, core.reindex, core.db, core.types_):
    cli.add_command(command)


for command in (gc_commands.gc, gc_commands.pin, gc_commands.unpin, gc_commands.pins):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    if "--debug" not in sys.argv:
        logging.getLogger().setLevel(logging.ERROR)
    sys.exit(run_cli(cli))
