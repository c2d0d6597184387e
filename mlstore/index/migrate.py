"""Schema migrations of the index, run with alembic from the installed package.

The migration scripts live in the repository's top-level ``alembic/`` folder, which the
wheel ships as the package ``mlstore._migrations`` (see pyproject.toml), so
``mlstore db upgrade`` works from an installed wheel as well as from a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

VERSION_TABLE = "mlstore_alembic_version"


def script_location() -> Path:
    """The folder holding env.py and versions/: ``mlstore/_migrations`` (in a checkout, a
    symlink to the top-level ``alembic/`` folder; in a wheel, a copy of it)."""
    return Path(__file__).resolve().parents[1] / "_migrations"


def _config(engine_connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["connection"] = engine_connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of mlstore."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for a database never migrated)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrates the index tables to ``revision`` (default: the newest).

    On SQLite, after a migration that rewrites most of the rows of a table (its script
    sets ``vacuum_after = True``: 0009 and 0010 store the metrics in a fraction of their
    old size), ``VACUUM`` gives the freed space back to the file system.
    """
    before = current_revision(engine)
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    after = current_revision(engine)
    if before is not None and after != before and _rewrites_rows(before, after):
        vacuum(engine)


def _rewrites_rows(before: str, after: str) -> bool:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    scripts = ScriptDirectory.from_config(config)
    return any(getattr(script.module, "vacuum_after", False)
               for script in scripts.iterate_revisions(after, before) if script.revision != before)


def vacuum(engine: Engine) -> bool:
    """``VACUUM`` of a SQLite index (a no-op elsewhere); True if it ran. Another process
    using the file meanwhile makes it fail: the space then stays free for later writes."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        try:
            connection.exec_driver_sql("VACUUM")
        except OperationalError:  # "database is locked"
            return False
        return True


def downgrade(engine: Engine, revision: str) -> None:
    """Migrates the index tables down to ``revision`` ("base" removes them)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)
