"""What every CLI command shares: store options, output, and the exit-code contract.

Exit codes: 0 ok, 1 a check failed (gate failed, corruption found, rerun differs),
2 usage or input error. Errors print one line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from typing import Any, Callable, Sequence

import click
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.exc import DatabaseError

import mlstore
from mlstore import errors
from mlstore._uri import parse_store_uri
from mlstore.index.repair import is_damage, unreadable_message
from mlstore.store_api import StoreAPI

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def store_options(command: Callable | None = None, *, create: bool = False) -> Callable:
    """Adds ``--store``, ``--server``, ``--token`` and ``--json`` and opens the store lazily.

    Only commands declared with ``create=True`` (init, demo, hub publish) may create a
    directory store that does not exist yet; the others report it instead of leaving
    an empty store behind.
    """
    if command is None:
        return functools.partial(store_options, create=create)

    @click.option("--store", "store_uri", envvar="MLSTORE_URI", default=None, metavar="URI",
                  help="Store URI (directory, mysql://, postgresql://, grpc://). Default $MLSTORE_URI or ./.mlstore.")
    @click.option("--server", default=None, metavar="HOST:PORT", help="Go through an `mlstore serve` server.")
    @click.option("--token", envvar="MLSTORE_TOKEN", default=None, help="Bearer token for --server.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
    @functools.wraps(command)
    def wrapper(store_uri, server, token, as_json, **kwargs):
        if server:
            if token:
                os.environ["MLSTORE_TOKEN"] = token
            store_uri = f"grpc://{server}"
        ctx = Context(store_uri, as_json, create=create)
        return command(ctx, **kwargs)

    return wrapper


class Context:
    """The opened store (on first use) and the output mode of one CLI invocation."""

    def __init__(self, store_uri: str | None, as_json: bool, create: bool = False):
        self.store_uri = store_uri
        self.as_json = as_json
        self.create = create
        self._store = None

    @property
    def store(self) -> StoreAPI:
        """The store ``--store`` / ``--server`` names, opened on first use (local or remote, one interface)."""
        if self._store is None:
            location = parse_store_uri(self.store_uri)
            directory = location.directory  # an attached MLMD file gets its sibling directory on first use
            if directory is not None and not location.attached and not directory.exists() and not self.create:
                raise errors.NotFound(f"no store at {directory}: create one with `mlstore init --store {directory}` "
                                      "or `mlstore demo`")
            self._store = mlstore.open(self.store_uri)
        return self._store

    def open_for_reindex(self):
        """The store opened for ``reindex``: a damaged index file moved aside first, and
        without the MLMD source check (reindex makes its own)."""
        from mlstore.index import repair  # noqa: PLC0415
        from mlstore.store import Store  # noqa: PLC0415

        location = parse_store_uri(self.store_uri)
        if location.server is not None:
            return self.store  # RemoteStore.reindex explains that it runs against the database
        if location.directory is not None:
            if not location.directory.exists():
                return self.store  # NotFound
            index = location.directory / repair.INDEX_FILE
            problem = repair.damage(index)
            if problem:
                moved = repair.move_aside(index)
                stderr.print(f"mlstore: the index was damaged ({problem}); moved it to {moved.name}", markup=False)
        self._store = Store(location, check_source=False, catch_up=False)
        return self._store

    def emit(self, payload: Any, text: Callable[[], None] | str | None = None) -> None:
        """Prints ``payload`` as JSON with --json, else the human form."""
        if self.as_json:
            click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
        elif callable(text):
            text()
        elif text is not None:
            stdout.print(text)


def _natural_width(headers: Sequence[str], rows: Sequence[Sequence[str]], kept: set[str]) -> int:
    return sum(max([len(h)] + [len(str(r[i])) for r in rows]) + 2 for i, h in enumerate(headers) if h in kept)


def copyable_table(headers: Sequence[str], rows: Sequence[Sequence[str]], whole: Sequence[str] = ("id",),
                   optional: Sequence[str] = ()) -> Table:
    """A borderless table whose ``whole`` columns (ids, handles: what a user copies into the
    next command) are never truncated or wrapped, at any terminal width; the other
    columns wrap instead, and ``optional`` ones are left out, first listed first, until
    the table fits."""
    kept = set(headers)
    for header in optional:
        if _natural_width(headers, rows, kept) <= stdout.width:
            break
        kept.discard(header)
    columns = []
    for i, header in enumerate(headers):
        if header not in kept:
            columns.append(None)  # dropped: the table would not fit
            continue
        if header in whole:
            width = max([len(header)] + [len(str(r[i])) for r in rows])
            columns.append(Column(header, no_wrap=True, min_width=width, overflow="ignore"))
        else:
            columns.append(Column(header, overflow="fold"))
    table = Table(*[c for c in columns if c is not None], box=None)
    for row in rows:
        table.add_row(*[str(v) for v, c in zip(row, columns) if c is not None])
    return table


def invocation() -> str:
    """How to type this command again so it works as printed (e.g. without an activated venv).

    ``python -m mlstore`` gives ``<python> -m mlstore``; a script path (``.venv/bin/mlstore``)
    is repeated as typed; a bare ``mlstore`` found on PATH stays ``mlstore``.
    """
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "mlstore"
    if os.path.basename(argv0) in ("__main__.py", "-m", "-c"):
        return f"{sys.executable} -m mlstore"
    if os.sep not in argv0:
        return argv0 if shutil.which(argv0) else f"{sys.executable} -m mlstore"
    return argv0


def fail_check(message: str) -> None:
    """Ends the command with exit code 1 (a check ran and failed)."""
    raise errors.CheckFailed(message)


def run_cli(group: click.Group, argv: list[str] | None = None) -> int:
    """Runs ``group`` and maps every outcome to the exit-code contract."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("MLSTORE_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    try:
        group.main(args=argv, prog_name="mlstore", standalone_mode=False)
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        stderr.print("mlstore: aborted")
        return 2
    except click.ClickException as e:
        stderr.print(f"mlstore: {e.format_message()}", markup=False)
        return 2
    except errors.MlstoreError as e:
        if debug:
            stderr.print_exception()
        stderr.print(f"mlstore: {_one_line(e)}", markup=False)
        return e.exit_code
    except DatabaseError as e:
        if debug:
            stderr.print_exception()
        if is_damage(e):  # a damaged index.sqlite met after the store opened
            stderr.print("mlstore: " + _one_line(unreadable_message(_store_arg(argv), str(e.orig))), markup=False)
        else:  # as any other unexpected error
            stderr.print(f"mlstore: internal error: {type(e).__name__}: {_one_line(e)} (rerun with --debug)",
                         markup=False)
        return 2
    except KeyboardInterrupt:
        stderr.print("mlstore: interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 - the contract: one line, traceback only with --debug
        if debug:
            stderr.print_exception()
        stderr.print(f"mlstore: internal error: {type(e).__name__}: {_one_line(e)} (rerun with --debug)",
                     markup=False)
        return 2


def _store_arg(argv: list[str]) -> str:
    """The store URI a command line names (for messages only)."""
    for i, arg in enumerate(argv):
        if arg == "--store" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--store="):
            return arg[len("--store="):]
    return os.environ.get("MLSTORE_URI") or "./.mlstore"


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())
