"""Alembic environment for mlstore's index tables.

Run through ``mlstore db upgrade`` (see mlstore/index/migrate.py), which passes the
engine's connection in ``config.attributes["connection"]``.
"""

from alembic import context

from mlstore.index.tables import metadata

VERSION_TABLE = "mlstore_alembic_version"


def _include_object(obj, name, type_, reflected, compare_to):
    # MLMD's own tables share the database: only ours are managed here.
    if type_ == "table":
        return name.startswith("mlstore_") and name != VERSION_TABLE
    return True


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
